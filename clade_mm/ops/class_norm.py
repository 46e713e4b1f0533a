"""Class-adaptive normalization in one pass over the features (CPU, float32).

``class_adaptive_norm(x, labels, gamma, beta, norm)`` computes what CLADE's eager path does,
``norm(x) * gamma[labels] + beta[labels]`` with ``norm`` a parameter-free BatchNorm2d or
InstanceNorm2d, without materialising the two gathered ``(N, C, H, W)`` maps. The statistics
come from the same ATen routine BatchNorm uses (running averages included); the modulation and
its backward are the kernels of ``clade_mm/ops/csrc/class_affine.cpp``, compiled when clade-mm
is installed. The backward accounts for the statistics' dependence on ``x`` analytically.

Inference without gradients, with the running averages, has a path of its own,
:func:`class_affine_eval`: norm and modulation fold into one class-wise affine map (and
CLADE-ICPE's two per-pixel factors), on float32 or bfloat16 features laid out NCHW or
channels-last.

Everything these paths do not cover (GPU tensors, other dtypes, autocast while training,
SyncBatchNorm, CLADE-ICPE while training, export with ``torch.export``/``torch.onnx.export``)
runs the eager formula in :mod:`clade_mm.layers.clade`, which the tests hold these paths to.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model.utils import _BatchNormXd
from torch import Tensor
from torch.autograd.function import once_differentiable

try:
    from clade_mm import _ext
except ImportError:  # built by setup.py; absent in a source tree that was never installed
    _ext = None


def fused_kernels_available() -> bool:
    return _ext is not None


_BATCH_NORMS = (nn.BatchNorm2d, _BatchNormXd)  # the Runner reverts SyncBN to the latter


def supports(x: Tensor, gamma: Tensor, norm: nn.Module) -> bool:
    """Whether :func:`class_adaptive_norm` can stand in for the eager formula.

    Never while the model is being exported: the compiled kernels are opaque to
    ``torch.export``, so the graph gets the eager gather instead.
    """
    if _ext is None or x.device.type != 'cpu' or x.dtype != torch.float32 or \
            gamma.dtype != torch.float32 or torch.compiler.is_exporting():
        return False
    if torch.is_autocast_enabled('cpu'):
        return False
    if type(norm) in _BATCH_NORMS:
        return True
    return type(norm) is nn.InstanceNorm2d and not norm.track_running_stats


def supports_eval(x: Tensor, norm: nn.Module) -> bool:
    """Whether :func:`class_affine_eval` can stand in for the eager formula: no gradient is
    being recorded and ``norm`` normalises with its running averages."""
    if _ext is None or torch.is_grad_enabled() or x.device.type != 'cpu' or x.dim() != 4 or \
            x.dtype not in (torch.float32, torch.bfloat16) or torch.compiler.is_exporting():
        return False
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        return False
    return not norm.training and folds_in_eval(norm)


def folds_in_eval(norm: nn.Module) -> bool:
    """Whether :func:`class_affine_eval` can fold ``norm`` into its tables in eval mode: a
    batch norm with running averages (instance norm's statistics are per image)."""
    return type(norm) in _BATCH_NORMS and norm.running_mean is not None


class EvalTables:
    """The folded tables of :func:`class_affine_eval` for one layer. With ``keep`` they are
    kept and computed again only when one of their tensors is replaced (a loaded checkpoint):
    for weights that only inference uses, as a generator's tables hold millions of entries."""

    def __init__(self):
        self._key, self._tables = None, None

    def get(self, gamma: Tensor, beta: Tensor, norm: nn.Module,
            position_convs: Optional[Sequence[nn.Conv2d]] = None, keep: bool = False) -> tuple:
        """``(scale, shift, bias, position_weights)``; the last two ``None`` without
        ``position_convs`` (CLADE-ICPE's two 1x1 convs)."""
        key = None
        if keep:
            sources = [gamma, beta, norm.running_mean, norm.running_var]
            for conv in position_convs or ():
                sources += [conv.weight, conv.bias]
            key = tuple((t.data_ptr(), t._version, t.dtype) for t in sources) + (norm.eps,)
        if key is None or key != self._key:
            invstd = torch.rsqrt(norm.running_var.float() + norm.eps)
            scale = (gamma.float() * invstd).contiguous()
            centre = -norm.running_mean.float() * scale
            if position_convs is None:
                self._tables = scale, (centre + beta.float()).contiguous(), None, None
            else:
                weights = torch.cat([torch.cat([conv.weight.flatten(), conv.bias]).float()
                                     for conv in position_convs])
                self._tables = scale, centre.contiguous(), beta.float().contiguous(), weights
            self._key = key
        return self._tables


def class_affine_eval(x: Tensor, labels: Tensor, tables: tuple,
                      position: Optional[Tensor] = None) -> Tensor:
    """``norm(x) * gamma[labels] + beta[labels]`` in one pass for inference (see
    :func:`supports_eval`), or CLADE-ICPE's ``norm(x) * gamma[labels] * (1 + conv_g(position))
    + beta[labels] * (1 + conv_b(position))``.

    Args:
        x: ``(N, C, H, W)`` float32 or bfloat16 CPU features, NCHW or channels-last; the
            result has the same dtype and layout.
        labels: ``(N, H, W)`` int64 class ids at the features' size, validated by the caller.
        tables: :meth:`EvalTables.get` of the layer's ``gamma``, ``beta`` ``(N_c, C)``, its
            eval-mode parameter-free BatchNorm2d and, for CLADE-ICPE, its positional convs.
        position: ``(N, 2, H, W)`` ICPE map at the features' size, for CLADE-ICPE.
    """
    scale, shift, bias, weights = tables
    if position is not None:
        position = position.float().contiguous()
    return _ext.class_affine_eval(x, labels.contiguous(), scale, shift, bias, position, weights)


def _statistics(x: Tensor, norm: nn.Module):
    """Mean and inverse std the way ``norm`` would use them; updates its running statistics.

    Returns:
        ``(mean, invstd, batch_stats)`` with mean and invstd of shape ``(S, C)``: S = 1 for
        batch norm, N for instance norm; ``batch_stats`` says whether they depend on ``x``.
    """
    n, c = x.shape[:2]
    if isinstance(norm, nn.InstanceNorm2d):
        # Every (sample, channel) pair is a channel of its own.
        mean, var = torch.batch_norm_update_stats(x.reshape(1, n * c, *x.shape[2:]), None,
                                                  None, 0.0)
        return mean.view(n, c), torch.rsqrt(var + norm.eps).view(n, c), True
    if not norm.training and norm.running_mean is not None:
        return norm.running_mean[None], torch.rsqrt(norm.running_var + norm.eps)[None], False
    update = norm.training and norm.track_running_stats
    momentum = 0.0
    if update:
        norm.num_batches_tracked.add_(1)
        momentum = norm.momentum if norm.momentum is not None else \
            1.0 / float(norm.num_batches_tracked)
    # Also updates the running averages (with the unbiased variance), as BatchNorm does.
    mean, var = torch.batch_norm_update_stats(x, norm.running_mean if update else None,
                                              norm.running_var if update else None, momentum)
    return mean[None], torch.rsqrt(var + norm.eps)[None], True


class _ClassAdaptiveNorm(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, labels, gamma, beta, mean, invstd, batch_stats):
        x, labels = x.contiguous(), labels.contiguous()
        gamma, beta = gamma.contiguous(), beta.contiguous()
        mean, invstd = mean.contiguous(), invstd.contiguous()
        ctx.save_for_backward(x, labels, gamma, mean, invstd)
        ctx.batch_stats = batch_stats
        return _ext.clade_forward(x, labels, gamma, beta, mean, invstd)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, labels, gamma, mean, invstd = ctx.saved_tensors
        grad_x, grad_gamma, grad_beta = _ext.clade_backward(
            grad.contiguous(), x, labels, gamma, mean, invstd, ctx.batch_stats,
            ctx.needs_input_grad[0])
        return (grad_x if ctx.needs_input_grad[0] else None), None, grad_gamma, grad_beta, \
            None, None, None


def class_adaptive_norm(x: Tensor, labels: Tensor, gamma: Tensor, beta: Tensor,
                        norm: nn.Module) -> Tensor:
    """``norm(x) * gamma[labels] + beta[labels]``, fused; see the module docstring.

    Args:
        x: ``(N, C, H, W)`` float32 CPU features.
        labels: ``(N, H, W)`` int64 class ids at the features' size. The kernels index the
            tables with them unchecked: callers validate them first (the layout does).
        gamma, beta: ``(N_c, C)`` class-wise tables.
        norm: the parameter-free BatchNorm2d/InstanceNorm2d whose statistics (and running
            averages) are used exactly as calling it would.
    """
    with torch.no_grad():  # the backward accounts for the statistics analytically
        mean, invstd, batch_stats = _statistics(x, norm)
    return _ClassAdaptiveNorm.apply(x, labels, gamma, beta, mean, invstd, batch_stats)
