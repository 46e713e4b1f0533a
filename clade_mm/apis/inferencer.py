"""Turn label maps into images with a trained model: ``SemanticSynthesizer(config, checkpoint)``."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader
from PIL import Image

from ..datasets.image_files import read_image, read_map, read_stored_map
from ..datasets.metainfo import dataset_palette
from ..datasets.transforms import (LoadSemanticSample, published_position_map, resize_map,
                                   resize_position)
from ..datasets.validation import (DatasetError, _name, check_label_range, check_same_size,
                                   label_ids)
from ..layers.layout import LayoutInput, SemanticLayout, inputs_read_by, missing_inputs
from .precision import GeneratorInference

MAP_SUFFIXES = ('.png', '.bmp', '.tif', '.tiff')
LabelInput = Union[str, np.ndarray, Sequence[Union[str, np.ndarray]]]
# How a label map of another aspect ratio than the model's is fitted to it.
ASPECT_MODES = ('refuse', 'crop', 'stretch')


def same_aspect(size: Tuple[int, int], target: Tuple[int, int]) -> bool:
    """Whether an ``(h, w)`` map resized to ``target`` keeps its shape: within one pixel of the
    target along its longer side."""
    (h, w), (height, width) = size, target
    return abs(h * width - w * height) < max(h, w)


def centre_crop_box(size: Tuple[int, int], target: Tuple[int, int]) -> Tuple[slice, slice]:
    """The rows and columns of the largest centred part of an ``(h, w)`` map with the aspect
    ratio of ``target``."""
    (h, w), (height, width) = size, target
    if w * height > h * width:  # wider than the target: keep the middle columns
        new_w = max(1, round(h * width / height))
        return slice(0, h), slice((w - new_w) // 2, (w - new_w) // 2 + new_w)
    new_h = max(1, round(w * height / width))
    return slice((h - new_h) // 2, (h - new_h) // 2 + new_h), slice(0, w)


def _dataset_configs(cfg: Config) -> List[dict]:
    """The dataset settings of the config's test dataloader, then of its training one."""
    return [(cfg.get(f'{split}_dataloader') or {}).get('dataset', {})
            for split in ('test', 'train')]


def _loader_config(cfg: Config) -> dict:
    """The LoadSemanticSample settings (class count, palette, id remapping, positional map)
    of the config's test pipeline, else of its training pipeline."""
    loader = next((dict(t) for dataset in _dataset_configs(cfg)
                   for t in dataset.get('pipeline', [])
                   if t.get('type') == 'LoadSemanticSample'), None)
    if loader is None:
        loader = dict(num_classes=cfg.model.generator.num_classes)
    loader.pop('type', None)
    return loader


