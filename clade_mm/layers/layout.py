"""The semantic layout: the label map a conditional norm is modulated by, and what derives from it.

Conditional norms (SPADE, CLADE, CLADE-ICPE) sit where ordinary norms sit, so the models that
hold them (an mmcv ``ConvModule``, an mmseg ``ResNet``) call them as ``norm(x)``: there is no
argument through which a label map could reach them. :func:`semantic_layout` makes one layout
current for the duration of a ``with`` block, and every conditional norm inside reads it.

A :class:`SemanticLayout` derives, once per spatial size and device, everything a norm needs at
that resolution (the resized label map, its one-hot form, the ICPE positional map, the instance
edge map) and caches it, so the many norms that share a resolution in one forward pass share
that work.
"""
import contextvars
import threading
from contextlib import contextmanager
from typing import Dict, Hashable, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..ops import positional_map

_current = contextvars.ContextVar('clade_mm_semantic_layout', default=None)

# Relative-offset normaliser of the ICPE map: offset / (max |offset| + eps), as in the paper.
ICPE_EPS = 1e-5

_NEIGHBOURS_8 = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


class LayoutError(ValueError):
    """A label map, instance map or layout that cannot condition a norm."""


def non_integer_ids_message(name: str, dtype) -> str:
    """The one message, in every entry point, for a label map whose values are not integer
    ids (floating-point, NaN included, or boolean)."""
    dtype = str(dtype).replace('torch.', '')
    kind = 'boolean' if dtype == 'bool' else 'floating-point' if 'float' in dtype else dtype
    return (f'{name} holds {kind} values (dtype {dtype}), but class ids must be integers: give '
            'one integer id per pixel (an 8- or 16-bit PNG, or an integer array: '
            '`labels.astype(np.int64)` if the values are whole numbers, `one_hot.argmax(...)` '
            'for a one-hot map).')


def _as_label_batch(label_map: Tensor, name: str = 'label_map') -> Tensor:
    """Validate a label map and return it as an ``(N, H, W)`` int64 tensor.

    Accepts ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` integer tensors (or numpy arrays).
    """
    if not isinstance(label_map, Tensor):
        try:
            label_map = torch.as_tensor(label_map)
        except (TypeError, ValueError, RuntimeError) as err:
            raise LayoutError(f'{name} must be a tensor or array of integer class ids, '
                              f'got {type(label_map).__name__}') from err
    if label_map.is_floating_point() or label_map.is_complex() or label_map.dtype == torch.bool:
        raise LayoutError(non_integer_ids_message(name, label_map.dtype))
    if label_map.dim() == 2:
        label_map = label_map[None]
    elif label_map.dim() == 4:
        if label_map.shape[1] == 3:
            raise LayoutError(
                f'{name} has shape {tuple(label_map.shape)}: 3 channels look like an RGB colour '
                'mask, but class ids were expected. Convert the colours to ids with the '
                "dataset's palette first (one id per pixel, shape (N, H, W)).")
        if label_map.shape[1] != 1:
            raise LayoutError(
                f'{name} has shape {tuple(label_map.shape)}; expected (N, H, W) or (N, 1, H, W) '
                'class ids (for a one-hot map pass `one_hot.argmax(1)`).')
        label_map = label_map[:, 0]
    elif label_map.dim() != 3:
        raise LayoutError(f'{name} has shape {tuple(label_map.shape)}; expected (H, W), '
                          '(N, H, W) or (N, 1, H, W) class ids.')
    return label_map.long()


def resize_nearest(maps: Tensor, size: Tuple[int, int]) -> Tensor:
    """Resize ``(N, C, H, W)`` maps with nearest neighbour, keeping their dtype.

    Integer maps go through float32, which is exact for ids below 2**24.
    """
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    if maps.is_floating_point():
        return F.interpolate(maps, size=size, mode='nearest')
    return F.interpolate(maps.float(), size=size, mode='nearest').to(maps.dtype)


def instance_edges(instance_map: Tensor) -> Tensor:
    """Edge map of an ``(N, H, W)`` instance map: 1 where a 4-neighbour has another id.

    Returns:
        ``(N, 1, H, W)`` float tensor of 0 and 1.
    """
    edge = torch.zeros_like(instance_map, dtype=torch.bool)
    vertical = instance_map[:, 1:, :] != instance_map[:, :-1, :]
    horizontal = instance_map[:, :, 1:] != instance_map[:, :, :-1]
    edge[:, 1:, :] |= vertical
    edge[:, :-1, :] |= vertical
    edge[:, :, 1:] |= horizontal
    edge[:, :, :-1] |= horizontal
    return edge[:, None].float()


