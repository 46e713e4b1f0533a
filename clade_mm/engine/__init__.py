from .hooks import InterruptedWriteCleanupHook, SampleGridHook
from .model_wrapper import SemanticGANDataParallel
from .optim_wrapper import MixedPrecisionOptimWrapper

__all__ = ['InterruptedWriteCleanupHook', 'SampleGridHook', 'SemanticGANDataParallel', 'MixedPrecisionOptimWrapper']
