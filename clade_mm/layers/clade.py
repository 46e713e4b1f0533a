"""CLADE: class-adaptive normalization, and CLADE-ICPE, its intra-class positional variant.

Registered as ``'CLADE'`` and ``'CLADE-ICPE'``. What the rest of the package reads (see
:mod:`clade_mm.layers.base`):

* layout inputs: the instance map with instance edges; CLADE-ICPE also ``position``, the
  ``(N, 2, H, W)`` ICPE map, computed from the label map when not given (an exported graph
  takes it as an input: its connected components are a data-dependent loop a graph cannot
  hold).
* float32: the parameter-free norm and the class-wise tables (``class_affine``).
* fusion: training and eager inference on float32 CPU features run the fused kernel of
  :func:`clade_mm.ops.class_norm.class_adaptive_norm`; inference without gradients folds norm
  and modulation into one class-wise affine (:func:`~clade_mm.ops.class_norm.class_affine_eval`,
  float32 or bfloat16, NCHW or channels-last), which needs running statistics: CLADE on
  instance norm keeps float32 under ``precision='auto'``.
* complexity: ``2 N_c C`` parameters (formula (5) of the paper), one value assignment per
  output element (guided sampling), no convolution; CLADE-ICPE adds 6 parameters.
"""
from typing import Iterable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor

from ..ops import class_norm
from ..ops.positional_map import icpe_map
from .base import ConditionalNorm
from .layout import LayoutInput, SemanticLayout

POSITION = LayoutInput(
    'position', '(N, 2, H, W) float32 ICPE map of the label map',
    'computed from the label map when not given; an exported graph takes it as an input: '
    'give clade_mm.ops.positional_map.icpe_map(labels) (or the published maps) as position',
    channels=2, default=lambda layout, device: icpe_map(layout.labels.to(device)),
    sample=lambda labels, rng: icpe_map(labels))