def connected_components(label_map: Tensor) -> Tensor:
    """Label the 8-connected components of every class of an ``(N, H, W)`` label map.

    Vectorised on the tensor's device: each pixel starts with its own flat index and repeatedly
    takes the smallest index among its same-class 8-neighbours, with pointer jumping (a pixel
    adopts the label of the pixel its label points at) so long thin regions converge in a few
    dozen rounds instead of one round per pixel of their length.

    Returns:
        ``(N, H, W)`` int64: for each pixel, the flat index (over ``N * H * W``) of the
        smallest pixel of its component, so the ids are unique across the batch.
    """
    n, h, w = label_map.shape
    big = n * h * w
    comp = torch.arange(big, device=label_map.device).view(n, h, w)
    cls = F.pad(label_map, (1, 1, 1, 1), value=-1)
    same = [cls[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] == label_map for dy, dx in _NEIGHBOURS_8]
    while True:
        padded = F.pad(comp, (1, 1, 1, 1), value=big)
        smallest = comp
        for (dy, dx), mask in zip(_NEIGHBOURS_8, same):
            neighbour = padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            smallest = torch.minimum(smallest, torch.where(mask, neighbour, big))
        flat = smallest.flatten()
        for _ in range(4):
            flat = flat[flat]
        smallest = flat.view(n, h, w)
        if torch.equal(smallest, comp):
            return comp
        comp = smallest


def icpe_map(label_map: Tensor, exclude_classes: Sequence[int] = ()) -> Tensor:
    """The intra-class positional map of CLADE-ICPE for an ``(N, H, W)`` label map.

    For every class and every 8-connected component of it, each pixel's offset from the
    component's centroid, divided per axis by the component's largest absolute offset plus
    ``1e-5``. Flipping the label map horizontally flips the map and negates ``dx``.
    Pixels of ``exclude_classes`` get 0 (the published preprocessing leaves out class 0).

    Returns:
        ``(N, 2, H, W)`` float32 with channels ``(dy, dx)`` in ``[-1, 1]``.
    """
    if positional_map.supports(label_map):
        dist = positional_map.icpe_map(label_map, ICPE_EPS)
    else:
        dist = _icpe_map_vectorised(label_map)
    if exclude_classes:
        excluded = torch.isin(label_map, torch.as_tensor(exclude_classes, device=label_map.device))
        dist = dist.masked_fill(excluded[:, None], 0)
    return dist


def _icpe_map_vectorised(label_map: Tensor) -> Tensor:
    """:func:`icpe_map` in tensor operations, on any device (the reference of the kernel)."""
    n, h, w = label_map.shape
    comp = connected_components(label_map).flatten()
    ids, comp = torch.unique(comp, return_inverse=True)
    device = label_map.device
    # float64 keeps the centroid sums exact for any realistic image size.
    ys = torch.arange(h, device=device, dtype=torch.float64).view(1, h, 1).expand(n, h, w)
    xs = torch.arange(w, device=device, dtype=torch.float64).view(1, 1, w).expand(n, h, w)
    coords = torch.stack([ys.flatten(), xs.flatten()], dim=1)  # (P, 2)
    count = torch.zeros(len(ids), device=device, dtype=torch.float64).index_add_(
        0, comp, torch.ones_like(coords[:, 0]))
    centroid = torch.zeros(len(ids), 2, device=device, dtype=torch.float64).index_add_(
        0, comp, coords) / count[:, None]
    offset = coords - centroid[comp]
    extent = torch.zeros(len(ids), 2, device=device, dtype=torch.float64).scatter_reduce_(
        0, comp[:, None].expand(-1, 2), offset.abs(), reduce='amax', include_self=True)
    dist = offset / (extent[comp] + ICPE_EPS)
    return dist.view(n, h, w, 2).permute(0, 3, 1, 2).float().contiguous()


