"""INADE: instance-adaptive denormalization (Tan et al., "Diverse Semantic Image Synthesis via
Probability Distribution Modeling", CVPR 2021), CLADE's successor: CLADE's class-wise tables
become distributions, and every instance samples its own modulation from its class's.

Registered as ``'INADE'``. What the rest of the package reads (see :mod:`clade_mm.layers.base`):

* layout inputs: ``instances`` (required: the noise is per instance), ``instance_noise``
  ``(N, K, 2, noise_channels)`` with row ``k`` for instance id ``k`` (a scale noise and a shift
  noise), drawn from N(0, 1) when not given, once per layout, so every INADE layer of a
  generator reads the same draw (the published "consistent across the network"); with
  ``with_sketch`` also ``sketch``, an ``(N, 1, H, W)`` edge map.
* float32: the parameter-free norm, the class distributions and ``fc_noise``.
* fusion: the scale and shift of a pixel depend only on its (sample, class, instance) triple,
  and a label map holds few of them. The layer numbers the triples present (once per layout),
  computes one table row per triple (``std[class] * fc_noise(noise[instance]) + mean[class]``,
  a few dozen rows) and runs CLADE's fused kernels (:mod:`clade_mm.ops.class_norm`) with the
  triple map in place of the label map: training through ``class_adaptive_norm``, whose table
  gradients flow back into the distributions and ``fc_noise``; inference without gradients
  through ``class_affine_eval`` (float32 or bfloat16, NCHW or channels-last), which needs
  running statistics, as CLADE's. Export and other devices gather per pixel (no one-hot map
  either way).
* complexity: ``4 N_c C`` table parameters and ``noise_channels x C`` in ``fc_noise``; one
  value assignment per output element, plus ``fc_noise`` on ``2 K`` noise rows.
"""
import functools
from typing import Iterable, NamedTuple, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor

from ..ops import class_norm
from .base import ConditionalNorm
from .label_map import resize_nearest
from .layout import INSTANCES, LayoutInput, SemanticLayout

SAMPLE_NOISE_ROWS = 16  # rows of a sampled noise: the sampled instance maps hold ids 0..15


def _draw_noise(noise_channels: int, layout: SemanticLayout, device: torch.device) -> Tensor:
    instances = layout.get(INSTANCES, device, 'INADE')
    rows = int(instances.max()) + 1
    return torch.randn(layout.batch_size, rows, 2, noise_channels, device=device)


def _sample_noise(noise_channels: int, labels: Tensor, rng: torch.Generator) -> Tensor:
    return torch.randn(labels.shape[0], SAMPLE_NOISE_ROWS, 2, noise_channels,
                       generator=rng).to(labels.device)


@functools.lru_cache(maxsize=None)
def instance_noise_input(noise_channels: int) -> LayoutInput:
    """The declaration of the instance noise of ``noise_channels`` channels: one object per
    size, so that every INADE layer of a generator declares the same input."""
    return LayoutInput(
        'instance_noise',
        f'(N, K, 2, {noise_channels}) float32: row k, the scale and the shift noise of '
        'instance id k',
        'drawn from N(0, 1) when not given; give one row per instance id of the instance map '
        '(noise=... in SemanticSynthesizer.synthesize)',
        spatial=False, random=True, per_instance=True, size=(None, 2, noise_channels),
        aliases=('noise', ), default=functools.partial(_draw_noise, noise_channels),
        sample=functools.partial(_sample_noise, noise_channels))


SKETCH = LayoutInput(
    'sketch', '(N, 1, H, W) float32 edge map in [0, 1]',
    'give the sketch (edge) map of each label map; models built with with_sketch=True need it',
    channels=1, sample=lambda labels, rng: (torch.rand(
        labels.shape[0], 1, *labels.shape[-2:], generator=rng) > 0.9).float().to(labels.device))


class Triples(NamedTuple):
    """The (sample, class, instance) triples of a layout: ``ids`` ``(N, H, W)`` numbers them,
    and ``sample``, ``label``, ``instance`` ``(P,)`` say what triple ``p`` is."""
    ids: Tensor
    sample: Tensor
    label: Tensor
    instance: Tensor


