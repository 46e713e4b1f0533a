"""SPADE: spatially-adaptive normalization (Park et al., 2019), the baseline CLADE replaces.

Registered as ``'SPADE'``. It reads the instance map from the layout with instance edges (one
more input channel of its modulation network) and nothing else; a bfloat16 copy keeps only the
parameter-free norm in float32; it has no fused kernel (its cost is its three convolutions,
formula (2) of the CLADE paper: ``9 (N_c h + 2 h C)`` parameters with ``h`` hidden channels).
"""
import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor

from .base import ConditionalNorm
from .layout import SemanticLayout


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
        in_channels = num_classes + int(with_instance_edge)
        padding = kernel_size // 2
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, kernel_size, padding=padding), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden_channels, num_features, kernel_size, padding=padding)
        self.mlp_beta = nn.Conv2d(hidden_channels, num_features, kernel_size, padding=padding)

    def paper_params(self) -> int:
        hidden = self.mlp_shared[0].out_channels
        return 9 * (self.num_classes * hidden + 2 * hidden * self.num_features)  # formula (2)

    def modulate(self, normalized: Tensor, layout: SemanticLayout) -> Tensor:
        size, device = normalized.shape[-2:], normalized.device
        segmap = layout.one_hot_at(size, self.num_classes, device, normalized.dtype)
        if self.with_instance_edge:
            segmap = torch.cat([segmap, layout.edges_at(size, device).to(normalized.dtype)], 1)
        shared = self.mlp_shared(segmap)
        return normalized * (1 + self.mlp_gamma(shared)) + self.mlp_beta(shared)
