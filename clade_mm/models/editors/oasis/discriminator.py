"""OASIS's discriminator: a U-Net that segments an image into the N classes and "fake"."""
from typing import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from mmagic.registry import MODELS

from ...spectral_norm import SpectralNormConv2d
from ..spade.generator import init_spade_weights


class ResidualBlockD(nn.Module):
    """The U-Net's residual block (published ``residual_block_D``, its module names kept):
    LeakyReLU(0.2) -> [nearest x2] -> 3x3 conv -> LeakyReLU -> 3x3 conv [-> 2x2 average pool],
    plus a shortcut (1x1 conv when the width changes); the first block has no leading
    activation and pools before its shortcut conv.

    Shapes: ``(N, fin, H, W) -> (N, fout, H', W')``, ``H' = H / 2`` down, ``2 H`` up.
    """

    def __init__(self, fin: int, fout: int, up: bool, first: bool = False,
                 spectral_norm: bool = True):
        super().__init__()
        conv = SpectralNormConv2d if spectral_norm else nn.Conv2d
        self.up = up
        self.first = first
        self.learned_shortcut = fin != fout
        if first:
            self.conv1 = nn.Sequential(conv(fin, fout, 3, 1, 1))
        elif up:
            self.conv1 = nn.Sequential(nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2),
                                       conv(fin, fout, 3, 1, 1))
        else:
            self.conv1 = nn.Sequential(nn.LeakyReLU(0.2), conv(fin, fout, 3, 1, 1))
        self.conv2 = nn.Sequential(nn.LeakyReLU(0.2), conv(fout, fout, 3, 1, 1))
        if self.learned_shortcut:
            self.conv_s = conv(fin, fout, 1, 1, 0)
        self.sampling = nn.Upsample(scale_factor=2) if up else nn.AvgPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        dx = self.conv2(self.conv1(x))
        if not self.up:
            dx = self.sampling(dx)
        return self.shortcut(x) + dx

    def shortcut(self, x: Tensor) -> Tensor:
        if self.up or self.first:  # resample before the 1x1 conv (cheaper down, as published)
            x = self.sampling(x)
        if self.learned_shortcut:
            x = self.conv_s(x)
        if not (self.up or self.first):
            x = self.sampling(x)
        return x


@MODELS.register_module()
class OASISDiscriminator(nn.Module):
    """Image -> per-pixel logits of ``num_classes + 1`` classes, class 0 "fake", class
    ``c + 1`` the semantic class ``c`` (the published N+1 layout).

    An encoder of ``len(channels)`` residual blocks that halve the size, a decoder of as many
    that double it, each joined to the encoder feature of its size, and a 1x1 conv to the
    logits (published ``OASIS_Discriminator``; its module names kept, so its ``D.pth``
    loads). Unlike SPADE's discriminator it does not see the label map: it has to find the
    classes itself, which is what makes it a segmenter (see ``OASISGAN``).

    Args:
        num_classes: semantic classes ``N_c``; the output has ``N_c + 1`` channels.
        channels: of the encoder blocks (the published 128, 128, 256, 256, 512, 512).
        last_channels: of the decoder's last block (64).
        spectral_norm: on every conv but the last (as published).

    Shapes: ``forward(images (N, 3, H, W)) -> (N, N_c + 1, H, W)``; ``H, W`` multiples of
    ``2 ** len(channels)``.
    """

    def __init__(self, num_classes: int,
                 channels: Sequence[int] = (128, 128, 256, 256, 512, 512),
                 last_channels: int = 64, spectral_norm: bool = True):
        super().__init__()
        self.num_classes = num_classes
        widths = [3] + list(channels)
        depth = len(channels)
        self.body_down = nn.ModuleList(
            ResidualBlockD(widths[i], widths[i + 1], up=False, first=i == 0,
                           spectral_norm=spectral_norm) for i in range(depth))
        ups = [ResidualBlockD(widths[-1], widths[-2], up=True, spectral_norm=spectral_norm)]
        ups += [ResidualBlockD(2 * widths[-1 - i], widths[-2 - i], up=True,
                               spectral_norm=spectral_norm) for i in range(1, depth - 1)]
        ups.append(ResidualBlockD(2 * widths[1], last_channels, up=True,
                                  spectral_norm=spectral_norm))
        self.body_up = nn.ModuleList(ups)
        self.layer_up_last = nn.Conv2d(last_channels, num_classes + 1, 1, 1, 0)

    def forward(self, images: Tensor) -> Tensor:
        factor = 2 ** len(self.body_down)
        if images.shape[-1] % factor or images.shape[-2] % factor:
            raise ValueError(f'the OASIS discriminator takes images whose sides divide by '
                             f'{factor}, got {images.shape[-2]}x{images.shape[-1]}')
        x = images
        skips = []
        for block in self.body_down:
            x = block(x)
            skips.append(x)
        x = self.body_up[0](x)
        for i in range(1, len(self.body_down)):
            x = self.body_up[i](torch.cat([skips[-i - 1], x], 1))
        return self.layer_up_last(x)

    def init_weights(self):
        """Xavier-normal (gain 0.02) convs, zero biases, as the published code initialises
        both networks."""
        init_spade_weights(self)
