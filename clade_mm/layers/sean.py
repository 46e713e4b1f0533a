"""SEAN's ACE: semantic region-adaptive normalization (Zhu et al., "SEAN: Image Synthesis with
Semantic Region-Adaptive Normalization", CVPR 2020). A SPADE modulation and a modulation from
one style code per class, blended by two learned weights.

Registered as ``'SEAN'``. What the rest of the package reads (see :mod:`clade_mm.layers.base`):

* layout inputs: ``style_codes`` ``(N, N_c, style_channels)``, row ``j`` the style code of class
  ``j`` (from a photo and its label map by the region style encoder,
  :class:`~clade_mm.models.editors.sean.RegionStyleEncoder`, or given); required, as a style
  is what SEAN synthesises from. ``noise_seed`` ``(N,)`` int64: each sample's per-pixel noise
  comes from a generator seeded with it, every layer drawing in call order as the published
  code draws from the global generator (so a published image is reproduced from the seed it
  was made with); drawn when not given. Layers built with ``with_style=False`` (the published
  last block) read only ``noise_seed``.
* float32: the parameter-free norm.
* fusion: the style map SEAN convolves is constant on each region, so its 3x3 convolution is,
  at each pixel, the sum over the 9 taps of ``W_tap @ code'[class at the tap]`` with
  ``code' = ReLU(projection_class(code_class))``. The layer computes these per-class products
  once per image for the classes present (``9 x K`` rows of ``2C``) and gathers 9 of them per
  pixel (``embedding_bag``), out of the image gathering the zero row: exactly the convolution,
  zero padding included, without the ``style_channels``-wide map. ``style_path='dense'`` keeps
  the published formula (broadcast the codes, then the two convolutions) as the reference.
* complexity: the SPADE branch's three convolutions, ``N_c`` projections of
  ``style_channels^2``; per image ``K (style_channels^2 + 9 x style_channels x 2C)`` for the
  ``K`` classes present, then ``9 x 2C`` additions per pixel (the dense path:
  ``9 x style_channels x 2C`` multiply-adds per pixel).
"""
import functools
from typing import Iterable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor

from .base import ConditionalNorm
from .layout import LayoutInput, SemanticLayout, class_taps
from .spade import SPADEModulation, layout_segmap

STYLE_PATHS = ('gather', 'dense')


def _sample_codes(num_classes: int, style_channels: int, labels: Tensor,
                  rng: torch.Generator) -> Tensor:
    # the encoder's codes are region means of a tanh: within [-1, 1]
    codes = torch.rand(labels.shape[0], num_classes, style_channels, generator=rng) * 2 - 1
    return codes.to(labels.device)


@functools.lru_cache(maxsize=None)
def style_codes_input(num_classes: int, style_channels: int) -> LayoutInput:
    """The declaration of the style codes of ``num_classes`` classes: one object per size, so
    that every SEAN layer of a generator declares the same input."""
    return LayoutInput(
        'style_codes',
        f'(N, {num_classes}, {style_channels}) float32: row j, the style code of class j',
        'give a style photo with its label map (style=..., style_labels=... in '
        'SemanticSynthesizer.synthesize; --style PHOTO --style-labels MAP on the command line) '
        'or the codes themselves (style_codes=..., e.g. from SemanticSynthesizer.encode_styles)',
        spatial=False, size=(num_classes, style_channels),
        sample=functools.partial(_sample_codes, num_classes, style_channels))


def _seeds(count: int, device: torch.device, rng: Optional[torch.Generator] = None) -> Tensor:
    return torch.randint(0, 2 ** 31 - 1, (count, ), generator=rng).to(device)


NOISE_SEED = LayoutInput(
    'noise_seed', '(N,) int64: the seed of each sample\'s per-pixel noise',
    'drawn when not given; give one seed per label map to repeat an image', spatial=False,
    integer=True, random=True, size=(),
    default=lambda layout, device: _seeds(layout.batch_size, device),
    sample=lambda labels, rng: _seeds(labels.shape[0], labels.device, rng))


