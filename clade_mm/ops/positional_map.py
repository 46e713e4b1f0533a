"""CLADE-ICPE's positional map in one pass on the CPU (the compiled ``icpe_map`` kernel).

:func:`clade_mm.layers.layout.icpe_map` uses it for CPU tensors and keeps its vectorised tensor
form, the reference the tests hold this kernel to, for other devices and for export.
"""
import torch
from torch import Tensor

from .class_norm import _ext


def supports(label_map: Tensor) -> bool:
    return _ext is not None and label_map.device.type == 'cpu' and \
        not torch.compiler.is_exporting()


def icpe_map(label_map: Tensor, eps: float) -> Tensor:
    """``(N, H, W)`` integer ids -> ``(N, 2, H, W)`` float32 ``(dy, dx)``, as the reference."""
    return _ext.icpe_map(label_map.long().contiguous(), eps)
