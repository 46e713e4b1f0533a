"""CLADE-ICPE's intra-class positional map: each pixel's offset from the centroid of its class
component, normalised per component.

:func:`icpe_map` runs the compiled one-pass kernel for CPU tensors; :func:`_icpe_map_vectorised`,
the same algorithm in tensor operations, runs on other devices and under export, and is the
reference the tests hold the kernel to.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .class_norm import _ext

# Relative-offset normaliser of the ICPE map: offset / (max |offset| + eps), as in the paper.
ICPE_EPS = 1e-5

_NEIGHBOURS_8 = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


def supports(label_map: Tensor) -> bool:
    return _ext is not None and label_map.device.type == 'cpu' and \
        not torch.compiler.is_exporting()


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
    if supports(label_map):
        dist = _ext.icpe_map(label_map.long().contiguous(), ICPE_EPS)
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
