"""SEAN's region style encoder (the published ``Zencoder``): a photo and its label map in, one
style code per class out, the mean of a convolutional feature map over the class's region."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmagic.registry import MODELS

from ....layers import LayoutError, SemanticLayout, resize_nearest
from ....layers.label_map import as_label_batch, region_means
from ....layers.sean import style_codes_input


@MODELS.register_module()
class RegionStyleEncoder(BaseModule):
    """Photo + label map -> ``(N, num_classes, style_channels)`` style codes.

    Reflection-padded Conv3x3 (``ngf``), two stride-2 Conv3x3 (``2 ngf``, ``4 ngf``), one
    stride-2 transposed Conv3x3 (``8 ngf``), each followed by instance norm and LeakyReLU(0.2),
    then a reflection-padded Conv3x3 to ``style_channels`` and tanh: a feature map at half the
    photo's size, averaged over each class's pixels (the label map resized with nearest
    neighbour). A class without pixels there gets the zero code, as in the published code.
    The layers keep the published ``model.<index>`` names.

    Args:
        num_classes: of the label maps (the generator's, filled in by it).
        style_channels: of a code (512 in the published models; the norms' ``style_channels``).
        base_channels: ``ngf`` (32 in the published models).

    Shapes: ``forward(images (N, 3, H, W), labels (N, H, W) or (N, 1, H, W)) -> (N,
    num_classes, style_channels)``, ``H, W`` multiples of 4.
    """
    # Codes are per class: a style photo needs its label map, and single classes can take
    # their codes from other photos (SemanticSynthesizer.encode_styles, --style-for).
    needs_reference_labels = True
    per_class_codes = True

    def __init__(self, num_classes: int, style_channels: int = 512, base_channels: int = 32,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.style_channels = style_channels
        self.codes_input = style_codes_input(num_classes, style_channels)
        ngf = base_channels

        def norm_act(channels):
            return [nn.InstanceNorm2d(channels, affine=False), nn.LeakyReLU(0.2)]

        layers = [nn.ReflectionPad2d(1), nn.Conv2d(3, ngf, 3), *norm_act(ngf)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                       *norm_act(ngf * mult * 2)]
        layers += [nn.ConvTranspose2d(ngf * 4, ngf * 8, 3, stride=2, padding=1,
                                      output_padding=1), *norm_act(ngf * 8)]
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(ngf * 8, style_channels, 3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        labels = as_label_batch(labels, 'the style photos\' label maps')
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f'{type(self).__name__} takes (N, 3, H, W) photos, got shape '
                             f'{tuple(images.shape)}')
        if images.shape[0] != labels.shape[0] or images.shape[-2:] != labels.shape[-2:]:
            raise LayoutError(
                f'the style photos are {tuple(images.shape[-2:])} (N={images.shape[0]}) but '
                f'their label maps {tuple(labels.shape[-2:])} (N={labels.shape[0]}): give each '
                'photo the label map of its own pixels, at the same size')
        if images.shape[-2] % 4 or images.shape[-1] % 4:
            raise ValueError(f'style photos of {images.shape[-2]}x{images.shape[-1]}: both sides '
                             'must divide by 4 (the encoder halves twice and doubles once)')
        features = self.model(images)
        ids = resize_nearest(labels[:, None].to(features.device), features.shape[-2:])[:, 0]
        return region_means(features, ids, self.num_classes)

    def encode(self, images: Tensor, layout: SemanticLayout, sample: bool = True,
               generator: Optional[torch.Generator] = None, target=None
               ) -> Tuple[Dict[str, Tensor], List[Tuple[Tensor, Tensor]]]:
        """``{'style_codes': ...}`` of ``images`` with their label maps (``layout``); the codes
        are per class, so they serve any ``target`` layout as they are. Deterministic (no
        posterior: SEAN trains without a KL loss)."""
        layout.check_classes(self.num_classes, type(self).__name__)
        return {self.codes_input.name: self(images, layout.labels.to(images.device))}, []
