from .discriminator import MultiScaleDiscriminator, PatchDiscriminator
from .generator import SemanticGenerator, SemanticResBlock
from .losses import FeatureMatchingLoss, KLDivergenceLoss, VGG19PerceptualLoss
from .official_checkpoint import (OfficialCheckpointError, convert_official_checkpoint,
                                  convert_official_state_dict)
from .semantic_gan import SemanticGAN
from .spectral_norm import SpectralNormConv2d
from .style_encoder import StyleEncoder

__all__ = [
    'SemanticGenerator', 'SemanticResBlock', 'MultiScaleDiscriminator', 'PatchDiscriminator',
    'FeatureMatchingLoss', 'VGG19PerceptualLoss', 'KLDivergenceLoss', 'SemanticGAN',
    'StyleEncoder', 'SpectralNormConv2d', 'OfficialCheckpointError', 'convert_official_checkpoint',
    'convert_official_state_dict'
]
