"""Loading, resizing and cropping of (image, label map, instance map) samples, with their checks.

Resampling follows the published SPADE/CLADE loaders, which use PIL: photos are resized with
antialiasing when they shrink, maps with nearest neighbour on PIL's pixel-centre grid (OpenCV's
``INTER_NEAREST`` samples another grid and moves region borders by a pixel).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from PIL import Image

from mmagic.registry import TRANSFORMS

from ..ops.positional_map import icpe_map
from .image_files import (DEFAULT_MAX_PIXELS, describe_map, read_image, read_map,
                          read_stored_map)
from .validation import (DatasetError, _name, check_embedded_palette, check_label_mapping,
                         check_label_range, check_same_size, label_ids, palette_to_ids)

PIL_FILTERS = dict(nearest=Image.NEAREST, bilinear=Image.BILINEAR, bicubic=Image.BICUBIC,
                   lanczos=Image.LANCZOS, area=Image.BOX)


def load_palette(palette: Union[None, str, Sequence]) -> Optional[np.ndarray]:
    """A palette as an ``(N, 3)`` array, from a list of ``[r, g, b]`` or a text file with one
    ``r g b`` (or ``r,g,b``) line per class id."""
    if palette is None:
        return None
    if isinstance(palette, str):
        with open(palette) as lines:
            rows = [line.replace(',', ' ').split()[:3] for line in lines if line.strip()]
        palette = [[int(v) for v in row] for row in rows]
    array = np.asarray(palette, dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f'a palette is a list of [r, g, b] colours, got shape {array.shape}')
    return array


def decode_panoptic(rgb: np.ndarray) -> np.ndarray:
    """COCO panoptic PNG colours to segment ids: ``id = R + 256 G + 256^2 B``."""
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


INSTANCE_FORMATS = ('auto', 'ids', 'panoptic')


@TRANSFORMS.register_module()
class LoadSemanticSample(BaseTransform):
    """Load ``img``, ``label`` and (if the sample has one) ``instance``, and check them.

    Every file is decoded whole or refused (truncated, corrupt, unsupported, lossy maps): see
    :mod:`clade_mm.datasets.image_files`. The image is read as BGR colour; label and instance
    maps as they are stored (palette PNGs give their indices, 16-bit PNGs their 16-bit values).
    Then, in order: an RGB colour mask (or a palette PNG, through its own colours) becomes ids
    through ``palette``; the stored ids are checked (every one a class or a ``label_mapping``
    key) and only then remapped; and every other check of :mod:`clade_mm.datasets.validation`
    runs, so that a bad file stops with its name, the value and the fix. A palette PNG read by
    its indices must agree with the dataset's class colours (``class_palette`` of the sample,
    which :class:`~clade_mm.datasets.SemanticFolderDataset` gives from ``metainfo.palette``).

    Args:
        num_classes: ids must lie in ``0 .. num_classes - 1`` after remapping.
        palette: colours of the classes, ``[[r, g, b], ...]`` or a file of ``r g b`` lines,
            for datasets whose label maps are colour masks.
        label_mapping: ``{raw_id: class_id}``, e.g. ``{255: 182}`` for COCO-Stuff's don't-care.
        instance_format: ``'auto'`` (from the file: one channel is an 8/16-bit id per pixel,
            RGB is a COCO panoptic PNG), or ``'ids'`` / ``'panoptic'`` to insist on one; a
            file of the other kind is then refused with its name.
        position_map: ``None`` (CLADE-ICPE computes its positional map from the label map it
            is given, every class included), or ``'published'``: ``position`` is computed here,
            at the file's resolution and without a map on class 0, as the published CLADE
            preprocessing (``util/cal_dist_masks.py``) made it for the generators it trained.
            For converted published CLADE-ICPE checkpoints.
        max_pixels: files with more pixels are refused by name and size before decoding
            (default :data:`~clade_mm.datasets.image_files.DEFAULT_MAX_PIXELS`, 8192 x 8192).
        instances_from_labels: a sample without an instance map gets one instance per class
            present (the label map, renumbered): what the published INADE trained on for
            datasets without instance maps (ADE20k, its ``make_instances.py``).
        map_scales: how many times the size of its label and instance maps a photo may be,
            one whole factor for height and width; ``(1, )`` (the default) asks for maps of
            the photo's size. Datasets that ship maps at a lower resolution than some of their
            photos (CelebAMask-HQ: 512x512 maps of 1024x1024 photos) allow ``(1, 2)``, and
            their pipeline must then resize image and maps to one size (``SemanticResize``)
            before anything that needs them aligned pixel for pixel (a crop, packing).

    Adds: ``img`` (H, W, 3) uint8 BGR, ``label`` (H, W) uint8 (int16 beyond 256 classes),
    ``instance`` (H, W) int16 (instances renumbered 0..K-1; edges only need equality) with
    ``instance_storage`` (e.g. ``'8-bit ids'``, ``'RGB'``), ``position`` (H, W, 2) float32 with
    ``position_map='published'``, ``label_storage`` (``describe_map``'s words, or
    ``'palette-indexed'``) with ``label_palette_colours`` (the ``(K, 3)`` distinct colours of
    the indices a palette PNG uses), and the metadata mmagic's packing and preprocessing expect.
    """

    def __init__(self, num_classes: int, palette: Union[None, str, Sequence] = None,
                 label_mapping: Optional[Dict[int, int]] = None,
                 instance_format: str = 'auto', position_map: Optional[str] = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, instances_from_labels: bool = False,
                 map_scales: Sequence[int] = (1, )):
        if instance_format not in INSTANCE_FORMATS:
            raise ValueError(f'instance_format={instance_format!r}: one of {INSTANCE_FORMATS}')
        if position_map not in (None, 'published'):
            raise ValueError(f"position_map={position_map!r}: None or 'published'")
        self.position_map = position_map
        self.num_classes = num_classes
        self.palette = load_palette(palette)
        self.label_mapping = dict(label_mapping or {})
        check_label_mapping(self.label_mapping, num_classes)
        self.instance_format = instance_format
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
            raise ValueError(f'max_pixels={max_pixels!r}: a number of pixels >= 1')
        self.max_pixels = max_pixels
        self.instances_from_labels = instances_from_labels
        scales = tuple(map_scales) if isinstance(map_scales, (list, tuple)) else ()
        if not scales or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                             for s in scales):
            raise ValueError(f'map_scales={map_scales!r}: a list of whole factors >= 1 (how '
                             "many times a map's size the photo may be), e.g. (1, 2)")
        self.map_scales = scales

    def _remap(self, label: np.ndarray) -> np.ndarray:
        """Stored ids -> classes; the ids were checked first (no negative id reaches the
        table, where it would index from the end)."""
        if not self.label_mapping:
            return label
        table = np.arange(max(int(label.max()), max(self.label_mapping)) + 1, dtype=np.int64)
        for old, new in self.label_mapping.items():
            table[old] = new
        return table[label]

    def label_map(self, raw: np.ndarray, path: Optional[str] = None,
                  embedded_palette: Optional[np.ndarray] = None,
                  class_palette: Union[None, str, Sequence] = None) -> np.ndarray:
        """A label map as stored -> checked ``(H, W)`` class ids (palette, range, remapping).

        ``embedded_palette`` is the colour table of a palette-mode file (see
        :func:`~clade_mm.datasets.image_files.read_stored_map`), ``class_palette`` the
        dataset's class colours it must agree with when the indices are read as ids.
        """
        if embedded_palette is not None:
            if int(raw.max()) >= len(embedded_palette):
                raise DatasetError(
                    f'label map {_name(path)} uses palette index {int(raw.max())} but its '
                    f'palette has {len(embedded_palette)} colours: the file is damaged; '
                    'export it again.', 'format')
            if self.palette is not None:  # a colour mask stored as a palette PNG
                raw = embedded_palette[raw]
            else:
                check_embedded_palette(raw, embedded_palette, load_palette(class_palette),
                                       path)
        if self.palette is not None:
            raw = palette_to_ids(raw, self.palette, path)
        label = label_ids(raw, path)
        check_label_range(label, self.num_classes, path, self.label_mapping)
        label = self._remap(label)
        return label.astype(np.uint8 if self.num_classes <= 256 else np.int16)

    def instance_map(self, raw: np.ndarray, path: Optional[str] = None) -> np.ndarray:
        """An instance map as stored -> ``(H, W)`` int16 instance numbers ``0..K-1``."""
        return self.instance_numbers(raw, path)[0]

    def instance_numbers(self, raw: np.ndarray,
                         path: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
        """An instance map as stored -> ``(H, W)`` int16 instance numbers ``0..K-1`` and the
        ``(K,)`` stored id of each number (sorted)."""
        rgb = raw.ndim == 3 and raw.shape[2] >= 3
        found = ('an RGB image (panoptic colours)' if rgb else
                 f'a one-channel {raw.dtype.itemsize * 8}-bit id map')
        if self.instance_format == 'panoptic' and not rgb:
            raise DatasetError(
                f'instance map {_name(path)} is {found}, but instance_format=\'panoptic\' '
                "expects COCO panoptic RGB PNGs: set instance_format='auto' (or 'ids') in "
                'LoadSemanticSample.')
        if self.instance_format == 'ids' and rgb:
            raise DatasetError(
                f'instance map {_name(path)} is {found}, but instance_format=\'ids\' expects '
                "one id per pixel: set instance_format='auto' (or 'panoptic') in "
                'LoadSemanticSample.')
        if rgb:
            raw = decode_panoptic(raw[..., :3])
        elif raw.ndim != 2 or not np.issubdtype(raw.dtype, np.integer):
            raise DatasetError(f'instance map {_name(path)} has shape {raw.shape} and dtype '
                               f'{raw.dtype}: expected (H, W) integer ids or an RGB panoptic PNG')
        # Edges need only equality between neighbours and per-instance inputs a row per id:
        # renumber 0..K-1 to fit int16 (the stored ids say which row is whose).
        ids, numbers = np.unique(raw, return_inverse=True)
        return numbers.reshape(raw.shape).astype(np.int16), ids

    def transform(self, results: dict) -> dict:
        img_path, label_path = results['img_path'], results['label_path']
        image = read_image(img_path, self.max_pixels)
        stored = read_stored_map(label_path, 'label map', self.max_pixels)
        label = self.label_map(stored.array, label_path, stored.palette,
                               results.get('class_palette'))
        check_same_size(image, label, img_path, label_path, 'label map', self.map_scales)
        results['img'] = image
        results['label'] = label
        results['label_storage'] = describe_map(stored.array)
        if stored.palette is not None:
            results['label_storage'] = 'palette-indexed'
            used = stored.palette[np.unique(stored.array)]
            results['label_palette_colours'] = np.unique(used, axis=0)
        if self.position_map == 'published':
            results['position'] = published_position_map(label)
        results['img_channel_order'] = 'bgr'
        results['img_color_type'] = 'color'
        results['ori_img_shape'] = image.shape
        instance_path = results.get('instance_path')
        if instance_path:
            raw = read_map(instance_path, 'instance map', self.max_pixels)
            instance = self.instance_map(raw, instance_path)
            check_same_size(image, instance, img_path, instance_path, 'instance map',
                            self.map_scales)
            results['instance'] = instance
            results['instance_storage'] = describe_map(raw)
        elif self.instances_from_labels:
            results['instance'] = self.instance_map(label)
            results['instance_storage'] = 'one instance per class (from the label map)'
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_classes={self.num_classes}, '
                f'palette={None if self.palette is None else len(self.palette)}, '
                f'label_mapping={self.label_mapping}, instance_format={self.instance_format!r}, '
                f'position_map={self.position_map!r}, max_pixels={self.max_pixels}, '
                f'instances_from_labels={self.instances_from_labels}, '
                f'map_scales={self.map_scales})')


def published_position_map(ids: np.ndarray) -> np.ndarray:
    """CLADE-ICPE's positional map of an ``(H, W)`` id map as the published CLADE code made
    it: every class but 0, at this resolution. ``(H, W, 2)`` float32, channels ``(dy, dx)``."""
    position = icpe_map(torch.from_numpy(ids.astype(np.int64))[None], exclude_classes=(0, ))
    return position[0].permute(1, 2, 0).numpy()


def resize_position(position: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """An ``(H, W, C)`` float map resized to ``size = (h, w)`` with nearest neighbour on
    torch's grid (pixel ``i`` takes ``floor(i * H / h)``), as the published CLADE loader
    resizes its precomputed positional maps."""
    height, width = position.shape[:2]
    rows = np.arange(size[0]) * height // size[0]
    cols = np.arange(size[1]) * width // size[1]
    return np.ascontiguousarray(position[rows][:, cols])


def resize_map(ids: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """An ``(H, W)`` id map resized to ``size = (h, w)`` with PIL's nearest neighbour."""
    if ids.shape[:2] == tuple(size):
        return ids
    resized = Image.fromarray(ids.astype(np.int32)).resize(size[::-1], Image.NEAREST)
    return np.asarray(resized).astype(ids.dtype)


