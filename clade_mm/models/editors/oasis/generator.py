"""OASIS's generator: SPADE residual blocks conditioned on the one-hot map with 3D noise."""
import inspect
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmagic.registry import MODELS

from ....layers import LayoutInput, semantic_layout
from ....layers.noise_spade import noise_map_input
from ..spade.generator import (SemanticResBlock, generator_inputs, generator_layout,
                               init_spade_weights, latent_size, norm_class)

# Channels of the blocks' inputs and the last block's output, in units of base_channels.
BLOCK_WIDTHS = (16, 16, 16, 8, 4, 2, 1)


def _with_noise(norm_cfg: dict, z_channels: int) -> dict:
    """``norm_cfg`` with the generator's ``z_channels`` for a norm that reads the 3D noise
    (one whose constructor takes ``z_channels``); other norms (CLADE) as they are."""
    norm_cls = norm_class(norm_cfg)
    if norm_cls is not None and 'z_channels' in inspect.signature(norm_cls).parameters:
        if not z_channels:
            raise ValueError(f"norm_cfg type {norm_cfg['type']!r} reads the 3D noise, but the "
                             'generator has z_channels=0: set z_channels (64 in OASIS) or '
                             'choose a norm without noise')
        return {'z_channels': z_channels, **norm_cfg}
    return dict(norm_cfg)


@MODELS.register_module()
class OASISGenerator(BaseModule):
    """Label map (+ 3D noise) to image: OASIS's generator, with any norm of the zoo.

    ``fc`` (3x3 conv of the noise and the one-hot map at 1/32 of the image) -> ``body.0`` ->
    up -> ``body.1`` -> up -> ... -> ``body.5`` -> LeakyReLU -> ``conv_img`` -> tanh; nearest x2
    upsampling; block widths 16, 16, 8, 4, 2, 1 x ``base_channels`` after a first 16.

    The 3D noise ``noise_3d`` (``(N, z_channels, H, W)``, the published ``z``; drawn per image
    when not given) enters the first convolution and every norm that reads it: OASIS's
    ``NoiseSPADE`` convolves it with the one-hot map. A norm without a convolution over the
    map (CLADE) does not read it; then the noise enters through the first convolution only
    (``configs/oasis/README.md`` measures that against no noise at all, ``z_channels=0``).

    Args:
        num_classes: semantic classes ``N_c`` (including a don't-care class).
        norm_cfg: the norm of every block, ``dict(type='NoiseSPADE')`` as published;
            ``z_channels`` is filled in for a norm that takes it.
        base_channels: ``channels_G`` (64 in the paper).
        z_channels: of the 3D noise (64 in the paper); 0: none (the published
            ``--no_3dnoise``).
        spectral_norm: on the blocks' convolutions (as published).

    Shapes:
        ``forward(labels: (N, H, W) int64, noise_3d=None) -> (N, 3, H, W)`` in ``[-1, 1]``, ``H, W``
        multiples of 32.
    """
    num_ups = len(BLOCK_WIDTHS) - 2

    def __init__(self, num_classes: int, norm_cfg: dict = dict(type='NoiseSPADE'),
                 base_channels: int = 64, z_channels: int = 64, spectral_norm: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if z_channels < 0:
            raise ValueError(f'z_channels must be >= 0, got {z_channels}')
        self.num_classes = num_classes
        self.z_channels = z_channels
        self.latent_size = None  # any size whose sides divide by 32
        self.noise_input = noise_map_input(z_channels) if z_channels else None
        widths = [w * base_channels for w in BLOCK_WIDTHS]
        block_norm = _with_noise(norm_cfg, z_channels)
        self.fc = nn.Conv2d(z_channels + num_classes, widths[0], 3, padding=1)
        self.body = nn.ModuleList(
            SemanticResBlock(fin, fout, block_norm, num_classes, spectral_norm=spectral_norm)
            for fin, fout in zip(widths[:-1], widths[1:]))
        self.conv_img = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def layout_inputs(self) -> Tuple[LayoutInput, ...]:
        """The 3D noise, then what the norms read, each once."""
        return generator_inputs(self, (self.noise_input, ) if self.noise_input else ())

    def _latent_size(self, size: Tuple[int, int]) -> Tuple[int, int]:
        return latent_size(size, self.num_ups, 'the OASIS generator')

    def init_weights(self):
        """Xavier-normal (gain 0.02) convs, zero biases, as published."""
        super().init_weights()
        if self.init_cfg is None:
            init_spade_weights(self)

    def forward(self, labels: Tensor, **inputs: Optional[Tensor]) -> Tensor:
        layout = generator_layout(self, labels, inputs)
        latent = self._latent_size(tuple(layout.labels.shape[-2:]))
        device, dtype = labels.device, self.fc.weight.dtype
        with semantic_layout(layout):
            x = layout.one_hot_at(latent, self.num_classes, device, dtype)
            if self.noise_input is not None:  # the published order: noise, then the map
                noise = layout.at(self.noise_input, latent, device, type(self).__name__)
                x = torch.cat([noise.to(dtype), x], 1)
            x = self.fc(x)
            for index, block in enumerate(self.body):
                if index:
                    x = F.interpolate(x, scale_factor=2, mode='nearest')
                x = block(x)
            return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))
