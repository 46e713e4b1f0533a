"""clade-mm: the normalization zoo of semantic image synthesis on OpenMMLab."""
from . import compat
from .layers import (ConditionalNorm, LayoutError, LayoutInput, SemanticLayout, current_layout,
                     install_layout_aware_recomputation, norm_families, semantic_layout)
from .engine import checkpoint_integrity, cpu_launch
from .version import __version__

compat.apply_all()
checkpoint_integrity.install()
cpu_launch.install()
install_layout_aware_recomputation()

__all__ = [
    '__version__', 'semantic_layout', 'current_layout', 'SemanticLayout', 'LayoutInput',
    'LayoutError', 'ConditionalNorm', 'norm_families'
]
