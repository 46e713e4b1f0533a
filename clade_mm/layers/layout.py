"""The semantic layout: the label map a conditional norm is modulated by, and every other
per-sample input, by name.

A :class:`SemanticLayout` holds the ``(N, H, W)`` label map and any named inputs a caller gives
(``instances``, ``position``, ``z``, a family's noise or style codes...). The layout does not
know the names in advance: whoever reads an input declares it as a :class:`LayoutInput` (its
name, shape, whether it is a spatial map, how it is computed or drawn when not given, and how a
user gives it), and asks the layout for it with :meth:`SemanticLayout.get` or, resized to a
feature map, :meth:`SemanticLayout.at`. A norm family declares its inputs in its own file; the
generator, the GAN model, inference and export read those declarations.

Everything derived (a resized label map, its one-hot form, a resized input, the instance edge
map) is computed once per ``(kind, size, device)`` and cached for the life of the layout (one
forward pass, typically), so the many norms that share a resolution share that work.
"""
import threading
from dataclasses import dataclass
from typing import Callable, Dict, Hashable, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .label_map import LayoutError, as_label_batch, instance_edges, resize_nearest


@dataclass(frozen=True)
class LayoutInput:
    """A per-sample input that a layer or generator reads from the layout, declared by its reader.

    Attributes:
        name: the keyword it is given by (``SemanticLayout(labels, name=...)``,
            ``generator(labels, name=...)``) and the name of the exported graph's input.
        shape: its shape and dtype for messages and docs, e.g. ``'(N, 2, H, W) float32'``.
        how_to_give: the fix a missing input's error names.
        spatial: a map of the label map's ``H, W`` (the last two axes), resized with nearest
            neighbour to each feature map; otherwise one value per sample (first axis ``N``).
        integer: ids (kept int64) rather than real values.
        channels: of a spatial ``(N, C, H, W)`` input, ``C`` (``None``: not checked).
        default: ``(layout, device) -> Tensor`` for an input the reader can do without: computed
            (CLADE-ICPE's positional map) or drawn (noise) when not given; ``None``: required.
        random: ``default`` draws at random, so two runs that must agree (float32 and
            bfloat16 inference) draw it once and pass it to both.
        sample: ``(labels (N, H, W), rng) -> Tensor``: a valid value for ``labels`` from
            ``rng``, for export checks and tests; ``None``: ``default`` of a layout of
            ``labels``.
        graph_input: an input of the exported graph (``False``: the graph computes it).
        size: of a non-spatial input, its shape after the batch axis, ``None`` for an axis of
            any length (``(None, 2, 64)``); checked when given, and what lets a caller give
            one sample without the batch axis.
        per_instance: its axis 1 holds one row per instance id of the instance map (row ``k``
            for id ``k``): a given value needs more rows than the largest id, and a caller
            can re-draw the rows of chosen instances.
        aliases: other keywords a caller may give it by (the published code's names).
        vector_per_sample: a spatial input a caller may also give as one ``(channels,)``
            vector per sample, the same at every pixel (OASIS's ``z``, expanded over the map
            as its published code expands it).
    """
    name: str
    shape: str
    how_to_give: str
    spatial: bool = True
    integer: bool = False
    channels: Optional[int] = None
    default: Optional[Callable[['SemanticLayout', torch.device], Tensor]] = None
    random: bool = False
    sample: Optional[Callable[[Tensor, torch.Generator], Tensor]] = None
    graph_input: bool = True
    size: Optional[Tuple[Optional[int], ...]] = None
    per_instance: bool = False
    aliases: Tuple[str, ...] = ()
    vector_per_sample: bool = False

    def sample_for(self, labels: Tensor, rng: torch.Generator) -> Tensor:
        """A valid value of this input for the ``(N, H, W)`` ``labels``, drawn from ``rng``."""
        if self.sample is not None:
            return self.sample(labels, rng)
        if self.default is None:
            raise ValueError(f'layout input {self.name!r} declares neither sample nor default')
        return self.default(SemanticLayout(labels), labels.device)


