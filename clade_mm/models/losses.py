"""The generator's extra losses: feature matching, VGG19 perceptual, KL (the GAN loss is mmagic's)."""
import os.path as osp
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmagic.registry import MODELS

# Indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in torchvision's vgg19().features.
VGG19_RELU_X_1 = (1, 6, 11, 20, 29)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@MODELS.register_module()
class FeatureMatchingLoss(nn.Module):
    """L1 between the discriminator's intermediate features of fake and real images.

    Averaged over scales (``loss_weight / num_scales`` each), summed over layers; the final
    logits are not matched and the real features are constants.

    Args:
        loss_weight: 10 in the paper.
        first_layer: match the intermediate features from this one on (0: all). INADE
            matches only the last (3 with four layers): its samples are meant to differ from
            the photo in the low-level features.
    """

    def __init__(self, loss_weight: float = 10.0, first_layer: int = 0):
        super().__init__()
        if first_layer < 0:
            raise ValueError(f'first_layer must be >= 0, got {first_layer}')
        self.loss_weight = loss_weight
        self.first_layer = first_layer

    def forward(self, fake_outputs: List[List[Tensor]],
                real_outputs: List[List[Tensor]]) -> Tensor:
        loss = 0
        for fake_scale, real_scale in zip(fake_outputs, real_outputs):
            if self.first_layer >= len(fake_scale) - 1:
                raise ValueError(f'FeatureMatchingLoss(first_layer={self.first_layer}) but the '
                                 f'discriminator has {len(fake_scale) - 1} intermediate '
                                 'features: lower first_layer')
            for fake, real in zip(fake_scale[self.first_layer:-1],
                                  real_scale[self.first_layer:-1]):
                loss = loss + F.l1_loss(fake, real.detach())
        return loss * self.loss_weight / len(fake_outputs)


@MODELS.register_module()
class VGG19PerceptualLoss(nn.Module):
    """Weighted L1 between VGG19 features (relu1_1 .. relu5_1) of fake and real images.

    The VGG19 weights come from a local file: torchvision's ``vgg19`` state dict (for example
    ``vgg19-dcbb9e9d.pth``), named by ``checkpoint``. Images in ``[-1, 1]`` are mapped to
    ImageNet's normalisation first.

    Args:
        checkpoint: path of the VGG19 weights; required.
        layer_weights: per layer, 1/32, 1/16, 1/8, 1/4, 1 in the paper.
        loss_weight: 10 in the paper.
    """

    def __init__(self, checkpoint: Optional[str],
                 layer_weights: Sequence[float] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0),
                 loss_weight: float = 10.0):
        super().__init__()
        if not checkpoint or not osp.isfile(osp.expanduser(checkpoint)):
            raise FileNotFoundError(
                f'VGG19 weights for the perceptual loss not found at {checkpoint!r}. Download '
                "torchvision's VGG19 ImageNet weights (vgg19-dcbb9e9d.pth) on a machine with "
                'network access, put the file there (or set perceptual_loss.checkpoint in the '
                'config to its path), or disable the loss with perceptual_loss=None.')
        from torchvision.models import vgg19
        features = vgg19(weights=None).features[:VGG19_RELU_X_1[-1] + 1]
        state = torch.load(osp.expanduser(checkpoint), map_location='cpu', weights_only=True)
        state = {k[len('features.'):]: v for k, v in state.items() if k.startswith('features.')}
        missing, _ = features.load_state_dict(state, strict=False)
        if missing:
            raise ValueError(f'{checkpoint} is not a torchvision VGG19 state dict: missing '
                             f'{", ".join(missing[:4])}...')
        self.features = features.eval().requires_grad_(False)
        self.layer_weights = tuple(layer_weights)
        self.loss_weight = loss_weight
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()  # a fixed feature extractor, whatever the model's mode
        return self

    def _relu_features(self, images: Tensor) -> List[Tensor]:
        x = ((images + 1) / 2 - self.mean) / self.std
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in VGG19_RELU_X_1:
                outputs.append(x)
        return outputs

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        loss = 0
        for weight, f, r in zip(self.layer_weights, self._relu_features(fake),
                                self._relu_features(real)):
            loss = loss + weight * F.l1_loss(f, r.detach())
        return loss * self.loss_weight


@MODELS.register_module()
class KLDivergenceLoss(nn.Module):
    """KL divergence of ``N(mu, exp(logvar))`` from ``N(0, 1)``, summed, times ``loss_weight``.

    Args:
        loss_weight: 0.05 in the paper.
    """

    def __init__(self, loss_weight: float = 0.05):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, mu: Tensor, logvar: Tensor) -> Tensor:
        return -0.5 * torch.sum(1 + logvar - mu.square() - logvar.exp()) * self.loss_weight