class SemanticSynthesizer:
    """Synthesise images from label maps with a trained clade-mm model.

    Label and instance maps are read and checked as the dataset reads them (whole files only,
    class ids, colour masks through the palette, palette PNGs against the dataset's colours,
    remapping, instance format, the pixel limit) and are resized with nearest neighbour, as the
    data pipeline does, to the config's ``image_size``. A map of another aspect ratio is
    refused, unless ``aspect`` says how to fit it.

    Args:
        config: the model's config file (or a loaded ``Config``).
        checkpoint: a checkpoint written by training, or ``None`` for the initial weights.
        device: where to run.
        use_ema: take the EMA generator when the checkpoint has one.
        precision: ``'auto'`` (bfloat16 where this CPU computes it natively and it is exact
            enough for this model, else float32), ``'float32'`` or ``'bfloat16'``; see
            :mod:`clade_mm.apis.precision`.
        aspect: a label map whose aspect ratio differs from ``image_size``'s is ``'refuse'``-d
            (naming both shapes), ``'crop'``-ped to its centred part of the model's ratio, or
            ``'stretch'``-ed (the published test loaders of ADE20k and COCO-Stuff do this).
        max_pixels: files with more pixels are refused by name (default: the config's
            ``LoadSemanticSample(max_pixels=...)``, else 8192 x 8192).

    Attributes:
        generator: the float32 generator in eval mode; ``uses_ema`` says whether it is the EMA
            copy; ``inference`` runs it (:class:`~clade_mm.apis.precision.GeneratorInference`,
            whose ``precision`` says which is in use).

    Example::

        synth = SemanticSynthesizer('configs/clade/clade_synthetic.py', 'work_dirs/.../iter_1500.pth')
        images = synth('labels/00001.png')          # a list of (H, W, 3) uint8 RGB arrays
        styled = synth(label_array, style='photo.jpg', seed=1)
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 device: str = 'cpu', use_ema: bool = True, precision: str = 'auto',
                 aspect: str = 'refuse', max_pixels: Optional[int] = None):
        if aspect not in ASPECT_MODES:
            raise ValueError(f'aspect={aspect!r}: one of {ASPECT_MODES}')
        self.aspect = aspect
        self.cfg = Config.fromfile(config) if isinstance(config, str) else config
        from ..models import build_generator  # registers the generators
        from ..models.generator_weights import generator_state_dict

        # The generator alone: the losses (and the weight files they read) are for training.
        generator = build_generator(self.cfg, device='cpu')
        self.uses_ema = False
        if checkpoint is not None:
            if not osp.isfile(checkpoint):
                raise FileNotFoundError(
                    f'checkpoint {checkpoint} not found: pass a file that training wrote '
                    '(work_dirs/<config>/iter_<N>.pth; work_dirs/<config>/last_checkpoint '
                    'names the newest)')
            state = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
            state = state.get('state_dict', state)
            weights, self.uses_ema = generator_state_dict(state, generator, use_ema, checkpoint)
            generator.load_state_dict(weights, strict=True)
        self.generator = generator.to(device).eval()
        self.inference = GeneratorInference(self.generator, precision)
        self.device = torch.device(device)
        loader = _loader_config(self.cfg)
        if max_pixels is not None:
            loader['max_pixels'] = max_pixels
        self.loader = LoadSemanticSample(**loader)
        self.class_palette = dataset_palette(self.cfg)
        self.image_size = tuple(self.cfg.get('image_size', ()))

    # --- inputs -------------------------------------------------------------------------
    def read_labels(self, source: Union[str, np.ndarray], name: str = '<array>') -> np.ndarray:
        """One label map as checked ``(H, W)`` ids, from a file or an array."""
        if isinstance(source, str):
            stored = read_stored_map(source, 'label map', self.loader.max_pixels)
            return self.loader.label_map(stored.array, source, stored.palette,
                                         self.class_palette)
        return self.loader.label_map(np.asarray(source), name)

    def instance_path(self, folder: str, label_name: str) -> str:
        """The instance map in ``folder`` that pairs with the label map ``label_name``, named
        as the config's dataset pairs them (Cityscapes: ``X_gtFine_labelIds.png`` ->
        ``X_gtFine_instanceIds.png``; same name elsewhere)."""
        dataset = next((d for d in _dataset_configs(self.cfg) if d), {})
        label_suffix = dataset.get('label_suffix', '.png')
        instance_suffix = dataset.get('instance_suffix', '.png')
        if label_name.endswith(label_suffix):
            label_name = label_name[:-len(label_suffix)] + instance_suffix
        path = osp.join(folder, label_name)
        if not osp.isfile(path):
            raise FileNotFoundError(f'no instance map {path} (--instances names the folder of '
                                    'the instance maps, named as in the dataset)')
        return path

    def read_instances(self, source: Union[str, np.ndarray],
                       name: str = '<array>') -> np.ndarray:
        """One instance map (8/16-bit ids or a COCO panoptic RGB PNG) as ``(H, W)`` int64
        instance ids as stored (a panoptic PNG's decoded ids), checked as the dataset reads it,
        from a file or an array: the ids ``noise=`` rows and ``resample=`` name."""
        if isinstance(source, str):
            name = source
            source = read_map(source, 'instance map', self.loader.max_pixels)
        numbers, ids = self.loader.instance_numbers(np.asarray(source), name)
        return ids.astype(np.int64)[numbers]

    @staticmethod
    def list_inputs(source: LabelInput) -> List[Tuple[str, Union[str, np.ndarray]]]:
        """``(name, source)`` pairs: a folder's label maps (sorted), files, or arrays."""
        if isinstance(source, str) and osp.isdir(source):
            names = sorted(n for n in os.listdir(source) if n.lower().endswith(MAP_SUFFIXES))
            if not names:
                raise FileNotFoundError(f'no label maps ({", ".join(MAP_SUFFIXES)}) in {source}')
            return [(n, osp.join(source, n)) for n in names]
        if isinstance(source, (str, np.ndarray)):
            source = [source]
        return [(osp.basename(s) if isinstance(s, str) else f'array {i}', s)
                for i, s in enumerate(source)]

    def fit(self, ids: np.ndarray, name: str = '<array>') -> np.ndarray:
        """An ``(H, W)`` map of the model's aspect ratio (``image_size``): itself, its centred
        crop (``aspect='crop'``) or, for ``'stretch'``, itself to be squashed by resizing;
        else a :class:`DatasetError` naming both shapes and the options."""
        size = ids.shape[:2]
        if not self.image_size or same_aspect(size, self.image_size):
            return ids
        if self.aspect == 'crop':
            rows, cols = centre_crop_box(size, self.image_size)
            return ids[rows, cols]
        if self.aspect == 'stretch':
            return ids
        height, width = self.image_size
        raise DatasetError(
            f'label map {_name(name)} is {size[1]}x{size[0]} (width x height) but the model '
            f'makes {width}x{height} images, another aspect ratio: resizing would squash it. '
            'Crop it to the centred part of the model\'s ratio with --aspect crop '
            "(SemanticSynthesizer(aspect='crop')), stretch it as the published test loaders "
            'do with --aspect stretch, or crop or pad it yourself.', 'size')

    def model_input(self, ids: np.ndarray) -> torch.Tensor:
        """An ``(H, W)`` id map as the ``(1, h, w)`` int64 tensor the generator takes: on its
        device, resized with nearest neighbour to the config's ``image_size``."""
        if self.image_size:
            ids = resize_map(ids, self.image_size)
        return torch.from_numpy(ids.astype(np.int64))[None].to(self.device)

    # --- synthesis ----------------------------------------------------------------------
    def _input_specs(self) -> Dict[str, LayoutInput]:
        """The generator's layout inputs by every keyword they may be given by."""
        inputs = self.generator.layout_inputs()
        specs = {spec.name: spec for spec in inputs}
        for spec in inputs:  # a name wins over another input's alias
            for keyword in spec.aliases:
                specs.setdefault(keyword, spec)
        return specs

    def _given_input(self, spec: LayoutInput, keyword: str, value) -> torch.Tensor:
        """A caller's value of a non-spatial input as a batch of one (float32, or int64 for
        integer inputs such as SEAN's ``noise_seed``)."""
        tensor = torch.as_tensor(np.asarray(value, dtype=np.int64 if spec.integer else
                                            np.float32))
        if spec.size is not None and tensor.dim() == len(spec.size):
            tensor = tensor[None]  # one sample given without the batch axis
        fits = spec.size is None or (tensor.dim() == len(spec.size) + 1 and all(
            want is None or got == want for got, want in zip(tensor.shape[1:], spec.size)))
        if tensor.dim() < 1 or tensor.shape[0] != 1 or not fits:
            raise ValueError(f'{keyword} has shape {tuple(np.shape(value))}: expected '
                             f'{spec.shape} with N = 1 (or without the batch axis): '
                             'synthesize takes one label map at a time')
        return tensor

    def _given_map(self, spec: LayoutInput, keyword: str, value, map_size: Tuple[int, int],
                   label_t: torch.Tensor) -> torch.Tensor:
        """A caller's value of a spatial input that may be given per sample
        (``vector_per_sample``: OASIS's ``z``) as the ``(1, C, h, w)`` map of the model's
        input ``label_t``: a ``(C,)`` or ``(1, C)`` vector expanded over it, or a ``(C, H, W)``
        or ``(1, C, H, W)`` map of the label map's size (``map_size``, fitted and resized as
        the label map is) or of the model's input size."""
        tensor = torch.from_numpy(np.array(value, dtype=np.float32))
        size = tuple(label_t.shape[-2:])
        channels = spec.channels
        if tensor.dim() in (1, 3):
            tensor = tensor[None]
        if tensor.dim() == 2 and tensor.shape == (1, channels):
            return tensor.view(1, channels, 1, 1).expand(1, channels, *size).contiguous()
        if tensor.dim() == 4 and tensor.shape[:2] == (1, channels):
            if tuple(tensor.shape[-2:]) == size:
                return tensor
            if tuple(tensor.shape[-2:]) == tuple(map_size):
                rows, cols = self._crop_box(map_size)
                return F.interpolate(tensor[..., rows, cols], size=size, mode='nearest')
        raise ValueError(
            f'{keyword} has shape {tuple(np.shape(value))}: expected ({channels},) (one vector '
            f'for the whole image, as the published code draws it) or ({channels}, H, W) with '
            f'H x W the label map\'s {map_size[0]}x{map_size[1]}'
            + (f' (or the model\'s {size[0]}x{size[1]})' if size != tuple(map_size) else ''))

    @staticmethod
    def draws(spec: LayoutInput) -> bool:
        """Whether :meth:`synthesize` draws the random input ``spec`` itself, from its seed
        (one of a declared size, or a map the input samples); else the generator draws it."""
        return spec.random and (spec.size is not None or (spec.spatial and
                                                          spec.sample is not None))

    @classmethod
    def _draw(cls, spec: LayoutInput, rows: int, rng: torch.Generator,
              labels: torch.Tensor) -> Optional[torch.Tensor]:
        """A seeded draw of a random input (:meth:`draws`): N(0, 1) (uniform integers for an
        integer input: a seed) of the declared size (``rows`` for the per-instance axis), a map
        as the input samples it for ``labels``; ``None`` for one the generator draws itself."""
        if not cls.draws(spec):
            return None
        if spec.spatial and spec.sample is not None:
            return spec.sample(labels, rng)
        shape = (1, ) + tuple(rows if d is None else d for d in spec.size)
        if spec.integer:  # a seed
            return torch.randint(0, 2 ** 31 - 1, shape, generator=rng)
        return torch.randn(shape, generator=rng)

    def _reference_inputs(self, encoder, reference, reference_labels, reference_instances,
                          target: SemanticLayout, sample: bool,
                          rng: torch.Generator) -> Dict[str, torch.Tensor]:
        """What the style encoder gives the generator for a reference photo (and, for an
        encoder that needs them, its label and instance maps)."""
        photo = read_image(reference, self.loader.max_pixels)[..., ::-1] \
            if isinstance(reference, str) else np.asarray(reference)
        name = reference if isinstance(reference, str) else 'the reference photo'
        layout = None
        if encoder.needs_reference_labels:
            if reference_labels is None:
                raise ValueError(
                    'this model copies the look of each region from a reference photo by '
                    'class: give the reference photo\'s label map too (reference_labels=... or '
                    'style_labels=...; --reference-labels MAP or --style-labels MAP on the '
                    'command line)')
            ref_name = reference_labels if isinstance(reference_labels, str) else \
                'the reference label map'
            ref_labels = self.read_labels(reference_labels, ref_name)
            check_label_range(ref_labels, self.generator.num_classes, ref_name)
            # pixel-aligned, or a whole multiple of the map where the dataset ships its maps
            # smaller (CelebAMask-HQ's 1024 photos, 512 maps): then resized to the map
            check_same_size(photo, ref_labels, name, ref_name, 'label map',
                            self.loader.map_scales)
            if photo.shape[:2] != ref_labels.shape[:2]:
                photo = np.asarray(Image.fromarray(np.ascontiguousarray(photo).astype(
                    np.uint8)).resize(ref_labels.shape[1::-1], Image.BICUBIC))
            if reference_instances is None:  # one instance per class of the reference
                ref_instances = self.loader.instance_map(ref_labels, ref_name)
            else:
                ref_instances = self.read_instances(reference_instances, 'reference instances')
                if ref_instances.shape[:2] != ref_labels.shape[:2]:
                    raise DatasetError('the reference instance map and label map differ in '
                                       'size: they must be pixel-aligned.', 'size')
            photo = photo[self._crop_box(ref_labels.shape[:2])]
            layout = SemanticLayout(self.model_input(self.fit(ref_labels, ref_name)),
                                    instances=self.model_input(self.fit(ref_instances, ref_name)))
        image = torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1).float()[None]
        image = (image / 127.5 - 1).to(self.device)
        size = tuple(layout.labels.shape[-2:]) if layout is not None else None
        if size is not None and tuple(image.shape[-2:]) != size:
            image = F.interpolate(image, size=size, mode='bilinear', align_corners=False)
        encoded, _ = encoder.encode(image, layout, sample=sample, generator=rng, target=target)
        return encoded

    @torch.no_grad()
    def encode_styles(self, photo: Union[str, np.ndarray],
                      labels: Union[str, np.ndarray]) -> np.ndarray:
        """SEAN's per-class style codes of a photo (path or RGB array) and its label map
        (path or ids), pixel-aligned: a float32 ``(classes, style_channels)`` array, row ``j``
        the code of class ``j``, zero for a class without pixels in the photo (as the
        published SEAN leaves it). Give them back, stored, mixed or interpolated, as
        ``synthesize(labels, style_codes=...)``."""
        encoder = getattr(self.generator, 'style_encoder', None)
        if not getattr(encoder, 'per_class_codes', False):
            raise ValueError('encode_styles needs a model whose style encoder gives per-class '
                             'style codes (SEAN: a configs/sean/ config)')
        if labels is None:
            raise ValueError('encode_styles needs the photo\'s label map too (labels=...)')
        encoded = self._reference_inputs(encoder, photo, labels, None, None, False,
                                         torch.Generator().manual_seed(0))
        return encoded[encoder.codes_input.name][0].float().cpu().numpy()

    def _crop_box(self, size: Tuple[int, int]) -> Tuple[slice, slice]:
        """The part of an ``(h, w)`` map that :meth:`fit` keeps."""
        if self.image_size and self.aspect == 'crop' and not same_aspect(size, self.image_size):
            return centre_crop_box(size, self.image_size)
        return slice(None), slice(None)

    @torch.no_grad()
    def synthesize(self, labels: np.ndarray, instances: Optional[np.ndarray] = None,
                   style: Union[None, str, np.ndarray] = None, seed: Optional[int] = None,
                   num_samples: int = 1, name: str = 'array',
                   reference: Union[None, str, np.ndarray] = None,
                   reference_labels: Union[None, str, np.ndarray] = None,
                   reference_instances: Union[None, str, np.ndarray] = None,
                   resample: Optional[Sequence[int]] = None, return_inputs: bool = False,
                   as_float: bool = False, style_labels: Union[None, str, np.ndarray] = None,
                   resample_classes: Optional[Sequence[int]] = None, **inputs):
        """Images for one label map of class ids (as :meth:`read_labels` gives it; ``name``
        names it in errors): ``num_samples`` (H, W, 3) uint8 RGB arrays.

        Args:
            instances: the instance map (ids as stored), for models that read one; a model
                whose data config makes instances from the labels gets those when not given.
            style / reference: a reference photo (path or RGB array) whose look the model's
                style encoder copies (``style`` is the older name). An encoder that copies per
                instance (INADE's) also needs ``reference_labels`` (and takes
                ``reference_instances``; default: one instance per class); one that copies
                per class (SEAN's) needs ``reference_labels`` (``style_labels`` is the same
                argument): every class takes the look of its region in the photo, and a class
                without pixels there gets the zero style code, as in the published SEAN.
            style_codes: (SEAN) per-class codes ``(classes, style_channels)`` as
                :meth:`encode_styles` returns them, instead of a style photo.
            seed: of every random draw (the code ``z``, per-instance noise, sampling).
            num_samples: images per label map; the random inputs not given are drawn anew for
                each (with ``resample``, only the listed instances' rows).
            resample: instance ids (as in ``instances``) whose per-instance noise is drawn
                anew; the other instances keep theirs (the given one, else the first draw).
            resample_classes: class ids whose pixels' noise map (OASIS's 3D noise) is drawn
                anew; the other pixels keep theirs (the given ``z``, else the first draw).
            **inputs: the generator's layout inputs by name or alias, one sample each, with or
                without the batch axis: INADE's ``noise`` ``(K, 2, noise_nc)`` (row ``k`` is
                instance id ``k`` of ``instances``) and ``noise_ins`` ``(z_dim,)``, SPADE's
                ``z``; OASIS's ``z`` as ``(z_dim,)`` (expanded over the map, as the published
                code does) or a 3D noise map ``(z_dim, H, W)`` of the label map's size.
            as_float: return the generator's float32 (H, W, 3) RGB output in [-1, 1] as it
                is, instead of 8-bit images (for comparisons with other code).
            return_inputs: also return, per image, the random inputs it was made with, by
                layout name, per-instance rows by instance id (ids absent from the map: zero
                rows): given back as ``**inputs`` they make the same image.

        Returns:
            the images, or ``(images, inputs)`` with ``return_inputs``.
        """
        if style is not None and reference is not None:
            raise ValueError('give the reference photo once: style= and reference= are the '
                             'same argument')
        reference = reference if reference is not None else style
        if style_labels is not None and reference_labels is not None:
            raise ValueError('give the reference photo\'s label map once: style_labels= and '
                             'reference_labels= are the same argument')
        reference_labels = reference_labels if reference_labels is not None else style_labels
        specs = self._input_specs()
        unknown = sorted(k for k in inputs if k not in specs)
        if unknown:
            raise TypeError(f'synthesize() got inputs this model does not read: '
                            f'{", ".join(unknown)}; it reads '
                            f'{", ".join(sorted(specs)) or "none"} besides the label map')
        labels = label_ids(np.asarray(labels), name)
        check_label_range(labels, self.generator.num_classes, name)
        if instances is None and self.loader.instances_from_labels:
            instances = labels
        # what a reference photo gives through the encoder (style codes...) is not missing
        supplied = dict(instances=instances, **{specs[k].name: v for k, v in inputs.items()})
        missing = [spec for spec in missing_inputs(self.generator, supplied)
                   if reference is None or spec.name == 'instances']
        if missing:
            raise ValueError('; '.join(f'this model reads {spec.name} ({spec.shape}): '
                                       f'{spec.how_to_give}' for spec in missing))
        encoder = getattr(self.generator, 'style_encoder', None)
        if reference is not None and encoder is None:
            raise ValueError('a reference (style) photo needs a generator with a style encoder '
                             '(generator.style_encoder in the config)')
        random_specs = [spec for spec in self.generator.layout_inputs() if spec.random]
        if num_samples > 1 and not random_specs:
            raise ValueError('this generator is deterministic (no random input): one image '
                             'per label map; use a config with a style encoder for variety')
        ids = None
        if instances is not None:
            instances, ids = self.loader.instance_numbers(np.asarray(instances),
                                                          f'instances of {name}')
        if instances is not None and instances.shape[:2] != labels.shape[:2]:
            raise DatasetError(
                f'the instance map is {instances.shape[1]}x{instances.shape[0]} but the label '
                f'map {labels.shape[1]}x{labels.shape[0]}: they must be pixel-aligned.', 'size')
        per_instance = [spec for spec in random_specs if spec.per_instance]
        if resample is not None:
            if reference is not None:
                raise ValueError('resample= and reference= both set the instances\' noise: '
                                 'copy the reference, then re-draw with return_inputs= and '
                                 'resample= in a second call')
            if not per_instance or ids is None:
                raise ValueError('resample= re-draws per-instance noise, which this model does '
                                 'not read')
            unknown_ids = sorted(set(int(i) for i in resample) - set(ids.tolist()))
            if unknown_ids:
                raise ValueError(f'resample: instance id(s) {unknown_ids} are not in the '
                                 f'instance map of {name} (its ids: '
                                 f'{", ".join(map(str, ids.tolist()))})')
        noise_maps = [spec for spec in random_specs if spec.spatial]
        if resample_classes is not None:
            if not noise_maps:
                raise ValueError('resample_classes= re-draws the noise of chosen classes\' '
                                 'pixels (OASIS\'s 3D noise), which this model does not read')
            present = np.unique(labels).tolist()
            absent = sorted(set(int(c) for c in resample_classes) - set(present))
            if absent:
                raise ValueError(f'resample_classes: class id(s) {absent} are not in the label '
                                 f'map {name} (its classes: {", ".join(map(str, present))})')
        map_size = labels.shape[:2]
        labels = self.fit(labels, name)
        if instances is not None:  # pixel-aligned, so fitted (cropped) as the labels were
            instances = self.fit(instances, name)
        label_t = self.model_input(labels)
        named = {}
        if instances is not None:
            named['instances'] = self.model_input(instances)
        if self.loader.position_map == 'published':  # at the label map's own resolution
            position = published_position_map(labels)
            if self.image_size:
                position = resize_position(position, self.image_size)
            named['position'] = torch.from_numpy(position).permute(2, 0, 1)[None].to(
                self.device)
        given = {}
        for keyword, value in inputs.items():
            spec = specs[keyword]
            if spec.name in given:
                raise ValueError(f'{spec.name} given twice ({keyword}= is another name of it)')
            if spec.spatial and not spec.vector_per_sample:
                raise ValueError(f'{keyword} is a map: give it through the data pipeline '
                                 '(tools/test.py) rather than synthesize()')
            tensor = self._given_map(spec, keyword, value, map_size, label_t) if spec.spatial \
                else self._given_input(spec, keyword, value)
            if spec.per_instance and ids is not None:
                if tensor.shape[1] <= ids.max():
                    raise ValueError(
                        f'{keyword} has {tensor.shape[1]} rows (shape '
                        f'{tuple(np.shape(value))}) but the instance map of {name} has '
                        f'instance id {ids.max()}: row k is instance id k, so give at least '
                        f'{ids.max() + 1} rows')
                tensor = tensor[:, torch.from_numpy(ids.astype(np.int64))]  # rows by number
            given[spec.name] = tensor.to(self.device)
        rows = len(ids) if ids is not None else 0
        resampled = None if resample is None else torch.from_numpy(
            np.searchsorted(ids, np.asarray(list(resample), dtype=ids.dtype)))
        resampled_pixels = None if resample_classes is None else torch.isin(
            label_t, torch.as_tensor(list(resample_classes), device=label_t.device))[:, None]
        rng = torch.Generator().manual_seed(seed) if seed is not None else torch.Generator()
        if seed is None:
            rng.seed()
        kept = dict(given)  # what stays the same across samples
        outputs, used = [], []
        for index in range(num_samples):
            draws = dict(kept)
            for spec in random_specs:
                drawn = self._draw(spec, rows, rng, label_t)
                if drawn is None:
                    continue
                drawn = drawn.to(self.device)
                # with a partial re-draw, every first draw stays, but for the re-drawn
                # rows (per-instance inputs) or pixels (noise maps)
                if spec.name not in draws:
                    draws[spec.name] = drawn
                    if resampled is not None or resampled_pixels is not None:
                        kept[spec.name] = drawn
                elif resampled is not None and spec.per_instance:
                    value = draws[spec.name].clone()
                    value[:, resampled] = drawn[:, resampled]
                    draws[spec.name] = value
                elif resampled_pixels is not None and spec.spatial:
                    draws[spec.name] = torch.where(resampled_pixels, drawn, draws[spec.name])
            if reference is not None:
                target = SemanticLayout(label_t, **named)
                encoded = self._reference_inputs(encoder, reference, reference_labels,
                                                 reference_instances, target, num_samples > 1,
                                                 rng)
                for input_name, value in encoded.items():
                    if input_name not in given:
                        draws[input_name] = value
            image = self.inference(label_t, **inputs_read_by(self.generator,
                                                             {**named, **draws}))[0]
            if not as_float:
                image = ((image.clamp(-1, 1) + 1) * 127.5).round().byte()
            outputs.append(image.permute(1, 2, 0).cpu().numpy())
            used.append({spec.name: self._as_given(spec, draws[spec.name], ids)
                         for spec in random_specs if spec.name in draws})
        return (outputs, used) if return_inputs else outputs

    @staticmethod
    def _as_given(spec: LayoutInput, value: torch.Tensor, ids: Optional[np.ndarray]) -> np.ndarray:
        """An input as a caller gives it: per-instance rows by instance id."""
        value = value.cpu()
        if spec.per_instance and ids is not None:
            by_id = value.new_zeros(value.shape[0], int(ids.max()) + 1, *value.shape[2:])
            by_id[:, torch.from_numpy(ids.astype(np.int64))] = value
            value = by_id
        return value.numpy()

    def __call__(self, labels: LabelInput, **kwargs) -> List[np.ndarray]:
        """Images for a label map, a list of them, or a folder; see :meth:`synthesize`."""
        images = []
        for name, source in self.list_inputs(labels):
            images += self.synthesize(self.read_labels(source, name), name=name, **kwargs)
        return images
