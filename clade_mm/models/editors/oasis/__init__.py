"""OASIS (Sushko et al., ICLR 2021): its generator (SPADE blocks with 3D noise, the
``NoiseSPADE`` norm of :mod:`clade_mm.layers.noise_spade`), the U-Net discriminator that
segments into the classes and "fake", its class-balanced loss and LabelMix, and the GAN model
that trains any generator of the zoo with them."""
from .discriminator import OASISDiscriminator
from .generator import OASISGenerator
from .losses import LabelMixLoss, SegmentationAdversarialLoss
from .oasis_gan import OASISGAN

__all__ = ['OASISDiscriminator', 'OASISGenerator', 'LabelMixLoss',
           'SegmentationAdversarialLoss', 'OASISGAN']
