"""SPADE: spatially-adaptive normalization (Park et al., 2019), the baseline CLADE replaces.

Registered as ``'SPADE'``. It reads the instance map from the layout with instance edges (one
more input channel of its modulation network) and nothing else; a bfloat16 copy keeps only the
parameter-free norm in float32; it has no fused kernel (its cost is its three convolutions,
formula (2) of the CLADE paper: ``9 (N_c h + 2 h C)`` parameters with ``h`` hidden channels).

Its modulation network is also a part other families hold (SEAN's ACE blends it with a style
branch): :class:`SPADEModulation`, built and run by the same two functions as SPADE's own.
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor

from .base import ConditionalNorm
from .layout import SemanticLayout


def add_modulation_network(module: nn.Module, in_channels: int, num_features: int,
                           hidden_channels: int, kernel_size: int) -> None:
    """Give ``module`` SPADE's ``mlp_shared``, ``mlp_gamma`` and ``mlp_beta`` (the published
    names, which checkpoints carry)."""
    padding = kernel_size // 2
    module.mlp_shared = nn.Sequential(
        nn.Conv2d(in_channels, hidden_channels, kernel_size, padding=padding), nn.ReLU())
    module.mlp_gamma = nn.Conv2d(hidden_channels, num_features, kernel_size, padding=padding)
    module.mlp_beta = nn.Conv2d(hidden_channels, num_features, kernel_size, padding=padding)


def run_modulation_network(module: nn.Module, segmap: Tensor) -> Tuple[Tensor, Tensor]:
    """``(gamma, beta)``, each ``(N, C, h, w)``, of the ``(N, N_c [+1], h, w)`` one-hot map."""
    shared = module.mlp_shared(segmap)
    return module.mlp_gamma(shared), module.mlp_beta(shared)


def layout_segmap(layout: SemanticLayout, size, num_classes: int, with_instance_edge: bool,
                  device: torch.device, dtype: torch.dtype) -> Tensor:
    """The modulation network's input at ``size``: the one-hot map, then the edge map."""
    segmap = layout.one_hot_at(size, num_classes, device, dtype)
    if with_instance_edge:
        segmap = torch.cat([segmap, layout.edges_at(size, device).to(dtype)], 1)
    return segmap


class SPADEModulation(nn.Module):
    """SPADE's modulation network on its own: ``(N, in_channels, h, w)`` one-hot map ->
    ``(gamma, beta)``, ``(N, num_features, h, w)`` each."""

    def __init__(self, in_channels: int, num_features: int, hidden_channels: int = 128,
                 kernel_size: int = 3):
        super().__init__()
        add_modulation_network(self, in_channels, num_features, hidden_channels, kernel_size)

    def forward(self, segmap: Tensor) -> Tuple[Tensor, Tensor]:
        return run_modulation_network(self, segmap)


@MODELS.register_module(name='SPADE')
class SPADE(ConditionalNorm):
    """``out = norm(x) * (1 + gamma(m)) + beta(m)`` with gamma, beta regressed from the one-hot map.

    ``shared = ReLU(Conv(N_c [+1 edge] -> hidden))``, ``gamma = Conv(hidden -> C)(shared)``,
    ``beta = Conv(hidden -> C)(shared)``, all ``kernel_size`` x ``kernel_size``.

    Args:
        hidden_channels: width of the shared modulation conv (128 in the paper).
        kernel_size: of the three modulation convs (3 in the paper).
        Others as :class:`~clade_mm.layers.base.ConditionalNorm`; with instance edges the edge
        map is one more input channel of the modulation network.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``.
    """
    _abbr_ = 'spade'

    def __init__(self, num_features: int, num_classes: int, param_free_norm: str = 'BN',
                 eps: float = 1e-5, momentum: float = 0.1, with_instance_edge: bool = False,
                 hidden_channels: int = 128, kernel_size: int = 3):
        super().__init__(num_features, num_classes, param_free_norm, eps, momentum,
                         with_instance_edge)
        add_modulation_network(self, num_classes + int(with_instance_edge), num_features,
                               hidden_channels, kernel_size)

    def paper_params(self) -> int:
        hidden = self.mlp_shared[0].out_channels
        return 9 * (self.num_classes * hidden + 2 * hidden * self.num_features)  # formula (2)

    def modulate(self, normalized: Tensor, layout: SemanticLayout) -> Tensor:
        segmap = layout_segmap(layout, normalized.shape[-2:], self.num_classes,
                               self.with_instance_edge, normalized.device, normalized.dtype)
        gamma, beta = run_modulation_network(self, segmap)
        return normalized * (1 + gamma) + beta
