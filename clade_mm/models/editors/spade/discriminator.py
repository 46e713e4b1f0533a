"""SPADE's multi-scale patch discriminator, conditioned on the label map."""
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmagic.registry import MODELS

from ....layers import SemanticLayout
from ...spectral_norm import SpectralNormConv2d, raw_weight


class PatchDiscriminator(nn.Module):
    """One scale: Conv4x4 layers (strides 2, 2, ..., 1) and a 1-channel Conv4x4 head.

    The first conv has neither spectral nor instance norm, the middle ones both, the head
    neither; LeakyReLU(0.2) after each but the head.

    Shapes: ``(N, in_channels, H, W) -> [features..., logits]``, the features of every layer
    (for feature matching) followed by the ``(N, 1, h, w)`` patch logits.
    """

    def __init__(self, in_channels: int, base_channels: int = 64, num_layers: int = 4,
                 max_channels: int = 512, spectral_norm: bool = True):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(in_channels, base_channels, 4, stride=2, padding=2),
                                nn.LeakyReLU(0.2))]
        channels = base_channels
        for index in range(1, num_layers):
            out = min(channels * 2, max_channels)
            stride = 1 if index == num_layers - 1 else 2
            conv_type = SpectralNormConv2d if spectral_norm else nn.Conv2d
            layers.append(nn.Sequential(
                conv_type(channels, out, 4, stride=stride, padding=2, bias=False),
                nn.InstanceNorm2d(out, affine=False), nn.LeakyReLU(0.2)))
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=2))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> List[Tensor]:
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs


@MODELS.register_module()
class MultiScaleDiscriminator(BaseModule):
    """Patch discriminators on the image at ``num_scales`` resolutions, each halving the last.

    The input is the one-hot label map (plus the instance edge map) concatenated with the image.

    Args:
        num_classes: ``N_c`` of the label maps.
        with_instance_edge: append the instance edge map to the input.
        num_scales: 2 in the paper; between scales, avg_pool(3, stride 2, pad 1).
        base_channels, num_layers, max_channels, spectral_norm: of each
            :class:`PatchDiscriminator`.

    Shapes:
        ``forward(images: (N, 3, H, W), labels: (N, H, W), **inputs)`` returns one list per
        scale, as :class:`PatchDiscriminator` does.
    """

    def __init__(self, num_classes: int, with_instance_edge: bool = False, num_scales: int = 2,
                 base_channels: int = 64, num_layers: int = 4, max_channels: int = 512,
                 spectral_norm: bool = True, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.with_instance_edge = with_instance_edge
        in_channels = num_classes + int(with_instance_edge) + 3
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, base_channels, num_layers, max_channels,
                               spectral_norm) for _ in range(num_scales))

    def init_weights(self):
        """Xavier-normal (gain 0.02) convs, zero biases, as the reference initialises D."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_normal_(raw_weight(module), gain=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def condition(self, images: Tensor, labels: Tensor, **inputs: Optional[Tensor]) -> Tensor:
        """The discriminator's input: one-hot labels [+ edges] and the image, channel-wise.
        Of the named layout ``inputs`` it reads ``instances`` (with instance edges)."""
        layout = SemanticLayout(labels, instances=inputs.get('instances'))
        layout.check_classes(self.num_classes, type(self).__name__)
        size = images.shape[-2:]
        maps = [layout.one_hot_at(size, self.num_classes, images.device, images.dtype)]
        if self.with_instance_edge:
            maps.append(layout.edges_at(size, images.device).to(images.dtype))
        return torch.cat(maps + [images], dim=1)

    def forward(self, images: Tensor, labels: Tensor,
                **inputs: Optional[Tensor]) -> List[List[Tensor]]:
        x = self.condition(images, labels, **inputs)
        results = []
        for index, scale in enumerate(self.scales):
            if index:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            results.append(scale(x))
        return results
