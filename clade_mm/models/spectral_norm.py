"""Spectral normalization that scales whichever is smaller, the weight or the output."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class SpectralNormConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose weight is divided by its largest singular value (Miyato et al.).

    The same computation as ``torch.nn.utils.spectral_norm(nn.Conv2d(...))``: one power
    iteration per training forward, ``sigma = u . (W v)`` with gradient through ``W``, and the
    same state-dict keys (``weight_orig``, ``weight_u``, ``weight_v``). Because
    ``conv(x, W / sigma) = conv(x, W) / sigma``, the division is applied to the output when the
    output is the smaller tensor: the generator's low-resolution layers hold millions of weights
    for a few thousand outputs, and dividing (and back-propagating through) the whole weight
    every step costs more than their convolution.

    Shapes: as ``nn.Conv2d``.
    """
    # Set by clade_mm.apis.precision for weights that only inference will use. Not by
    # default: in-place edits through ``.data`` (EMA updates) leave no trace a cache can see.
    inference_frozen = False

    def __init__(self, *args, eps: float = 1e-12, **kwargs):
        super().__init__(*args, **kwargs)
        weight = self.weight.data
        del self.weight
        self.weight_orig = nn.Parameter(weight)
        self.eps = eps
        self.register_buffer('weight_u', F.normalize(weight.new_empty(weight.shape[0]).normal_(),
                                                     dim=0, eps=eps))
        self.register_buffer('weight_v', F.normalize(weight.new_empty(weight[0].numel()).normal_(),
                                                     dim=0, eps=eps))

    def sigma(self) -> Tensor:
        """The largest singular value estimate; updates ``u`` and ``v`` while training.

        A layer marked :attr:`inference_frozen` keeps it in eval mode without gradients (it is
        a constant of the weights then), estimated again only if they are replaced, so that
        inference does not read every weight twice per forward pass."""
        if self.inference_frozen and not (self.training or torch.is_grad_enabled() or
                                          torch.compiler.is_exporting()):
            weight, u, v = self.weight_orig, self.weight_u, self.weight_v
            key = (weight.data_ptr(), weight.dtype, weight._version, u._version, v._version)
            cached = getattr(self, '_eval_sigma', None)
            if cached is None or cached[0] != key:
                # In float32 even for a bfloat16 copy of the layer (see apis/precision.py).
                cached = self._eval_sigma = (key, self._estimate(torch.float32))
            return cached[1]
        return self._estimate()

    def _estimate(self, dtype: Optional[torch.dtype] = None) -> Tensor:
        matrix = self.weight_orig.flatten(1).to(dtype)
        u, v = self.weight_u.to(dtype), self.weight_v.to(dtype)
        if self.training:
            with torch.no_grad():
                v = F.normalize(torch.mv(matrix.t(), u), dim=0, eps=self.eps, out=v)
                u = F.normalize(torch.mv(matrix, v), dim=0, eps=self.eps, out=u)
            u, v = u.clone(), v.clone()  # the in-place updates must not reach saved tensors
        return torch.dot(u, torch.mv(matrix, v))

    def forward(self, x: Tensor) -> Tensor:
        sigma = self.sigma()
        if torch.compiler.is_exporting():
            # One graph for every batch size (the choice below depends on it), and in eval
            # mode ``weight_orig / sigma`` is a constant an exporter can fold into the conv.
            return self._conv_forward(x, self.weight_orig / sigma, self.bias)
        outputs = x.shape[0] * self.out_channels * (x.shape[-2] // self.stride[0]) * (
            x.shape[-1] // self.stride[1])
        if self.weight_orig.numel() <= outputs:
            return self._conv_forward(x, self.weight_orig / sigma, self.bias)
        out = self._conv_forward(x, self.weight_orig, None)
        # In the conv's dtype: under autocast a float32 sigma or bias would promote the
        # bfloat16/float16 output back to float32 for every layer after it.
        out = out / sigma.to(out.dtype)
        return out if self.bias is None else out + self.bias.to(out.dtype).view(1, -1, 1, 1)


def raw_weight(module: nn.Module) -> Tensor:
    """The learned weight of a conv or linear layer, before any spectral normalization."""
    return module.weight_orig if hasattr(module, 'weight_orig') else module.weight