def resize_image(image: np.ndarray, size: Tuple[int, int],
                 interpolation: str = 'bicubic') -> np.ndarray:
    """An ``(H, W, 3)`` uint8 image resized to ``size = (h, w)`` with PIL (antialiased when
    it shrinks, as PIL always resamples over the whole footprint)."""
    if image.shape[:2] == tuple(size):
        return image
    resized = Image.fromarray(image).resize(size[::-1], PIL_FILTERS[interpolation])
    return np.array(resized)  # writable: later transforms flip in place


@TRANSFORMS.register_module()
class SemanticResize(BaseTransform):
    """Resize the image and its maps together, as the published loaders do.

    Args:
        scale: the new size ``(w, h)`` (mmcv's order, as in mmagic's ``Resize``).
        image_keys: resized with ``interpolation`` (PIL, antialiased when shrinking).
        map_keys: resized with nearest neighbour on PIL's grid; absent keys are skipped.
            A ``position`` map (see ``LoadSemanticSample(position_map='published')``) is
            resized as the published loader resizes it (:func:`resize_position`).
        interpolation: ``'bicubic'`` (SPADE's), ``'bilinear'``, ``'lanczos'``, ``'area'``
            or ``'nearest'``.
    """

    def __init__(self, scale: Tuple[int, int], image_keys: Sequence[str] = ('img', ),
                 map_keys: Sequence[str] = ('label', 'instance'),
                 interpolation: str = 'bicubic'):
        if interpolation not in PIL_FILTERS:
            raise ValueError(f'interpolation={interpolation!r}: one of {tuple(PIL_FILTERS)}')
        self.size = (int(scale[1]), int(scale[0]))
        self.image_keys, self.map_keys = tuple(image_keys), tuple(map_keys)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        for key in self.image_keys:
            results[key] = resize_image(results[key], self.size, self.interpolation)
            results[f'{key}_shape'] = results[key].shape
        for key in self.map_keys:
            if key in results:
                results[key] = resize_map(results[key], self.size)
        if 'position' in results:
            results['position'] = resize_position(results['position'], self.size)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.size[::-1]}, image_keys={self.image_keys}, '
                f'map_keys={self.map_keys}, interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class SemanticCrop(BaseTransform):
    """Crop the image and its maps at one position (mmagic's ``Crop`` draws a new random
    position for each key, which misaligns image and labels).

    Args:
        keys: the arrays to crop; all must have the same height and width.
        crop_size: ``(h, w)``.
        random_crop: a random position (training) or the centre.

    An image smaller than the crop is an error naming the file, not a smaller crop that would
    only fail when the batch is stacked. Adds ``crop_bbox`` ``(x, y, w, h)``.
    """

    def __init__(self, keys: Sequence[str], crop_size: Tuple[int, int],
                 random_crop: bool = True):
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        self.crop_size = tuple(crop_size)
        self.random_crop = random_crop

    def transform(self, results: dict) -> dict:
        present = [k for k in self.keys if k in results]
        height, width = results[present[0]].shape[:2]
        # Maps stored smaller than the photo (LoadSemanticSample's map_scales) are aligned
        # only once resized to one size: one crop box would cut different parts of each.
        unequal = [k for k in present if results[k].shape[:2] != (height, width)]
        if unequal:
            raise DatasetError(
                f'cannot crop {", ".join(present)} of {_name(results.get("img_path"))} at one '
                f'position: {present[0]} is {width}x{height} but {unequal[0]} is '
                f'{results[unequal[0]].shape[1]}x{results[unequal[0]].shape[0]}. Resize them '
                'to one size first (a SemanticResize before the crop in the pipeline).', 'size')
        crop_h, crop_w = self.crop_size
        if height < crop_h or width < crop_w:
            raise DatasetError(
                f'crop {crop_w}x{crop_h} is larger than the image '
                f'{_name(results.get("img_path"))} ({width}x{height}): resize first (a '
                'SemanticResize before the crop in the pipeline, as the dataset configs do) or '
                'crop smaller.',
                'crop')
        if self.random_crop:
            x = np.random.randint(0, width - crop_w + 1)
            y = np.random.randint(0, height - crop_h + 1)
        else:
            x, y = (width - crop_w) // 2, (height - crop_h) // 2
        for key in present:
            results[key] = results[key][y:y + crop_h, x:x + crop_w]
        results['crop_bbox'] = (x, y, crop_w, crop_h)
        results['img_shape'] = (crop_h, crop_w)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(keys={self.keys}, crop_size={self.crop_size}, '
                f'random_crop={self.random_crop})')


@TRANSFORMS.register_module()
class ConstantImage(BaseTransform):
    """Add an image of one grey ``value`` shaped like ``results[like]`` as ``results[key]``:
    an input that carries no information, so that a translation model (Pix2Pix) can only learn
    the scene from the label map its conditional norms read.

    Adds ``key``, ``{key}_channel_order`` and ``{key}_color_type``, as mmagic's packing and
    preprocessing expect of an image.
    """

    def __init__(self, key: str, like: str = 'img', value: int = 128):
        self.key, self.like, self.value = key, like, int(value)

    def transform(self, results: dict) -> dict:
        results[self.key] = np.full_like(results[self.like], self.value, dtype=np.uint8)
        results[f'{self.key}_channel_order'] = 'bgr'
        results[f'{self.key}_color_type'] = 'color'
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}, like={self.like!r}, value={self.value})'
