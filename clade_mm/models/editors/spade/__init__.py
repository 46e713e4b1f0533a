"""The SPADE-family synthesis GAN (SPADE, CLADE, CLADE-ICPE generators differ only in
``norm_cfg``): the generator, the multi-scale discriminator, the style encoder and the GAN."""
from .discriminator import MultiScaleDiscriminator, PatchDiscriminator
from .generator import SemanticGenerator, SemanticResBlock
from .semantic_gan import SemanticGAN
from .style_encoder import StyleEncoder

__all__ = ['SemanticGenerator', 'SemanticResBlock', 'MultiScaleDiscriminator',
           'PatchDiscriminator', 'SemanticGAN', 'StyleEncoder']
