"""Models: one folder per method under ``editors/`` (registered by decorator, imported here so
that configs find them), and what methods share: losses, spectral norm, building a config's
generator and checking the weights a checkpoint gives it."""
from . import editors  # noqa: F401  (registers every method's modules)
from .builder import build_generator
from .losses import FeatureMatchingLoss, KLDivergenceLoss, VGG19PerceptualLoss
from .spectral_norm import SpectralNormConv2d

__all__ = ['build_generator', 'FeatureMatchingLoss', 'VGG19PerceptualLoss', 'KLDivergenceLoss',
           'SpectralNormConv2d']
