from .hooks import SampleGridHook
from .model_wrapper import SemanticGANDataParallel
from .optim_wrapper import MixedPrecisionOptimWrapper

__all__ = ['SampleGridHook', 'SemanticGANDataParallel', 'MixedPrecisionOptimWrapper']
