"""What every conditional norm family shares: the interface, the declarations the rest of the
package reads, and the parameter-free first step.

A family is one file of this folder: a subclass of :class:`ConditionalNorm` registered with
``@MODELS.register_module(name=...)`` (mmengine's root registry, which mmcv's
``build_norm_layer`` searches from every scope). It declares, by overriding the methods of the
section "declarations" below:

* :meth:`~ConditionalNorm.layout_inputs`: what it reads from the layout besides the label map;
* :meth:`~ConditionalNorm.float32_modules`: what a reduced-precision copy keeps in float32;
* :meth:`~ConditionalNorm.own_init_modules`: what keeps its own initialisation;
* :meth:`~ConditionalNorm.fuses_for_inference`: whether inference in a dtype keeps its fused
  kernel (else the inference precision stays float32);
* :meth:`~ConditionalNorm.macs` and :meth:`~ConditionalNorm.paper_params`: its cost for the
  complexity tool.

The generator, the GAN model, inference, ONNX export, the complexity tool, the painter, the
benchmarks and the tests read these declarations and never name a family.
"""
from typing import Dict, Iterable, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor

from .context import current_layout
from .layout import INSTANCES, LayoutError, LayoutInput, SemanticLayout
from .sync_batch_norm import AllReduceBatchNorm2d

LayoutLike = Union[SemanticLayout, Tensor]

PARAM_FREE_NORMS = ('BN', 'SyncBN', 'IN')


def build_param_free_norm(kind: str, num_features: int, eps: float = 1e-5,
                          momentum: float = 0.1) -> nn.Module:
    """The normalization without affine parameters that every conditional norm starts with."""
    if kind == 'BN':
        return nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
    if kind == 'SyncBN':
        # Falls back to plain batch norm when torch.distributed is not initialised.
        return nn.SyncBatchNorm(num_features, eps=eps, momentum=momentum, affine=False)
    if kind == 'IN':
        return nn.InstanceNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
    raise ValueError(f'param_free_norm={kind!r} is not supported; choose one of '
                     f'{", ".join(PARAM_FREE_NORMS)}')