class StyleProjections(nn.Module):
    """One ``Linear(style_channels, style_channels)`` per class, as one bank (the published
    ``fc_mu<j>``, any class count): ``weight[j]`` ``(out, in)`` and ``bias[j]`` ``(out,)``.

    Each class's rows are a parameter of their own, not a slice of one tensor: a class absent
    from a batch then gets no gradient, and Adam leaves its weights and moments alone, as it
    leaves the published code's unused ``fc_mu<j>``; and an update touches the classes present
    only (ADE20k's bank holds 151 x 512 x 512 values per norm). Initialised as the published
    generator initialises its linears (Xavier-normal, gain 0.02, zero bias).
    """

    def __init__(self, num_classes: int, style_channels: int):
        super().__init__()
        self.weight = nn.ParameterList(
            nn.Parameter(nn.init.xavier_normal_(torch.empty(style_channels, style_channels),
                                                gain=0.02)) for _ in range(num_classes))
        self.bias = nn.ParameterList(nn.Parameter(torch.zeros(style_channels))
                                     for _ in range(num_classes))

    def forward(self, codes: Tensor, classes: Tensor) -> Tensor:
        """``ReLU(projection_j(codes[:, k]))`` for ``j = classes[k]``: ``(N, K, out)`` from
        ``codes`` ``(N, K, in)``."""
        return torch.stack([F.relu(F.linear(codes[:, k], self.weight[j].to(codes.dtype),
                                            self.bias[j].to(codes.dtype)))
                            for k, j in enumerate(classes.tolist())], 1)

    def extra_repr(self) -> str:
        return f'num_classes={len(self.weight)}, style_channels={self.weight[0].shape[0]}'


