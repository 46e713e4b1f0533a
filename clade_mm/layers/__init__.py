"""The normalization zoo. Registered in mmengine's root ``MODELS`` registry, the one mmcv's
``build_norm_layer`` searches last from every scope (mmagic, mmseg, mmdet, ...), so
``build_norm_layer(dict(type='CLADE', num_classes=151), 64)`` works wherever mmcv's own norms do.
"""
from mmengine.registry import MODELS

from .base import ConditionalNorm, build_param_free_norm, sync_conditional_norms
from .clade import CLADE, CLADEICPE, ClassAffine
from .layout import (LayoutError, SemanticLayout, current_layout, icpe_map, instance_edges,
                     semantic_layout)
from .spade import SPADE
from .sync_batch_norm import AllReduceBatchNorm2d

CONDITIONAL_NORMS = {'SPADE': SPADE, 'CLADE': CLADE, 'CLADE-ICPE': CLADEICPE}
for _name, _cls in CONDITIONAL_NORMS.items():
    MODELS.register_module(name=_name, module=_cls)

__all__ = [
    'ConditionalNorm', 'SPADE', 'CLADE', 'CLADEICPE', 'ClassAffine', 'SemanticLayout',
    'LayoutError', 'semantic_layout', 'current_layout', 'icpe_map', 'instance_edges',
    'build_param_free_norm', 'sync_conditional_norms', 'AllReduceBatchNorm2d', 'CONDITIONAL_NORMS'
]
