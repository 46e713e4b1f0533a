"""The normalization zoo: one file per conditional norm family, each registering itself in
mmengine's root ``MODELS`` registry, the one mmcv's ``build_norm_layer`` searches last from
every scope (mmagic, mmseg, mmdet, ...), so ``build_norm_layer(dict(type='CLADE',
num_classes=151), 64)`` works wherever mmcv's own norms do.

Every module of this folder is imported here, so a family file added to it registers itself
with no other edit; :func:`~clade_mm.layers.base.norm_families` lists what is registered. The
families themselves are reached by their registered name or their own module
(``clade_mm.layers.clade.CLADE``).
"""
import importlib
import pkgutil

from .base import ConditionalNorm, build_param_free_norm, norm_families, sync_conditional_norms
from .context import (current_layout, install_layout_aware_recomputation, semantic_layout,
                      set_current_layout, reset_current_layout)
from .label_map import LayoutError, instance_edges, resize_nearest
from .layout import INSTANCES, LayoutInput, SemanticLayout
from .sync_batch_norm import AllReduceBatchNorm2d

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f'{__name__}.{_module.name}')

__all__ = [
    'ConditionalNorm', 'LayoutInput', 'INSTANCES', 'SemanticLayout', 'LayoutError',
    'semantic_layout', 'current_layout', 'set_current_layout', 'reset_current_layout',
    'install_layout_aware_recomputation', 'instance_edges', 'resize_nearest',
    'build_param_free_norm', 'sync_conditional_norms', 'norm_families', 'AllReduceBatchNorm2d'
]
