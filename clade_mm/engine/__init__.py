from .hooks import SampleGridHook

__all__ = ['SampleGridHook']
