"""The SPADE-style generator whose every normalization is one config key (``norm_cfg``)."""
import inspect
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS as ROOT_MODELS
from torch import Tensor

from mmagic.registry import MODELS

from ....layers import (INSTANCES, ConditionalNorm, LayoutInput, SemanticLayout,
                        semantic_layout)
from ....layers.layout import unique_inputs
from ...spectral_norm import SpectralNormConv2d, raw_weight

UPSAMPLING_LAYERS = {'normal': 5, 'more': 6, 'most': 7}


def norm_class(norm_cfg: dict) -> Optional[type]:
    """The class ``norm_cfg['type']`` names (a class, or a name in mmengine's root registry,
    where mmcv's norms and the zoo's families are), ``None`` for a name it does not hold."""
    norm_type = norm_cfg['type']
    return norm_type if isinstance(norm_type, type) else ROOT_MODELS.get(norm_type)


def build_semantic_norm(norm_cfg: dict, num_features: int, num_classes: int,
                        with_instance_edge: bool) -> nn.Module:
    """A norm from ``norm_cfg``; conditional norms get the class count and edge flag."""
    cfg = dict(norm_cfg)
    norm_cls = norm_class(cfg)
    if norm_cls is not None and issubclass(norm_cls, ConditionalNorm):
        cfg.setdefault('num_classes', num_classes)
        cfg.setdefault('with_instance_edge', with_instance_edge)
    return build_norm_layer(cfg, num_features)[1]


def norm_out_channels(norm: nn.Module, num_features: int) -> int:
    """Channels a norm hands on: CLADE with instance edges appends one."""
    return getattr(norm, 'out_channels', num_features)


def generator_inputs(generator: nn.Module, own: Tuple[LayoutInput, ...]
                     ) -> Tuple[LayoutInput, ...]:
    """A generator's layout inputs: its ``own``, then those its norms declare, each once."""
    return unique_inputs(own + tuple(
        spec for m in generator.modules() if isinstance(m, ConditionalNorm)
        for spec in m.layout_inputs()))


def generator_layout(generator: nn.Module, labels: Tensor, inputs: dict) -> SemanticLayout:
    """The layout a generator runs in: its label map and named inputs, refusing inputs it does
    not read (a typo would otherwise be ignored) and class ids beyond its ``num_classes``."""
    known = {spec.name for spec in generator.layout_inputs()}
    unknown = sorted(name for name, value in inputs.items()
                     if value is not None and name not in known)
    if unknown:
        raise TypeError(f'{type(generator).__name__} got inputs it does not read: '
                        f'{", ".join(unknown)}; it reads {", ".join(sorted(known)) or "none"} '
                        'besides the label map')
    layout = SemanticLayout(labels, **inputs)
    layout.check_classes(generator.num_classes, type(generator).__name__)
    return layout


def latent_size(size: Tuple[int, int], num_ups: int, why: str) -> Tuple[int, int]:
    """The first feature map's size for images of ``size`` after ``num_ups`` x2 upsamplings,
    or a ``ValueError`` naming the sizes and ``why`` the generator upsamples that often."""
    factor = 2 ** num_ups
    if size[0] % factor or size[1] % factor:
        raise ValueError(
            f'image size {size[0]}x{size[1]} does not divide by 2**{num_ups} = {factor} '
            f'({why}): resize or crop to a multiple of {factor}, e.g. '
            f'{size[0] // factor * factor}x{size[1] // factor * factor}.')
    return size[0] // factor, size[1] // factor


def init_spade_weights(generator: nn.Module) -> None:
    """Xavier-normal (gain 0.02) convs and linears, zero biases, as SPADE (and OASIS) initialise
    their generators. What a norm declares in ``own_init_modules`` (CLADE's class-wise banks)
    keeps its own initialisation."""
    own_init = {id(m) for norm in generator.modules() if isinstance(norm, ConditionalNorm)
                for kept in norm.own_init_modules() for m in kept.modules()}
    for module in generator.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and id(module) not in own_init:
            weight = raw_weight(module)
            nn.init.xavier_normal_(weight, gain=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


class SemanticResBlock(nn.Module):
    """SPADE's residual block: ``conv_1(act(norm_1(conv_0(act(norm_0(x)))))) + shortcut(x)``.

    The shortcut is ``conv_s(norm_s(x))`` (1x1, no bias, no activation) when the channel count
    changes, else the identity. ``conv_0``, ``conv_1`` and ``conv_s`` are spectrally normalised.

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)``, inside a semantic layout.
    """

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict, num_classes: int,
                 with_instance_edge: bool = False, spectral_norm: bool = True):
        super().__init__()
        mid_channels = min(in_channels, out_channels)

        def norm(channels):
            return build_semantic_norm(norm_cfg, channels, num_classes, with_instance_edge)

        def conv(norm_layer, channels, out, kernel_size, bias=True):
            conv_type = SpectralNormConv2d if spectral_norm else nn.Conv2d
            return conv_type(norm_out_channels(norm_layer, channels), out, kernel_size,
                             padding=kernel_size // 2, bias=bias)

        self.norm_0 = norm(in_channels)
        self.conv_0 = conv(self.norm_0, in_channels, mid_channels, 3)
        self.norm_1 = norm(mid_channels)
        self.conv_1 = conv(self.norm_1, mid_channels, out_channels, 3)
        self.learned_shortcut = in_channels != out_channels
        if self.learned_shortcut:
            self.norm_s = norm(in_channels)
            self.conv_s = conv(self.norm_s, in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.conv_s(self.norm_s(x)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx), 0.2))
        return shortcut + dx


