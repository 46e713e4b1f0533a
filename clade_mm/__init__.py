"""clade-mm: CLADE, CLADE-ICPE and SPADE for semantic image synthesis on OpenMMLab."""
from . import compat
from .layers import (CLADE, CLADEICPE, SPADE, ConditionalNorm, LayoutError, SemanticLayout,
                     current_layout, semantic_layout)
from .version import __version__

compat.apply_all()

__all__ = [
    '__version__', 'semantic_layout', 'current_layout', 'SemanticLayout', 'LayoutError',
    'ConditionalNorm', 'SPADE', 'CLADE', 'CLADEICPE'
]
