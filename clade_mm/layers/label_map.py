"""Label maps and instance maps as the norms take them: validated id batches, resized with
nearest neighbour, and the instance edge map."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


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


def as_label_batch(label_map: Tensor, name: str = 'label_map') -> Tensor:
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


def region_means(x: Tensor, ids: Tensor, rows: int) -> Tensor:
    """``(N, C, H, W)`` features averaged over each id ``0..rows-1`` of the ``(N, H, W)`` id map
    (a class or instance map of the features' size): ``(N, rows, C)``, 0 for ids that do not
    occur."""
    n, c = x.shape[:2]
    ids = ids.reshape(n, 1, -1).expand(-1, c, -1)
    sums = x.new_zeros(n, c, rows).scatter_add_(2, ids, x.reshape(n, c, -1))
    counts = x.new_zeros(n, 1, rows).scatter_add_(2, ids[:, :1], x.new_ones(n, 1, ids.shape[-1]))
    return (sums / counts.clamp(min=1)).transpose(1, 2)