class SemanticLayout:
    """A label map (and optional instance map) plus everything derived from it per resolution.

    Args:
        label_map: ``(N, H, W)``, ``(N, 1, H, W)`` or ``(H, W)`` integer class ids.
        instance_map: optional instance ids of the same spatial size; enables edge maps.
        position_map: optional ``(N, 2, H, W)`` float ICPE map of ``label_map``, as
            :func:`icpe_map` computes it, to use instead of computing it. An exported graph
            takes it as an input: its connected components are a data-dependent loop that
            cannot be traced (see :mod:`clade_mm.apis.onnx_export`).

    Every derived map is computed once per ``(kind, size, device)`` and cached for the life of
    the layout (one forward pass, typically). The cache is guarded by a lock so one layout can be
    shared by threads.
    """

    def __init__(self, label_map: Tensor, instance_map: Optional[Tensor] = None,
                 position_map: Optional[Tensor] = None):
        self.labels = _as_label_batch(label_map)
        self.instances = None
        if instance_map is not None:
            instances = _as_label_batch(instance_map, name='instance_map')
            if instances.shape != self.labels.shape:
                raise LayoutError(
                    f'instance_map has shape {tuple(instances.shape)} but label_map has '
                    f'{tuple(self.labels.shape)}; they must describe the same pixels '
                    '(resize both with nearest neighbour).')
            self.instances = instances.to(self.labels.device)
        self.positions = None
        if position_map is not None:
            n, h, w = self.labels.shape
            if position_map.dim() != 4 or tuple(position_map.shape[1:]) != (2, h, w) or \
                    position_map.shape[0] != n or not position_map.is_floating_point():
                raise LayoutError(
                    f'position_map has shape {tuple(position_map.shape)} and dtype '
                    f'{position_map.dtype}; expected a float ({n}, 2, {h}, {w}) ICPE map of '
                    'the label map, as clade_mm.layers.icpe_map(label_map) computes it.')
            self.positions = position_map
        self._cache: Dict[Hashable, Tensor] = {}
        self._lock = threading.RLock()

    @property
    def batch_size(self) -> int:
        return self.labels.shape[0]

    @property
    def has_instances(self) -> bool:
        return self.instances is not None

    def _cached(self, key: Hashable, compute):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    def id_range(self) -> Tuple[int, int]:
        """Smallest and largest class id in the label map (computed once)."""
        return self._cached('id_range', lambda: (int(self.labels.min()), int(self.labels.max())))

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
        return self._cached(('labels', size, device), lambda: resize_nearest(
            self.labels.to(device)[:, None], size)[:, 0])

    def one_hot_at(self, size: Tuple[int, int], num_classes: int, device: torch.device,
                   dtype: torch.dtype) -> Tensor:
        """``(N, num_classes, h, w)`` one-hot of :meth:`labels_at`."""
        size = tuple(size)

        def compute():
            labels = self.labels_at(size, device)
            one_hot = torch.zeros(labels.shape[0], num_classes, *size, device=device, dtype=dtype)
            return one_hot.scatter_(1, labels[:, None], 1)

        return self._cached(('one_hot', size, num_classes, device, dtype), compute)

    def icpe_at(self, size: Tuple[int, int], device: torch.device) -> Tensor:
        """``(N, 2, h, w)`` ICPE map at full resolution (the given ``position_map``, else
        computed), resized with nearest."""
        size = tuple(size)

        def compute_full():
            if self.positions is not None:
                return self.positions.to(device)
            return icpe_map(self.labels.to(device))

        full = self._cached(('icpe', device), compute_full)
        return self._cached(('icpe', size, device), lambda: resize_nearest(full, size))

    def edges_at(self, size: Tuple[int, int], device: torch.device) -> Tensor:
        """``(N, 1, h, w)`` instance edge map computed at full resolution, resized with nearest."""
        if self.instances is None:
            raise LayoutError(
                'this norm was built with with_instance_edge=True, but the layout has no '
                'instance map: call semantic_layout(label_map, instance_map=...).')
        size = tuple(size)
        full = self._cached(('edges', device), lambda: instance_edges(self.instances.to(device)))
        return self._cached(('edges', size, device), lambda: resize_nearest(full, size))


LayoutLike = Union[SemanticLayout, Tensor]


def as_layout(layout: LayoutLike) -> SemanticLayout:
    """A :class:`SemanticLayout` from a layout or a bare label map."""
    return layout if isinstance(layout, SemanticLayout) else SemanticLayout(layout)


@contextmanager
def semantic_layout(label_map: LayoutLike, instance_map: Optional[Tensor] = None):
    """Make a semantic layout current for every conditional norm called inside the block.

    Works in unmodified models (the norms read it themselves), nests (the innermost wins and
    the outer one is back on exit), is private to the thread or task that entered it, and is
    carried into gradient-checkpointed recomputation (see :mod:`clade_mm.compat`).

    Example::

        with clade_mm.semantic_layout(labels):     # labels: (N, H, W) int64
            image = generator(noise)

    Yields:
        The :class:`SemanticLayout`, whose per-resolution maps are shared by all norms.
    """
    if isinstance(label_map, SemanticLayout):
        if instance_map is not None:
            raise LayoutError('pass instance_map when building the SemanticLayout, not here')
        layout = label_map
    else:
        layout = SemanticLayout(label_map, instance_map)
    token = _current.set(layout)
    try:
        yield layout
    finally:
        _current.reset(token)


def current_layout() -> Optional[SemanticLayout]:
    """The innermost layout entered with :func:`semantic_layout` in this context, or None."""
    return _current.get()


@contextmanager
def restored_layout(layout: Optional[SemanticLayout]):
    """Re-enter ``layout`` (possibly None) exactly as it was; used by recomputation hooks."""
    token = _current.set(layout)
    try:
        yield
    finally:
        _current.reset(token)


__all__: Sequence[str] = ('SemanticLayout', 'LayoutError', 'semantic_layout', 'current_layout',
                          'as_layout', 'icpe_map', 'instance_edges', 'connected_components',
                          'resize_nearest')