class ConditionalNorm(nn.Module):
    """Base of the semantic-conditioned norms: ``out = modulate(norm(x), layout)``.

    Args:
        num_features: channels ``C`` of the features.
        num_classes: semantic classes ``N_c`` (including any don't-care class).
        param_free_norm: ``'BN'``, ``'SyncBN'`` or ``'IN'``.
        eps, momentum: of the parameter-free norm.
        with_instance_edge: also condition on the instance edge map of the layout.

    Shapes:
        ``forward(x: (N, C, H, W), layout=None) -> (N, C_out, H, W)`` where ``C_out`` is
        :attr:`out_channels` (``C``, or ``C + 1`` for CLADE with instance edges).
    """

    def __init__(self, num_features: int, num_classes: int, param_free_norm: str = 'BN',
                 eps: float = 1e-5, momentum: float = 0.1, with_instance_edge: bool = False):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_features = num_features
        self.num_classes = num_classes
        self.with_instance_edge = with_instance_edge
        self.param_free_norm = build_param_free_norm(param_free_norm, num_features, eps, momentum)

    @property
    def out_channels(self) -> int:
        return self.num_features

    # --- declarations (see the module docstring) -----------------------------------------
    def layout_inputs(self) -> Tuple[LayoutInput, ...]:
        """The layout inputs this layer reads besides the label map."""
        return (INSTANCES, ) if self.with_instance_edge else ()

    def float32_modules(self) -> Iterable[nn.Module]:
        """Sub-modules that a bfloat16 copy of the model keeps in float32 (statistics, tables
        whose rounding would shift every pixel of a class)."""
        return (self.param_free_norm, )

    def own_init_modules(self) -> Iterable[nn.Module]:
        """Sub-modules whose initialisation a model's generic ``init_weights`` (SPADE's
        Xavier-normal on every conv) must leave alone."""
        return ()

    def fuses_for_inference(self, dtype: torch.dtype) -> bool:
        """Whether inference in ``dtype`` keeps this layer's fastest path. ``False`` makes
        ``precision='auto'`` keep float32 for the whole generator."""
        return True

    def macs(self, x: Tensor, output: Tensor, submodule_macs: int) -> int:
        """Multiply-accumulates of one forward on ``x``; ``submodule_macs`` is what the
        complexity tool measured for the convolutions and linears inside this layer."""
        return submodule_macs

    def paper_params(self) -> int:
        """Parameters as the CLADE paper's formulas count them (no biases, 3x3 kernels)."""
        return sum(p.numel() for p in self.parameters())

    def paper_macs(self, height: int, width: int) -> int:
        """Multiply-accumulates at ``height x width`` by the paper's convention."""
        return self.paper_params() * height * width

    # --- running ---------------------------------------------------------------------------
    def resolve_layout(self, x: Tensor, layout: Optional[LayoutLike]) -> SemanticLayout:
        """The explicit layout if given, else the one of the enclosing ``semantic_layout``."""
        if layout is None:
            layout = current_layout()
            if layout is None:
                raise LayoutError(
                    f'{self._owner()} is conditioned on a semantic layout, but none is active. '
                    'Run the model inside `with clade_mm.semantic_layout(label_map):` or call '
                    'the layer as `norm(x, layout=label_map)`.')
        if not isinstance(layout, SemanticLayout):
            layout = SemanticLayout(layout)
        layout.check_compatible(x, self.num_classes, self._owner())
        return layout

    def _owner(self) -> str:
        return f'{type(self).__name__}(num_features={self.num_features}, ' \
               f'num_classes={self.num_classes})'

    def forward(self, x: Tensor, layout: Optional[LayoutLike] = None) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f'{self._owner()} expects (N, C, H, W) features, '
                             f'got shape {tuple(x.shape)}')
        return self.normalize_and_modulate(x, self.resolve_layout(x, layout))

    def normalize_and_modulate(self, x: Tensor, layout: SemanticLayout) -> Tensor:
        """The two steps; a subclass may fuse them."""
        return self.modulate(self.param_free_norm(x), layout)

    def modulate(self, normalized: Tensor, layout: SemanticLayout) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f'num_features={self.num_features}, num_classes={self.num_classes}, '
                f'with_instance_edge={self.with_instance_edge}')


def norm_families() -> Dict[str, type]:
    """Every registered conditional norm family, ``{registered name: class}``: what the tools
    and tests iterate over instead of a list of names."""
    return {name: cls for name, cls in sorted(MODELS.module_dict.items())
            if isinstance(cls, type) and issubclass(cls, ConditionalNorm)}


def sync_conditional_norms(model: nn.Module, device: str = 'cpu', process_group=None) -> int:
    """Make the parameter-free BatchNorm of every conditional norm in ``model`` synchronised.

    On the CPU they become :class:`~clade_mm.layers.sync_batch_norm.AllReduceBatchNorm2d`
    (torch's ``nn.SyncBatchNorm`` runs only on accelerators), elsewhere ``nn.SyncBatchNorm``.
    Other norms of the model (a discriminator's, an encoder's) are left as they are. State-dict
    keys do not change, so checkpoints move freely between one and many processes.

    Returns:
        How many norms were converted.
    """
    converted = 0
    for module in model.modules():
        norm = getattr(module, 'param_free_norm', None)
        if not (isinstance(module, ConditionalNorm) and
                isinstance(norm, nn.modules.batchnorm._BatchNorm)):
            continue
        if device == 'cpu' and not isinstance(norm, AllReduceBatchNorm2d):
            module.param_free_norm = AllReduceBatchNorm2d.from_batch_norm(norm, process_group)
        elif device != 'cpu' and not isinstance(norm, nn.SyncBatchNorm):
            module.param_free_norm = nn.SyncBatchNorm.convert_sync_batchnorm(norm, process_group)
        else:
            continue
        converted += 1
    return converted