class StyleConvolution(nn.Module):
    """A ``k x k`` convolution (zero padding ``k // 2``) from ``in_channels`` to
    ``out_channels`` whose weight is kept by tap: ``weight`` ``(in, k * k, out)``, ``bias``
    ``(out,)`` (the published ``conv_gamma``, ``conv_beta``).

    SEAN multiplies each class's code by this weight as the ``(in, k * k * out)`` matrix
    (:meth:`tap_matrix`), which is then a view, and the product's gradient comes back in the
    parameter's own layout; in ``nn.Conv2d``'s layout, ``(out, in, k, k)``, the weight would be
    copied into that matrix in every forward and its gradient copied back in every backward
    (millions of values per layer and step). :meth:`conv_weight` is the ``nn.Conv2d`` view, for
    the dense reference path. A state dict in ``nn.Conv2d``'s layout (the published one, and
    this project's before the change) loads too (:meth:`weight_from_conv`). Initialised as the
    published generator initialises its convolutions (Xavier-normal on ``(out, in, k, k)``,
    gain 0.02, zero bias).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(in_channels, kernel_size ** 2, out_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.xavier_normal_(self.conv_weight(), gain=0.02)

    @staticmethod
    def weight_from_conv(weight: Tensor) -> Tensor:
        """An ``nn.Conv2d`` weight ``(out, in, k, k)`` in this layout, ``(in, k * k, out)``."""
        return weight.permute(1, 2, 3, 0).reshape(weight.shape[1], -1, weight.shape[0])

    def conv_weight(self) -> Tensor:
        """The weight as ``nn.Conv2d`` takes it, ``(out, in, k, k)`` (a view)."""
        k = self.kernel_size
        return self.weight.view(self.weight.shape[0], k, k, -1).permute(3, 0, 1, 2)

    def tap_matrix(self) -> Tensor:
        """``(in, k * k * out)`` (a view): column ``t * out + c`` is tap ``t = ky * k + kx``,
        output channel ``c``."""
        return self.weight.view(self.weight.shape[0], -1)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.conv_weight().to(x.dtype), self.bias.to(x.dtype),
                        padding=self.kernel_size // 2)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        weight = state_dict.get(prefix + 'weight')
        if weight is not None and weight.dim() == 4:
            state_dict[prefix + 'weight'] = self.weight_from_conv(weight)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        in_channels, _, out_channels = self.weight.shape
        return f'{in_channels}, {out_channels}, kernel_size={self.kernel_size}'


@MODELS.register_module(name='SEAN')
class SEAN(ConditionalNorm):
    """ACE: ``out = norm(x + noise) * (1 + gamma) + beta`` with
    ``gamma = a * gamma_style + (1 - a) * gamma_spade``, ``a = sigmoid(blending_gamma)`` (and
    ``beta`` likewise with ``blending_beta``). ``gamma_spade``, ``beta_spade`` are SPADE's
    (:class:`~clade_mm.layers.spade.SPADEModulation`); ``gamma_style``, ``beta_style`` are
    ``conv_gamma``, ``conv_beta`` (``style_channels -> C``) of the map holding, at each pixel,
    ``ReLU(projection_c(style_codes[c]))`` of its class ``c``. ``noise`` is one N(0, 1) value
    per pixel times ``noise_var`` per channel.

    Args:
        style_channels: of a style code (512 in the published models).
        with_style: the style branch (the published ``use_rgb``; ``False`` in the published
            generator's last block: SPADE's modulation alone).
        style_path: ``'gather'`` (per-class products gathered per tap, the default; exact) or
            ``'dense'`` (the published broadcast-then-convolve, as the reference).
        hidden_channels, kernel_size: of the SPADE branch and of the style convolutions.
        with_instance_edge: must be ``False``: the style codes are per class.
        Others as :class:`~clade_mm.layers.base.ConditionalNorm`.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``.
    """
    _abbr_ = 'sean'

    def __init__(self, num_features: int, num_classes: int, param_free_norm: str = 'BN',
                 eps: float = 1e-5, momentum: float = 0.1, with_instance_edge: bool = False,
                 style_channels: int = 512, with_style: bool = True, style_path: str = 'gather',
                 hidden_channels: int = 128, kernel_size: int = 3):
        if with_instance_edge:
            raise ValueError(
                'SEAN does not condition on instance edges: its style codes are per class. '
                'Build the generator with with_instance_edge=False (the discriminator can '
                'still take the edges).')
        if style_path not in STYLE_PATHS:
            raise ValueError(f'style_path={style_path!r}; choose one of {", ".join(STYLE_PATHS)}')
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        super().__init__(num_features, num_classes, param_free_norm, eps, momentum, False)
        self.style_channels = style_channels
        self.with_style = with_style
        self.style_path = style_path
        self.kernel_size = kernel_size
        self.spade = SPADEModulation(num_classes, num_features, hidden_channels, kernel_size)
        self.noise_var = nn.Parameter(torch.zeros(num_features))
        if with_style:
            self.codes_input = style_codes_input(num_classes, style_channels)
            self.style_projections = StyleProjections(num_classes, style_channels)
            self.conv_gamma = StyleConvolution(style_channels, num_features, kernel_size)
            self.conv_beta = StyleConvolution(style_channels, num_features, kernel_size)
            self.blending_gamma = nn.Parameter(torch.zeros(1))
            self.blending_beta = nn.Parameter(torch.zeros(1))

    # --- declarations --------------------------------------------------------------------
    def layout_inputs(self) -> Tuple[LayoutInput, ...]:
        return ((self.codes_input, ) if self.with_style else ()) + (NOISE_SEED, )

    def own_init_modules(self) -> Iterable[nn.Module]:
        return (self.style_projections, self.conv_gamma, self.conv_beta) \
            if self.with_style else ()

    def macs(self, x: Tensor, output: Tensor, submodule_macs: int) -> int:
        # the SPADE branch as measured (the style convolutions and projections run as
        # tables, not as modules); the style branch at its worst, every class present
        pixels = x.shape[0] * x.shape[2] * x.shape[3]
        if not self.with_style:
            return submodule_macs
        taps = self.kernel_size ** 2
        tables = x.shape[0] * self.num_classes * (
            self.style_channels ** 2 + taps * self.style_channels * 2 * self.num_features)
        return submodule_macs + tables + taps * 2 * self.num_features * pixels

    def paper_macs(self, height: int, width: int) -> int:
        spade = sum(p.numel() for p in self.spade.parameters() if p.dim() > 1)
        style = 0
        if self.with_style:
            style = self.kernel_size ** 2 * self.style_channels * 2 * self.num_features
        return (spade + style) * height * width

    # --- running -------------------------------------------------------------------------
    def pixel_noise(self, x: Tensor, layout: SemanticLayout) -> Tensor:
        """``(N, 1, H, W)`` N(0, 1) values: each sample's next draw of ``H x W`` from its
        seeded generator (drawn as the published ``randn(N, W, H, 1)``, then transposed).
        Kept per layer for the life of the layout, so a recomputed forward sees the same."""
        n, _, h, w = x.shape
        if torch.compiler.is_exporting():
            raise NotImplementedError(
                f'{self._owner()} draws its per-pixel noise from a generator seeded per sample, '
                'which an exported graph cannot hold: SEAN models are not exported (run them '
                'with SemanticSynthesizer or tools/synthesize.py)')

        def draw():
            generators = layout.cached(('sean_noise_generators', ), lambda: [
                torch.Generator().manual_seed(int(seed))
                for seed in layout.get(NOISE_SEED, torch.device('cpu'), self._owner())])
            return torch.stack([torch.randn(w, h, generator=g).t() for g in generators])[:, None]

        return layout.cached(('sean_noise', id(self), (h, w)), draw).to(x.device)

    def normalize_and_modulate(self, x: Tensor, layout: SemanticLayout) -> Tensor:
        noisy = torch.addcmul(x, self.pixel_noise(x, layout).to(x.dtype),
                              self.noise_var.to(x.dtype).view(1, -1, 1, 1))
        return self.modulate(self.param_free_norm(noisy), layout)

    def modulate(self, normalized: Tensor, layout: SemanticLayout) -> Tensor:
        size, device, dtype = normalized.shape[-2:], normalized.device, normalized.dtype
        segmap = layout_segmap(layout, size, self.num_classes, False, device, dtype)
        if not self.with_style:
            gamma, beta = self.spade(segmap)
            return normalized * (1 + gamma) + beta
        # The blend folded into what is small: (1 - a) into the SPADE branch's last convs
        # (and the 1 of 1 + gamma into its bias), a into the style tables; then two additions
        # and one multiply-add over the features.
        alpha_gamma = torch.sigmoid(self.blending_gamma)
        alpha_beta = torch.sigmoid(self.blending_beta)
        shared = self.spade.mlp_shared(segmap)
        conv_g, conv_b = self.spade.mlp_gamma, self.spade.mlp_beta
        scale = F.conv2d(shared, conv_g.weight * (1 - alpha_gamma).to(conv_g.weight.dtype),
                         conv_g.bias * (1 - alpha_gamma).to(conv_g.bias.dtype) + 1,
                         padding=conv_g.padding)
        shift = F.conv2d(shared, conv_b.weight * (1 - alpha_beta).to(conv_b.weight.dtype),
                         conv_b.bias * (1 - alpha_beta).to(conv_b.bias.dtype),
                         padding=conv_b.padding)
        blend = torch.cat([alpha_gamma.expand(self.num_features),
                           alpha_beta.expand(self.num_features)])
        style = self.style_modulation(layout, size, device, self.conv_gamma.weight.dtype, blend)
        style_gamma, style_beta = style.to(dtype).chunk(2, dim=1)
        return torch.addcmul(shift + style_beta, normalized, scale + style_gamma)

    def _codes(self, layout: SemanticLayout, device: torch.device) -> Tensor:
        return layout.get(self.codes_input, device, self._owner())

    def style_modulation(self, layout: SemanticLayout, size, device: torch.device,
                         dtype: torch.dtype, blend: Optional[Tensor] = None) -> Tensor:
        """``cat(gamma_style, beta_style)``: ``(N, 2C, h, w)``, times ``blend`` ``(2C,)``
        per channel if given (the blending weights, folded into the tables)."""
        if self.style_path == 'dense':
            out = self.style_modulation_dense(layout, size, device, dtype)
            return out if blend is None else out * blend.to(dtype).view(1, -1, 1, 1)
        classes, taps = class_taps(layout, tuple(size), self.kernel_size, device)
        codes = self._codes(layout, device).to(dtype)[:, classes]  # (N, K, S)
        projected = self.style_projections(codes, classes)  # (N, K, S)
        tables, bias = self._tap_products(projected, dtype)  # (N, K, taps, 2C), (2C,)
        n = projected.shape[0]
        if blend is not None:
            tables, bias = tables * blend.to(dtype), bias * blend.to(dtype)
        # ... as (N, taps, K + 1, 2C), row K the zero one that the image's outside gathers
        tables = F.pad(tables.transpose(1, 2), (0, 0, 0, 1))
        (h, w) = size
        out = F.embedding_bag(taps, tables.reshape(-1, tables.shape[-1]), mode='sum') + bias
        return out.view(n, h, w, -1).permute(0, 3, 1, 2)

    def _tap_products(self, projected: Tensor, dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
        """Per (sample, class) and tap, ``W_tap @ code'``: ``(N, K, taps, 2C)`` from the
        projected codes ``(N, K, S)`` (a matrix product per convolution), and the convolutions'
        biases."""
        n, k = projected.shape[:2]
        flat = projected.reshape(n * k, -1)
        tables = [(flat @ conv.tap_matrix().to(dtype)).view(n, k, self.kernel_size ** 2, -1)
                  for conv in (self.conv_gamma, self.conv_beta)]
        bias = torch.cat([self.conv_gamma.bias, self.conv_beta.bias]).to(dtype)
        return torch.cat(tables, -1), bias

    def style_modulation_dense(self, layout: SemanticLayout, size, device: torch.device,
                               dtype: torch.dtype) -> Tensor:
        """The published formula: the map of projected codes, then the two convolutions."""
        labels = layout.labels_at(size, device)
        classes, compact = torch.unique(labels, return_inverse=True)  # the published skips
        codes = self._codes(layout, device).to(dtype)                  # classes without pixels
        projected = self.style_projections(codes[:, classes], classes)  # (N, K, S)
        per_pixel = torch.gather(projected, 1, compact.flatten(1)[..., None].expand(
            -1, -1, projected.shape[-1]))  # (N, h*w, S)
        style_map = per_pixel.transpose(1, 2).reshape(codes.shape[0], -1, *size)
        return torch.cat([self.conv_gamma(style_map), self.conv_beta(style_map)], 1)

    def extra_repr(self) -> str:
        return (f'num_features={self.num_features}, num_classes={self.num_classes}, '
                f'style_channels={self.style_channels}, with_style={self.with_style}, '
                f'style_path={self.style_path!r}')