class ClassAffine(nn.Module):
    """A bank of per-class modulation parameters and its guided sampling.

    The parameters are called ``gamma``/``beta`` (not ``weight``/``bias``) on purpose: generic
    initialisers such as mmcv's ``constant_init`` in ``ConvModule.init_weights`` reset any
    ``weight``/``bias`` of a norm to 1/0, which would erase the class-wise bank.

    Args:
        num_classes: ``N_c``.
        num_features: ``C``.
        with_position: add CLADE-ICPE's two ``Conv1x1(2 -> 1)`` that scale gamma and beta by the
            intra-class positional map. They start at zero, so ICPE starts as plain CLADE.

    Shapes:
        ``forward(labels: (N, h, w) int64, position: (N, 2, h, w) | None)`` returns
        ``gamma, beta``, each ``(N, C, h, w)``.
    """

    def __init__(self, num_classes: int, num_features: int, with_position: bool = False):
        super().__init__()
        self.gamma = nn.Parameter(torch.empty(num_classes, num_features).uniform_(0, 1))
        self.beta = nn.Parameter(torch.zeros(num_classes, num_features))
        self.with_position = with_position
        if with_position:
            self.position_gamma = nn.Conv2d(2, 1, kernel_size=1)
            self.position_beta = nn.Conv2d(2, 1, kernel_size=1)
            for conv in (self.position_gamma, self.position_beta):
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    @staticmethod
    def sample(bank: Tensor, labels: Tensor) -> Tensor:
        """Guided sampling: ``bank[labels]`` laid out as ``(N, C, h, w)``, a gather, no matmul."""
        n, h, w = labels.shape
        # Index along the class dimension of the transposed bank so that the result is already
        # channel-first; for N = 1 it is contiguous and needs no permute copy.
        sampled = bank.t().index_select(1, labels.reshape(-1))  # (C, N*h*w)
        return sampled.view(-1, n, h, w).transpose(0, 1)

    def position_factors(self, position: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """CLADE-ICPE's ``(1 + Conv1x1(dist))`` for gamma and for beta, each ``(N, 1, h, w)``,
        from the ``(N, 2, h, w)`` positional map, in the map's dtype."""
        if position is None:
            raise ValueError('ClassAffine(with_position=True) needs the ICPE map')
        factors = []
        for conv in (self.position_gamma, self.position_beta):
            factors.append(1 + F.conv2d(position, conv.weight.to(position.dtype),
                                        conv.bias.to(position.dtype)))
        return factors[0], factors[1]

    def forward(self, labels: Tensor, position: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        gamma = self.sample(self.gamma, labels)
        beta = self.sample(self.beta, labels)
        if self.with_position:
            gamma_factor, beta_factor = self.position_factors(position)
            gamma = gamma * gamma_factor.to(gamma.dtype)
            beta = beta * beta_factor.to(beta.dtype)
        return gamma, beta

    def extra_repr(self) -> str:
        return (f'num_classes={self.gamma.shape[0]}, num_features={self.gamma.shape[1]}, '
                f'with_position={self.with_position}')


@MODELS.register_module(name='CLADE')
class CLADE(ConditionalNorm):
    """``out = norm(x) * gamma[label] + beta[label]`` with a class-wise parameter bank.

    With instance edges (the paper's appendix) the edge map ``E`` is modulated by two learned
    scalars, ``gamma_e * E + beta_e``, and concatenated to the output as one more channel, so
    the layer after it must take ``C + 1`` channels (:attr:`out_channels`).

    Args: as :class:`~clade_mm.layers.base.ConditionalNorm`.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``, or ``(N, C + 1, H, W)`` with instance edges.
    """
    _abbr_ = 'clade'
    with_position = False
    # Keep the folded inference tables (set by clade_mm.apis.precision for inference-only
    # weights; see SpectralNormConv2d.inference_frozen for why not by default).
    inference_frozen = False

    def __init__(self, num_features: int, num_classes: int, param_free_norm: str = 'BN',
                 eps: float = 1e-5, momentum: float = 0.1, with_instance_edge: bool = False):
        super().__init__(num_features, num_classes, param_free_norm, eps, momentum,
                         with_instance_edge)
        self.class_affine = ClassAffine(num_classes, num_features, self.with_position)
        self._eval_tables = class_norm.EvalTables()
        if with_instance_edge:
            # gamma_e and beta_e as the weight and bias of a 1x1 conv on the edge map.
            self.edge_affine = nn.Conv2d(1, 1, kernel_size=1)

    @property
    def out_channels(self) -> int:
        return self.num_features + int(self.with_instance_edge)

    def layout_inputs(self) -> Tuple[LayoutInput, ...]:
        return super().layout_inputs() + ((POSITION, ) if self.with_position else ())

    def float32_modules(self) -> Iterable[nn.Module]:
        return (self.param_free_norm, self.class_affine)

    def own_init_modules(self) -> Iterable[nn.Module]:
        # U(0, 1) and zero banks, zero positional convs: ICPE starts as plain CLADE.
        return (self.class_affine, )

    def fuses_for_inference(self, dtype: torch.dtype) -> bool:
        # The bfloat16 kernel folds running statistics; instance norm's are per image.
        return dtype == torch.float32 or class_norm.folds_in_eval(self.param_free_norm)

    def macs(self, x: Tensor, output: Tensor, submodule_macs: int) -> int:
        return x.shape[1] * x.shape[2] * x.shape[3]  # guided sampling: one per element

    def paper_params(self) -> int:
        return 2 * self.num_classes * self.num_features  # formula (5)

    def paper_macs(self, height: int, width: int) -> int:
        return self.num_features * height * width

    def normalize_and_modulate(self, x: Tensor, layout: SemanticLayout) -> Tensor:
        if class_norm.supports_eval(x, self.param_free_norm):
            size, device = x.shape[-2:], x.device
            affine = self.class_affine
            convs = (affine.position_gamma, affine.position_beta) if self.with_position \
                else None
            tables = self._eval_tables.get(affine.gamma, affine.beta, self.param_free_norm, convs,
                                           keep=self.inference_frozen)
            position = layout.at(POSITION, size, device, self._owner()) \
                if self.with_position else None
            out = class_norm.class_affine_eval(x, layout.labels_at(size, device), tables,
                                               position)
            return self._append_edges(out, layout)
        if self.with_position or not class_norm.supports(x, self.class_affine.gamma,
                                                         self.param_free_norm):
            return super().normalize_and_modulate(x, layout)
        labels = layout.labels_at(x.shape[-2:], x.device)
        out = class_norm.class_adaptive_norm(x, labels, self.class_affine.gamma,
                                             self.class_affine.beta, self.param_free_norm)
        return self._append_edges(out, layout)

    def modulate(self, normalized: Tensor, layout: SemanticLayout) -> Tensor:
        """The eager formula: gather the two maps, then multiply-add."""
        size, device = normalized.shape[-2:], normalized.device
        labels = layout.labels_at(size, device)
        position = layout.at(POSITION, size, device, self._owner()).to(normalized.dtype) \
            if self.with_position else None
        gamma, beta = self.class_affine(labels, position)
        out = torch.addcmul(beta.to(normalized.dtype), normalized, gamma.to(normalized.dtype))
        return self._append_edges(out, layout)

    def _append_edges(self, out: Tensor, layout: SemanticLayout) -> Tensor:
        if not self.with_instance_edge:
            return out
        edges = layout.edges_at(out.shape[-2:], out.device).to(out.dtype)
        edge_feature = self.edge_affine(edges)
        if not out.is_contiguous() and out.is_contiguous(memory_format=torch.channels_last):
            # A one-channel map fits either layout, and torch.cat falls back to NCHW unless
            # its strides say channels-last too.
            edge_feature = edge_feature.to(memory_format=torch.channels_last)
        return torch.cat([out, edge_feature], dim=1)


@MODELS.register_module(name='CLADE-ICPE')
class CLADEICPE(CLADE):
    """CLADE with intra-class positional encoding (CLADE-ICPE).

    ``gamma = gamma[label] * (1 + Conv1x1(dist))``, ``beta = beta[label] * (1 + Conv1x1(dist))``
    where ``dist`` is the layout's ``(dy, dx)`` offset of each pixel from the centroid of its
    class component (:func:`clade_mm.ops.positional_map.icpe_map`): 6 parameters more than CLADE.

    Shapes: as :class:`CLADE`.
    """
    _abbr_ = 'clade_icpe'
    with_position = True