@MODELS.register_module()
class SemanticGenerator(BaseModule):
    """Label map to image, SPADE's generator with a configurable normalization.

    ``fc`` -> head_0 -> up -> middle_0 -> [up] -> middle_1 -> up -> up_0 -> up -> up_1 -> up ->
    up_2 -> up -> up_3 [-> up -> up_4] -> LeakyReLU -> conv_img -> tanh, nearest x2 upsampling.

    Args:
        num_classes: semantic classes ``N_c`` (including a don't-care class).
        norm_cfg: the norm of every block: ``dict(type='CLADE')``, ``'CLADE-ICPE'``,
            ``'SPADE'``, or a plain ``'BN'``/``'IN'`` for comparison. Conditional norms get
            ``num_classes`` and ``with_instance_edge`` filled in.
        base_channels: ``ngf`` (64 in the paper).
        num_upsampling_layers: ``'normal'`` (5), ``'more'`` (6) or ``'most'`` (7) upsamplings.
        with_instance_edge: condition on instance edges too (needs an instance map).
        z_channels: start from a code ``z`` of this length (256 in the paper) instead of the
            downsampled label map: multi-modal synthesis (``z`` random) and, with
            ``style_encoder``, style-guided synthesis (``z`` from a reference image).
        style_encoder: a :class:`~clade_mm.models.StyleEncoder` config (or another encoder
            with its ``encode`` call, e.g. INADE's instance encoder, SEAN's region encoder); it
            lives inside the generator so that the generator's optimizer and EMA cover it.
        block_norm_cfgs: per block name (``'head_0'``, ..., ``'up_3'``), keys that override
            ``norm_cfg`` in that block, e.g. ``dict(up_3=dict(with_style=False))`` (SEAN's
            last block).
        out_size: ``(H, W)`` of the images; needed only with ``z_channels`` (it fixes the size
            of the first feature map). Otherwise any size whose sides divide by
            ``2 ** num_upsampling_layers`` works.
        spectral_norm: on the residual blocks' convolutions.

    Shapes:
        ``forward(labels: (N, H, W) int64, **inputs) -> (N, 3, H, W)`` in ``[-1, 1]``.
        ``inputs`` are the named inputs of :meth:`layout_inputs`: ``instances`` ``(N, H, W)``
        ids with instance edges, ``z`` ``(N, z_channels)`` (random when not given) and what
        the norms read (CLADE-ICPE's ``position``...).
    """

    def __init__(self, num_classes: int, norm_cfg: dict = dict(type='CLADE'),
                 base_channels: int = 64, num_upsampling_layers: str = 'normal',
                 with_instance_edge: bool = False, z_channels: Optional[int] = None,
                 out_size: Optional[Sequence[int]] = None, spectral_norm: bool = True,
                 style_encoder: Optional[dict] = None, block_norm_cfgs: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_upsampling_layers not in UPSAMPLING_LAYERS:
            raise ValueError(f'num_upsampling_layers={num_upsampling_layers!r}; choose one of '
                             f'{", ".join(UPSAMPLING_LAYERS)}')
        self.num_classes = num_classes
        self.num_upsampling_layers = num_upsampling_layers
        self.num_ups = UPSAMPLING_LAYERS[num_upsampling_layers]
        self.with_instance_edge = with_instance_edge
        self.z_channels = z_channels
        nf = base_channels
        if z_channels is not None:
            if out_size is None:
                raise ValueError('a generator with z_channels needs out_size=(H, W)')
            self.latent_size = self._latent_size(tuple(out_size))
            # The published INADE generator calls this code noise_ins.
            self.z_input = LayoutInput(
                'z', f'(N, {z_channels}) float32 code', 'drawn from N(0, 1) when not given',
                spatial=False, random=True, default=self._random_z, size=(z_channels, ),
                aliases=('noise_ins', ),
                sample=lambda labels, rng: torch.randn(labels.shape[0], z_channels,
                                                       generator=rng).to(labels.device))
            self.fc = nn.Linear(z_channels, 16 * nf * self.latent_size[0] * self.latent_size[1])
        else:
            self.latent_size = None
            self.fc = nn.Conv2d(num_classes + int(with_instance_edge), 16 * nf, 3, padding=1)
        if style_encoder is not None:
            self.style_encoder = self._build_encoder(style_encoder, z_channels, num_classes)
        block_norm_cfgs = dict(block_norm_cfgs or {})

        def block(name, fin, fout):
            cfg = {**norm_cfg, **block_norm_cfgs.pop(name, {})}
            setattr(self, name, SemanticResBlock(fin, fout, cfg, num_classes,
                                                 with_instance_edge, spectral_norm))

        block('head_0', 16 * nf, 16 * nf)
        block('G_middle_0', 16 * nf, 16 * nf)
        block('G_middle_1', 16 * nf, 16 * nf)
        block('up_0', 16 * nf, 8 * nf)
        block('up_1', 8 * nf, 4 * nf)
        block('up_2', 4 * nf, 2 * nf)
        block('up_3', 2 * nf, nf)
        final_channels = nf
        if num_upsampling_layers == 'most':
            block('up_4', nf, nf // 2)
            final_channels = nf // 2
        if block_norm_cfgs:
            raise ValueError(f'block_norm_cfgs names blocks this generator does not have: '
                             f'{", ".join(sorted(block_norm_cfgs))}')
        self.conv_img = nn.Conv2d(final_channels, 3, 3, padding=1)

    @staticmethod
    def _build_encoder(cfg: dict, z_channels: Optional[int], num_classes: int) -> nn.Module:
        """The style encoder; one that codes ``z`` gets the generator's ``z_channels``, one
        that codes per class its ``num_classes``."""
        encoder_type = cfg['type']
        encoder_cls = encoder_type if isinstance(encoder_type, type) else MODELS.get(encoder_type)
        if encoder_cls is None:
            raise KeyError(f'style encoder type {encoder_type!r} is not registered')
        takes = inspect.signature(encoder_cls).parameters
        defaults = {}
        if 'z_channels' in takes:
            if z_channels is None:
                raise ValueError('a style encoder needs z_channels (the length of its code)')
            defaults['z_channels'] = z_channels
        if 'num_classes' in takes:
            defaults['num_classes'] = num_classes
        return MODELS.build(cfg, default_args=defaults)

    def _random_z(self, layout: SemanticLayout, device: torch.device) -> Tensor:
        return torch.randn(layout.batch_size, self.z_channels, device=device)

    def layout_inputs(self) -> Tuple[LayoutInput, ...]:
        """The named inputs of :meth:`forward`: this generator's own (``instances``, ``z``),
        then those its norms declare, each once."""
        own = ((INSTANCES, ) if self.with_instance_edge else ()) + \
            ((self.z_input, ) if self.z_channels is not None else ())
        return generator_inputs(self, own)

    def _latent_size(self, size: Tuple[int, int]) -> Tuple[int, int]:
        return latent_size(size, self.num_ups,
                           f"num_upsampling_layers='{self.num_upsampling_layers}'")

    def init_weights(self):
        """Xavier-normal (gain 0.02) convs and linears, zero biases, as in SPADE
        (:func:`init_spade_weights`)."""
        super().init_weights()
        if self.init_cfg is None:
            init_spade_weights(self)

    def forward(self, labels: Tensor, **inputs: Optional[Tensor]) -> Tensor:
        layout = generator_layout(self, labels, inputs)
        height, width = layout.labels.shape[-2:]
        latent = self._latent_size((height, width))
        if self.latent_size is not None and latent != self.latent_size:
            factor = 2 ** self.num_ups
            raise ValueError(f'this generator was built for {self.latent_size[0] * factor}x'
                             f'{self.latent_size[1] * factor} images (out_size), got '
                             f'labels of {height}x{width}')
        with semantic_layout(layout):
            if self.z_channels is not None:
                z = layout.get(self.z_input, labels.device, type(self).__name__)
                x = self.fc(z.to(self.fc.weight.dtype)).view(z.shape[0], -1, *latent)
                if self.conv_img.weight.is_contiguous(memory_format=torch.channels_last):
                    # a channels-last model (GeneratorInference): spare every conv a copy
                    x = x.contiguous(memory_format=torch.channels_last)
            else:
                x = layout.one_hot_at(latent, self.num_classes, labels.device, self.fc.weight.dtype)
                if self.with_instance_edge:
                    x = torch.cat([x, layout.edges_at(latent, labels.device).to(x.dtype)], 1)
                x = self.fc(x)
            x = self.head_0(x)
            x = self.G_middle_0(self._up(x))
            if self.num_upsampling_layers in ('more', 'most'):
                x = self._up(x)
            x = self.G_middle_1(x)
            for name in ('up_0', 'up_1', 'up_2', 'up_3', 'up_4'):
                if hasattr(self, name):
                    x = getattr(self, name)(self._up(x))
            return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))

    @staticmethod
    def _up(x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2, mode='nearest')
