"""SPADE with 3D noise: OASIS's norm (Sushko et al., "You Only Need Adversarial Supervision for
Semantic Image Synthesis", ICLR 2021). SPADE's modulation network reads a noise map beside the
one-hot label map, so one label map gives many images and the noise of a region can be drawn
again alone.

Registered as ``'NoiseSPADE'``. What the rest of the package reads (see
:mod:`clade_mm.layers.base`):

* layout inputs: ``noise_3d`` ``(N, z_channels, H, W)``, the 3D noise (``z`` to a caller, as
  the published code names it); drawn when not given as the
  published code draws it (one N(0, 1) vector per sample, the same at every pixel); a caller
  may give one vector per sample (expanded over the map) or a whole map, whose pixels of
  chosen classes can then be drawn anew (local re-sampling). With instance edges, the
  instance map too.
* float32: the parameter-free norm (as SPADE).
* fusion: at inference (no gradient) the shared convolution's one-hot part is a gather: the
  one-hot map is constant on each class's region, so its 3x3 convolution is, per pixel, the
  sum of the 9 weight columns of the classes found at its taps (``F.embedding_bag``, a zero
  row outside the image); exact, without the ``N_c``-channel input. Training runs the
  published convolution of the concatenated map.
* complexity: SPADE's with ``z_channels`` more input channels of the shared convolution,
  ``9 ((N_c + z_channels) h + 2 h C)`` parameters; at inference the one-hot part costs 9
  additions of ``h`` per pixel instead of ``9 N_c h`` multiply-adds.
"""
import functools

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor

from .base import ConditionalNorm
from .layout import LayoutInput, SemanticLayout, class_taps
from .spade import SPADE, add_modulation_network, layout_segmap, run_modulation_network


def _expanded_noise(batch: int, z_channels: int, size, noise: Tensor) -> Tensor:
    return noise.view(batch, z_channels, 1, 1).expand(batch, z_channels, *size)


def _draw_noise(z_channels: int, layout: SemanticLayout, device: torch.device) -> Tensor:
    noise = torch.randn(layout.batch_size, z_channels, device=device)
    return _expanded_noise(layout.batch_size, z_channels, layout.labels.shape[-2:], noise)


def _sample_noise(z_channels: int, labels: Tensor, rng: torch.Generator) -> Tensor:
    noise = torch.randn(labels.shape[0], z_channels, generator=rng).to(labels.device)
    return _expanded_noise(labels.shape[0], z_channels, labels.shape[-2:], noise)


@functools.lru_cache(maxsize=None)
def noise_map_input(z_channels: int) -> LayoutInput:
    """The declaration of the 3D noise of ``z_channels`` channels: one object per size, so that
    the generator's first convolution and every norm declare the same input."""
    return LayoutInput(
        'noise_3d', f'(N, {z_channels}, H, W) float32 3D noise',
        f'drawn from N(0, 1) when not given, one vector per image; give z=... in '
        f'SemanticSynthesizer.synthesize as ({z_channels},) or ({z_channels}, H, W)',
        channels=z_channels, random=True, vector_per_sample=True, aliases=('z', ),
        default=functools.partial(_draw_noise, z_channels),
        sample=functools.partial(_sample_noise, z_channels))


@MODELS.register_module(name='NoiseSPADE')
class NoiseSPADE(SPADE):
    """``out = norm(x) * (1 + gamma(z, m)) + beta(z, m)``: SPADE whose modulation network reads
    the 3D noise ``z`` concatenated before the one-hot map (the published channel order).

    Args:
        z_channels: of the noise (64 in the paper; OASIS's generator fills in its own).
        Others as :class:`~clade_mm.layers.spade.SPADE`.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``; the layout's ``noise_3d`` is ``(N, z_channels, H',
        W')`` at the label map's size.
    """
    _abbr_ = 'noise_spade'

    def __init__(self, num_features: int, num_classes: int, z_channels: int = 64,
                 param_free_norm: str = 'BN', eps: float = 1e-5, momentum: float = 0.1,
                 with_instance_edge: bool = False, hidden_channels: int = 128,
                 kernel_size: int = 3):
        if z_channels < 1:
            raise ValueError(f'NoiseSPADE needs z_channels >= 1, got {z_channels}; a SPADE '
                             "without noise is norm_cfg=dict(type='SPADE')")
        ConditionalNorm.__init__(self, num_features, num_classes, param_free_norm, eps, momentum,
                                 with_instance_edge)
        self.z_channels = z_channels
        add_modulation_network(self, z_channels + num_classes + int(with_instance_edge),
                               num_features, hidden_channels, kernel_size)
        self.noise_input = noise_map_input(z_channels)

    def layout_inputs(self):
        return super().layout_inputs() + (self.noise_input, )

    def paper_params(self) -> int:
        hidden = self.mlp_shared[0].out_channels
        return 9 * ((self.num_classes + self.z_channels) * hidden +
                    2 * hidden * self.num_features)

    def modulate(self, normalized: Tensor, layout: SemanticLayout) -> Tensor:
        size, device, dtype = normalized.shape[-2:], normalized.device, normalized.dtype
        noise = layout.at(self.noise_input, size, device, type(self).__name__).to(dtype)
        if torch.is_grad_enabled() or self.with_instance_edge:
            segmap = layout_segmap(layout, size, self.num_classes, self.with_instance_edge,
                                   device, dtype)
            gamma, beta = run_modulation_network(self, torch.cat([noise, segmap], 1))
        else:
            shared = F.relu(self._shared_by_gather(noise, layout))
            gamma, beta = self.mlp_gamma(shared), self.mlp_beta(shared)
        return normalized * (1 + gamma) + beta

    def _shared_by_gather(self, noise: Tensor, layout: SemanticLayout) -> Tensor:
        """``mlp_shared``'s convolution (before its ReLU) with the one-hot part as a gather:
        per pixel the sum over the taps of the weight column of the class found there (zero
        outside the image, the convolution's padding), the noise part convolved. Exactly the
        convolution, without its ``N_c``-channel input; for inference (no gradient)."""
        conv = self.mlp_shared[0]
        n, _, h, w = noise.shape
        kernel = conv.kernel_size[0]
        out = F.conv2d(noise, conv.weight[:, :self.z_channels], conv.bias,
                       padding=conv.padding)
        classes, taps = class_taps(layout, (h, w), kernel, noise.device)
        # (taps, K + 1, hidden): the weight of class classes[k] at each tap, then a zero row
        table = conv.weight[:, self.z_channels:][:, classes].permute(2, 3, 1, 0).reshape(
            kernel * kernel, classes.numel(), -1)
        table = F.pad(table, (0, 0, 0, 1))
        table = table.expand(n, *table.shape).reshape(-1, table.shape[-1])
        gathered = F.embedding_bag(taps, table, mode='sum').view(n, h, w, -1)
        return out + gathered.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', z_channels={self.z_channels}'
