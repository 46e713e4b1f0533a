from .. import compat
from .cpu_memory import KeepFreedMemoryHook, keep_freed_memory
from .hooks import InterruptedWriteCleanupHook, SampleGridHook
from .layout_conditioning import (SemanticLayoutHook, batch_layout,
                                  condition_on_batch_layout)
from .model_wrapper import SemanticGANDataParallel
from .optim_wrapper import MixedPrecisionOptimWrapper

compat.apply_mmagic_model_fixes()

__all__ = ['KeepFreedMemoryHook', 'keep_freed_memory', 'InterruptedWriteCleanupHook',
           'SampleGridHook', 'SemanticLayoutHook', 'batch_layout', 'condition_on_batch_layout',
           'SemanticGANDataParallel', 'MixedPrecisionOptimWrapper']