def random_ids(labels: Tensor, rng: torch.Generator, num_ids: int = 16) -> Tensor:
    """``(N, H, W)`` maps of ``num_ids`` ids laid out in squares of 1 to 16 pixels."""
    n, h, w = labels.shape
    cell = int(torch.randint(1, 17, (), generator=rng))
    coarse = torch.randint(0, num_ids, (n, 1, max(1, h // cell), max(1, w // cell)),
                           generator=rng)
    return resize_nearest(coarse, (h, w))[:, 0].to(labels.device)


# The instance map: read by every layer built with ``with_instance_edge`` (its edges).
INSTANCES = LayoutInput(
    'instances', '(N, H, W) int64 instance ids',
    'give the instance map of each label map (instances=... in Python, --instances DIR on the '
    'command line); models trained with with_instance_edge=True need it',
    integer=True, sample=random_ids)


def unique_inputs(inputs: Iterable[LayoutInput]) -> Tuple[LayoutInput, ...]:
    """``inputs`` without repeats, in first-seen order; two different declarations of one name
    are refused (two readers that disagree on what an input is)."""
    seen: Dict[str, LayoutInput] = {}
    for spec in inputs:
        known = seen.setdefault(spec.name, spec)
        if known is not spec and known != spec:
            raise ValueError(f'two different declarations of the layout input {spec.name!r}: '
                             f'{known.shape} and {spec.shape}')
    return tuple(seen.values())


def inputs_read_by(reader, named: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """The inputs of ``named`` that ``reader`` (a module with ``layout_inputs()``; an EMA
    wrapper's ``module``) reads: a batch or a caller may carry maps another model uses."""
    reader = getattr(reader, 'module', reader)
    reads = {spec.name for spec in reader.layout_inputs()}
    return {name: value for name, value in named.items() if name in reads}


def sample_inputs(reader, labels: Tensor, rng: torch.Generator,
                  include: Callable[[LayoutInput], bool] = lambda spec: True
                  ) -> Dict[str, Tensor]:
    """A valid value of every layout input ``reader`` declares that ``include`` keeps, for the
    ``(N, H, W)`` ``labels``, drawn from ``rng`` as each declaration samples it."""
    return {spec.name: spec.sample_for(labels, rng) for spec in reader.layout_inputs()
            if include(spec)}


def missing_inputs(reader, named: Dict[str, Tensor]) -> Tuple[LayoutInput, ...]:
    """The inputs ``reader`` requires (no default) that ``named`` lacks."""
    reader = getattr(reader, 'module', reader)
    return tuple(spec for spec in reader.layout_inputs()
                 if spec.default is None and named.get(spec.name) is None)


class SemanticLayout:
    """A label map plus named per-sample inputs, and everything derived from them per resolution.

    Args:
        label_map: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(H, W)`` integer class ids.
        **inputs: named inputs (``None`` values are dropped), read by the layers that declare
            them (:class:`LayoutInput`). Spatial ones must cover the label map's ``H, W`` and
            ``N``. ``instances``, the instance map, is checked here: its edge map is shared
            by the generator and every norm built with instance edges.

    The cache is guarded by a lock so one layout can be shared by threads.
    """

    def __init__(self, label_map: Tensor, **inputs: Optional[Tensor]):
        self.labels = as_label_batch(label_map)
        self.inputs: Dict[str, Tensor] = {k: v for k, v in inputs.items() if v is not None}
        if 'instances' in self.inputs:
            instances = as_label_batch(self.inputs['instances'], name='instance_map')
            if instances.shape != self.labels.shape:
                raise LayoutError(
                    f'instance_map has shape {tuple(instances.shape)} but label_map has '
                    f'{tuple(self.labels.shape)}; they must describe the same pixels '
                    '(resize both with nearest neighbour).')
            self.inputs['instances'] = instances.to(self.labels.device)
        self._checked: set = set()
        self._cache: Dict[Hashable, Tensor] = {}
        self._lock = threading.RLock()

    @property
    def batch_size(self) -> int:
        return self.labels.shape[0]

    @property
    def instances(self) -> Optional[Tensor]:
        return self.inputs.get('instances')

    @property
    def has_instances(self) -> bool:
        return 'instances' in self.inputs

    def has(self, name: str) -> bool:
        """Whether the input ``name`` was given."""
        return name in self.inputs

    def cached(self, key: Hashable, compute: Callable[[], Tensor]):
        """``compute()`` once per ``key`` for the life of the layout; for what a reader derives
        from the layout (a resized input, a folded table of the batch)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    # --- the label map -------------------------------------------------------------------
    def id_range(self) -> Tuple[int, int]:
        """Smallest and largest class id in the label map (computed once)."""
        return self.cached('id_range', lambda: (int(self.labels.min()), int(self.labels.max())))

    def check_compatible(self, x: Tensor, num_classes: int, owner: str) -> None:
        """Raise a :class:`LayoutError` naming the problem if ``x`` cannot be modulated by us."""
        if x.shape[0] != self.batch_size:
            raise LayoutError(
                f'{owner}: the features have batch size {x.shape[0]} but the label map has '
                f'{self.batch_size}; pass one label map per sample to semantic_layout().')
        self.check_aspect_ratio(tuple(x.shape[-2:]), owner)
        self.check_classes(num_classes, owner)

    def check_aspect_ratio(self, size: Tuple[int, int], owner: str) -> None:
        """Raise a :class:`LayoutError` if the label map's shape is not ``size`` scaled by one
        factor (within rounding: 1.5 pixels of ``size``): nearest resizing would stretch it."""
        height, width = self.labels.shape[-2:]
        h, w = int(size[0]), int(size[1])
        if abs(height * w / width - h) > 1.5 or abs(width * h / height - w) > 1.5:
            raise LayoutError(
                f'{owner}: the label map is {height}x{width} (HxW) but the features are '
                f'{h}x{w}: their aspect ratios differ, so the layout would be stretched. '
                'Give label maps of the shape the generator was built for (its out_size or '
                "the config's image_size), resizing or cropping both sides alike.")

    def check_classes(self, num_classes: int, owner: str) -> None:
        """Raise a :class:`LayoutError` naming the id if one is outside ``0..num_classes-1``.

        Skipped while the model is being exported (``torch.export``, under which
        ``torch.onnx.export`` traces): the check turns the ids into Python ints, which a traced
        graph cannot do, and an exported graph has no way to raise it. Whoever feeds the
        exported graph validates the ids (see :mod:`clade_mm.apis.onnx_export`).
        """
        if torch.compiler.is_exporting():
            return
        low, high = self.id_range()
        if high >= num_classes:
            raise LayoutError(
                f'{owner}: label id {high} found, but num_classes={num_classes} (ids 0..'
                f'{num_classes - 1}). Raise num_classes to at least {high + 1} (counting the '
                "don't-care class) or remap the label map.")
        if low < 0:
            raise LayoutError(
                f'{owner}: label id {low} found; class ids must be >= 0. Map ignored pixels to '
                "an explicit don't-care class id instead of a negative value.")

    def labels_at(self, size: Tuple[int, int], device: torch.device) -> Tensor:
        """``(N, h, w)`` int64 label map resized with nearest neighbour."""
        size = tuple(size)
        return self.cached(('labels', size, device), lambda: resize_nearest(
            self.labels.to(device)[:, None], size)[:, 0])

    def one_hot_at(self, size: Tuple[int, int], num_classes: int, device: torch.device,
                   dtype: torch.dtype) -> Tensor:
        """``(N, num_classes, h, w)`` one-hot of :meth:`labels_at`."""
        size = tuple(size)

        def compute():
            labels = self.labels_at(size, device)
            one_hot = torch.zeros(labels.shape[0], num_classes, *size, device=device, dtype=dtype)
            return one_hot.scatter_(1, labels[:, None], 1)

        return self.cached(('one_hot', size, num_classes, device, dtype), compute)

    # --- named inputs --------------------------------------------------------------------
    def get(self, spec: LayoutInput, device: Optional[torch.device] = None,
            owner: str = 'this model') -> Tensor:
        """The input ``spec`` at full resolution: as given (checked against ``spec``), else its
        ``default`` (computed once), else a :class:`LayoutError` naming the input and the fix."""
        device = self.labels.device if device is None else device

        def compute():
            given = self.inputs.get(spec.name)
            if given is not None:
                self._check_given(spec, given)
                return given.to(device)
            if spec.default is None:
                raise LayoutError(
                    f'{owner} reads the layout input {spec.name!r} ({spec.shape}), which was '
                    f'not given: {spec.how_to_give}.')
            return spec.default(self, device)

        return self.cached(('input', spec.name, device), compute)

    def at(self, spec: LayoutInput, size: Tuple[int, int], device: torch.device,
           owner: str = 'this model') -> Tensor:
        """The spatial input ``spec`` resized with nearest neighbour to ``size``."""
        size = tuple(size)
        full = self.get(spec, device, owner)
        if full.dim() == 3:  # (N, H, W) ids: resized as one channel
            return self.cached(('input', spec.name, size, device),
                               lambda: resize_nearest(full[:, None], size)[:, 0])
        return self.cached(('input', spec.name, size, device), lambda: resize_nearest(full, size))

    def edges_at(self, size: Tuple[int, int], device: torch.device) -> Tensor:
        """``(N, 1, h, w)`` instance edge map computed at full resolution, resized with nearest."""
        if not self.has_instances:
            raise LayoutError(
                'this norm was built with with_instance_edge=True, but the layout has no '
                f'instance map: {INSTANCES.how_to_give}.')
        size = tuple(size)
        full = self.cached(('edges', device), lambda: instance_edges(self.instances.to(device)))
        return self.cached(('edges', size, device), lambda: resize_nearest(full, size))

    def _check_given(self, spec: LayoutInput, value: Tensor) -> None:
        n, h, w = self.labels.shape
        problem = None
        if not isinstance(value, Tensor):
            problem = f'a {type(value).__name__}, not a tensor'
        elif value.shape[:1] != (n, ):
            problem = f'shape {tuple(value.shape)}: its first axis must be the batch, {n}'
        elif spec.spatial and tuple(value.shape[-2:]) != (h, w):
            problem = f'shape {tuple(value.shape)}: its last two axes must be the label map\'s ' \
                      f'{h}x{w}'
        elif spec.spatial and spec.channels is not None and (
                value.dim() != 4 or value.shape[1] != spec.channels):
            problem = f'shape {tuple(value.shape)}: expected {spec.channels} channels'
        elif spec.integer == value.is_floating_point():
            expected = 'integer ids' if spec.integer else 'float values'
            problem = f'dtype {value.dtype}: expected {expected}'
        elif spec.size is not None and (value.dim() != len(spec.size) + 1 or any(
                want is not None and got != want for got, want in zip(value.shape[1:],
                                                                      spec.size))):
            problem = f'shape {tuple(value.shape)}'
        elif spec.per_instance and self.has_instances and not torch.compiler.is_exporting() \
                and value.shape[1] <= (top := int(self.instances.max())):
            problem = (f'{value.shape[1]} rows (shape {tuple(value.shape)}), but the instance '
                       f'map has instance id {top}: give a row per id, at least {top + 1}')
        if problem:
            given_as = f' (given as {" or ".join(spec.aliases)}=)' if spec.aliases else ''
            raise LayoutError(f'the layout input {spec.name!r}{given_as} has {problem} (expected '
                              f'{spec.shape} for a label map of shape ({n}, {h}, {w})).')


def class_taps(layout: SemanticLayout, size: Tuple[int, int], kernel_size: int,
                device: torch.device) -> Tuple[Tensor, Tensor]:
    """The classes present at ``size`` (``(K,)``) and, per pixel, the rows of the ``(N, taps,
    K + 1)`` tables its ``kernel_size x kernel_size`` window reads: ``(N h w, taps)`` int64,
    row ``K`` for a tap outside the image (zero padding). Once per layout and size.

    A convolution of a map that is constant on each class's region (a one-hot map, per-class
    codes) is, at each pixel, the sum over its taps of one per-(tap, class) row: these are the
    indices ``F.embedding_bag`` sums them by."""

    def compute():
        labels = layout.labels_at(size, device)
        classes, compact = torch.unique(labels, return_inverse=True)
        rows = classes.numel() + 1
        pad = kernel_size // 2
        padded = F.pad(compact, (pad, pad, pad, pad), value=rows - 1)
        n, h, w = labels.shape
        windows = [padded[:, ky:ky + h, kx:kx + w]
                   for ky in range(kernel_size) for kx in range(kernel_size)]
        taps = torch.stack(windows, -1)  # (N, h, w, taps)
        offsets = (torch.arange(n, device=device).view(-1, 1, 1, 1) * kernel_size ** 2 +
                   torch.arange(kernel_size ** 2, device=device)) * rows
        return classes, (taps + offsets).reshape(-1, kernel_size ** 2)

    return layout.cached(('class_taps', size, kernel_size, device), compute)
