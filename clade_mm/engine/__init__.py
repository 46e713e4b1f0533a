from .hooks import SampleGridHook
from .model_wrapper import SemanticGANDataParallel

__all__ = ['SampleGridHook', 'SemanticGANDataParallel']
