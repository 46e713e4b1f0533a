"""Batch statistics shared by all processes of a data-parallel run, on the CPU as on the GPU.

Each process of a DDP run sees ``1 / world_size`` of the global batch. A conditional norm whose
parameter-free BatchNorm used only the local samples would normalise with other statistics
than the same model trained on one device (and, at the 1-2 images per GPU the reference trains
with, very noisy ones), so the reference synchronises them. torch's ``nn.SyncBatchNorm`` does
this with GPU-only kernels, and torch's DDP refuses a CPU module that contains one; on the
CPU (gloo) :class:`AllReduceBatchNorm2d` all-reduces the moments itself.
"""
import torch
import torch.distributed as dist
import torch.nn as nn
from torch import Tensor


class _AllReduceSum(torch.autograd.Function):
    """``sum over processes`` whose gradient is again the sum of the processes' gradients."""

    @staticmethod
    def forward(ctx, tensor: Tensor, group) -> Tensor:
        ctx.group = group
        tensor = tensor.clone()
        dist.all_reduce(tensor, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


def _world_size(group) -> int:
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


class AllReduceBatchNorm2d(nn.BatchNorm2d):
    """A BatchNorm2d whose batch statistics are those of the global batch of all processes.

    In training with more than one process, mean and variance are all-reduced (two passes:
    the mean, then the squared deviations from it), the gradient flows through both
    reductions, and the running averages are updated with the unbiased global variance, as
    torch's GPU kernels of ``nn.SyncBatchNorm`` do. In eval, or on one process, it is
    ``nn.BatchNorm2d``. It works on any device; :func:`sync_conditional_norms` uses it on the
    CPU, where ``nn.SyncBatchNorm`` cannot run.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``; processes may hold different ``N``.
    """

    def __init__(self, *args, process_group=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.process_group = process_group

    def forward(self, x: Tensor) -> Tensor:
        group = self.process_group or (dist.group.WORLD if dist.is_available() else None)
        if not self.training or _world_size(group) == 1:
            return super().forward(x)
        self._check_input_dim(x)
        reduce_dims = [0] + list(range(2, x.dim()))
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float64)
        dist.all_reduce(count, group=group)
        count = float(count)
        if count <= 1:
            raise ValueError(f'AllReduceBatchNorm2d needs more than one value per channel across all '
                             f'processes, got input of shape {tuple(x.shape)} per process')
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = _AllReduceSum.apply(x.sum(reduce_dims), group) / count
        centred = x - mean.view(shape)
        var = _AllReduceSum.apply(centred.square().sum(reduce_dims), group) / count
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach() * count / (count - 1))
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, unbiased_var: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None \
            else 1.0 / float(self.num_batches_tracked)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased_var.to(self.running_var.dtype), momentum)

    @classmethod
    def from_batch_norm(cls, norm: nn.modules.batchnorm._BatchNorm,
                        process_group=None) -> 'AllReduceBatchNorm2d':
        """A synchronised copy of ``norm`` sharing its parameters and buffers."""
        synced = cls(norm.num_features, norm.eps, norm.momentum, norm.affine,
                     norm.track_running_stats, process_group=process_group)
        if norm.affine:
            synced.weight, synced.bias = norm.weight, norm.bias
        synced.running_mean, synced.running_var = norm.running_mean, norm.running_var
        synced.num_batches_tracked = norm.num_batches_tracked
        synced.train(norm.training)
        return synced
