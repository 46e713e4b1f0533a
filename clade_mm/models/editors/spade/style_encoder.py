"""The style encoder of multi-modal and style-guided synthesis (SPADE's VAE encoder)."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmagic.registry import MODELS

from ...spectral_norm import SpectralNormConv2d


@MODELS.register_module()
class StyleEncoder(BaseModule):
    """Image -> ``(mu, logvar)`` of the style code ``z``.

    The image is resized to ``input_size``, then six stride-2 Conv3x3 (ngf, 2, 4, 8, 8, 8 ngf),
    each spectrally normalised with instance norm and LeakyReLU(0.2), then two
    ``Linear(8 ngf * s * s -> z_channels)`` with ``s = input_size / 64``.

    Shapes: ``(N, 3, H, W) -> ((N, z_channels), (N, z_channels))``.

    Encoders of a generator (its ``style_encoder``) share one call, :meth:`encode`: what the
    generator and the synthesis API use, whatever the encoder gives the generator.
    """
    # One code for the whole image: a reference photo needs no label map.
    needs_reference_labels = False

    def __init__(self, base_channels: int = 64, z_channels: int = 256, input_size: int = 256,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if input_size % 64 or input_size < 128:
            raise ValueError(f'input_size={input_size} must be a multiple of 64 and at least '
                             '128 (instance norm needs more than one pixel after six halvings)')
        self.input_size = input_size
        widths = [base_channels * m for m in (1, 2, 4, 8, 8, 8)]
        layers, channels = [], 3
        for width in widths:
            layers += [SpectralNormConv2d(channels, width, 3, stride=2, padding=1),
                       nn.InstanceNorm2d(width, affine=False), nn.LeakyReLU(0.2)]
            channels = width
        self.layers = nn.Sequential(*layers)
        flat = channels * (input_size // 64) ** 2
        self.fc_mu = nn.Linear(flat, z_channels)
        self.fc_var = nn.Linear(flat, z_channels)

    def forward(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        if images.shape[-2:] != (self.input_size, self.input_size):
            images = F.interpolate(images, size=(self.input_size, self.input_size),
                                   mode='bilinear', align_corners=False)
        x = self.layers(images).flatten(1)
        return self.fc_mu(x), self.fc_var(x)

    def encode(self, images: Tensor, layout=None, sample: bool = True,
               generator: Optional[torch.Generator] = None, target=None
               ) -> Tuple[Dict[str, Tensor], List[Tuple[Tensor, Tensor]]]:
        """The generator's inputs that give it the style of ``images`` (``{'z': ...}``: the
        reparameterised ``mu + eps * exp(logvar / 2)``, or ``mu`` without ``sample``) and the
        posteriors ``[(mu, logvar)]`` for the KL loss. ``layout`` and ``target`` (the label
        maps of the images and of what is synthesised) are not needed: the code is global."""
        mu, logvar = self(images)
        z = mu
        if sample:
            z = mu + torch.randn(mu.shape, generator=generator).to(mu.device) * \
                torch.exp(0.5 * logvar)
        return {'z': z}, [(mu, logvar)]
