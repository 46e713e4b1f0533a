from .. import compat
from .hooks import InterruptedWriteCleanupHook, SampleGridHook
from .layout_conditioning import (SemanticLayoutHook, batch_layout,
                                  condition_on_batch_layout)
from .model_wrapper import SemanticGANDataParallel
from .optim_wrapper import MixedPrecisionOptimWrapper

compat.apply_mmagic_model_fixes()

__all__ = ['InterruptedWriteCleanupHook', 'SampleGridHook', 'SemanticLayoutHook', 'batch_layout',
           'condition_on_batch_layout', 'SemanticGANDataParallel', 'MixedPrecisionOptimWrapper']