def layout_triples(layout: SemanticLayout, device: torch.device) -> Triples:
    """The triples of ``layout`` at full resolution, computed once per layout (every INADE
    layer shares them). Resizing ``ids`` with nearest neighbour picks the same pixels as
    resizing the label and instance maps, so it serves every resolution."""

    def compute():
        labels = layout.labels.to(device)
        instances = layout.get(INSTANCES, device, 'INADE')
        classes = int(labels.max()) + 1
        rows = int(instances.max()) + 1
        batch = torch.arange(labels.shape[0], device=device).view(-1, 1, 1)
        key = (batch * classes + labels) * rows + instances
        unique, inverse = torch.unique(key, return_inverse=True)
        return Triples(inverse.view_as(labels), unique // (classes * rows),
                       (unique // rows) % classes, unique % rows)

    return layout.cached(('inade_triples', device), compute)


class ClassDistributions(nn.Module):
    """Per class and channel, the modulation distributions: ``std`` and ``mean`` ``(N_c, C, 2)``,
    the last axis (scale, shift). A pixel of class ``c`` and instance noise ``n`` is modulated
    with ``std[c] * n + mean[c]``.

    The parameters are not called ``weight``/``bias`` on purpose: generic initialisers (mmcv's
    ``constant_init`` in ``ConvModule.init_weights``) reset those of a norm to 1/0.
    """

    def __init__(self, num_classes: int, num_features: int):
        super().__init__()
        self.std = nn.Parameter(torch.empty(num_classes, num_features, 2).uniform_(0, 1))
        self.mean = nn.Parameter(torch.zeros(num_classes, num_features, 2))

    def extra_repr(self) -> str:
        return f'num_classes={self.std.shape[0]}, num_features={self.std.shape[1]}'


@MODELS.register_module(name='INADE')
class INADE(ConditionalNorm):
    """``out = norm(x) * scale + shift`` with, at a pixel of class ``c`` and instance ``k``,
    ``scale = std[c, :, 0] * fc_noise(noise[k, 0]) + mean[c, :, 0]`` and ``shift`` likewise
    with index 1 (the scale is used as it is, not as ``1 + scale``).

    With a sketch, ``out = merge_conv(cat(out, sketch_conv(sketch)))`` (a 3x3 conv of the edge
    map, a 1x1 conv without bias back to ``C`` channels), as the published code's
    ``--add_sketch``.

    Args:
        noise_channels: of the instance noise (64 in the published models, 8 for DeepFashion).
        with_sketch: also condition on a sketch map (layout input ``sketch``).
        with_instance_edge: must be ``False``: INADE does not read instance edges (the
            published generator drops that channel; its discriminator takes it).
        Others as :class:`~clade_mm.layers.base.ConditionalNorm`.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``.
    """
    _abbr_ = 'inade'
    # Keep per-weight inference caches (set by clade_mm.apis.precision for inference-only
    # weights); INADE's tables depend on the noise, so it keeps none.
    inference_frozen = False

    def __init__(self, num_features: int, num_classes: int, param_free_norm: str = 'BN',
                 eps: float = 1e-5, momentum: float = 0.1, with_instance_edge: bool = False,
                 noise_channels: int = 64, with_sketch: bool = False):
        if with_instance_edge:
            raise ValueError(
                'INADE does not condition on instance edges (the published INADE generator '
                'drops that channel): build the generator with with_instance_edge=False; the '
                'discriminator can still take the edges')
        if noise_channels < 1:
            raise ValueError(f'noise_channels must be >= 1, got {noise_channels}')
        super().__init__(num_features, num_classes, param_free_norm, eps, momentum, False)
        self.noise_channels = noise_channels
        self.noise_input = instance_noise_input(noise_channels)
        self.class_distributions = ClassDistributions(num_classes, num_features)
        self.fc_noise = nn.Linear(noise_channels, num_features)
        self.with_sketch = with_sketch
        if with_sketch:
            self.sketch_conv = nn.Conv2d(1, num_features, 3, padding=1)
            self.merge_conv = nn.Conv2d(2 * num_features, num_features, 1, bias=False)

    # --- declarations --------------------------------------------------------------------
    def layout_inputs(self) -> Tuple[LayoutInput, ...]:
        return (INSTANCES, self.noise_input) + ((SKETCH, ) if self.with_sketch else ())

    def float32_modules(self) -> Iterable[nn.Module]:
        return (self.param_free_norm, self.class_distributions, self.fc_noise)

    def own_init_modules(self) -> Iterable[nn.Module]:
        return (self.class_distributions, )  # U(0, 1) and zero, as published

    def fuses_for_inference(self, dtype: torch.dtype) -> bool:
        # The bfloat16 kernel folds running statistics; instance norm's are per image.
        return dtype == torch.float32 or class_norm.folds_in_eval(self.param_free_norm)

    def macs(self, x: Tensor, output: Tensor, submodule_macs: int) -> int:
        # fc_noise and the sketch convs as measured, plus one assignment per element
        return submodule_macs + x.shape[1] * x.shape[2] * x.shape[3]

    def paper_params(self) -> int:
        params = 4 * self.num_classes * self.num_features + \
            self.noise_channels * self.num_features
        if self.with_sketch:
            params += 9 * self.num_features + 2 * self.num_features ** 2
        return params

    def paper_macs(self, height: int, width: int) -> int:
        per_pixel = self.num_features
        if self.with_sketch:
            per_pixel += 9 * self.num_features + 2 * self.num_features ** 2
        return per_pixel * height * width

    # --- running -------------------------------------------------------------------------
    def noise_rows(self, layout: SemanticLayout, device: torch.device) -> Tensor:
        """``fc_noise`` of the layout's instance noise: ``(N, K, 2, C)``."""
        noise = layout.get(self.noise_input, device, self._owner())
        return self.fc_noise(noise.to(self.fc_noise.weight.dtype))

    def triple_tables(self, layout: SemanticLayout, triples: Triples,
                      device: torch.device) -> Tuple[Tensor, Tensor]:
        """The scale and the shift of every triple: ``(P, C)`` each."""
        dists = self.class_distributions
        noise = self.noise_rows(layout, device)[triples.sample, triples.instance]  # (P, 2, C)
        std, mean = dists.std[triples.label], dists.mean[triples.label]  # (P, C, 2)
        scale = std[..., 0] * noise[:, 0].to(std.dtype) + mean[..., 0]
        shift = std[..., 1] * noise[:, 1].to(std.dtype) + mean[..., 1]
        return scale, shift

    def normalize_and_modulate(self, x: Tensor, layout: SemanticLayout) -> Tensor:
        fused_eval = class_norm.supports_eval(x, self.param_free_norm)
        if not fused_eval and not class_norm.supports(x, self.class_distributions.std,
                                                      self.param_free_norm):
            return super().normalize_and_modulate(x, layout)
        size, device = tuple(x.shape[-2:]), x.device
        triples = layout_triples(layout, device)
        ids = layout.cached(('inade_triples', size, device),
                            lambda: resize_nearest(triples.ids[:, None], size)[:, 0])
        scale, shift = self.triple_tables(layout, triples, device)
        if fused_eval:
            tables = class_norm.EvalTables().get(scale, shift, self.param_free_norm)
            out = class_norm.class_affine_eval(x, ids, tables)
        else:
            out = class_norm.class_adaptive_norm(x, ids, scale, shift, self.param_free_norm)
        return self._merge_sketch(out, layout)

    def modulate(self, normalized: Tensor, layout: SemanticLayout) -> Tensor:
        """The eager formula: gather per pixel, then multiply-add."""
        (n, channels, h, w), device = normalized.shape, normalized.device
        size = (h, w)
        dtype = normalized.dtype
        labels = layout.labels_at(size, device)
        instances = layout.at(INSTANCES, size, device, self._owner())
        noise = self.noise_rows(layout, device).to(dtype)  # (N, K, 2, C)
        per_pixel = torch.gather(noise.flatten(2), 1, instances.reshape(n, -1, 1).expand(
            -1, -1, 2 * channels)).view(n, h, w, 2, channels)
        dists = self.class_distributions

        def by_class(table):  # (N_c, C, 2) -> (N, h, w, 2, C)
            flat = table.transpose(1, 2).reshape(table.shape[0], -1).to(dtype)
            return F.embedding(labels, flat).view(n, h, w, 2, channels)

        params = (by_class(dists.std) * per_pixel + by_class(dists.mean)).permute(0, 3, 4, 1, 2)
        out = torch.addcmul(params[:, 1], normalized, params[:, 0])
        return self._merge_sketch(out, layout)

    def _merge_sketch(self, out: Tensor, layout: SemanticLayout) -> Tensor:
        if not self.with_sketch:
            return out
        sketch = layout.at(SKETCH, out.shape[-2:], out.device, self._owner())
        feature = self.sketch_conv(sketch.to(self.sketch_conv.weight.dtype)).to(out.dtype)
        return self.merge_conv(torch.cat([out, feature], 1))

    def extra_repr(self) -> str:
        return (f'num_features={self.num_features}, num_classes={self.num_classes}, '
                f'noise_channels={self.noise_channels}, with_sketch={self.with_sketch}')
