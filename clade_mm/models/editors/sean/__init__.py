"""SEAN (Zhu et al., CVPR 2020): its generator is SPADE's with ``norm_cfg=dict(type='SEAN')``
(:mod:`clade_mm.layers.sean`, the ACE norm) and the last block without a style branch; what it
adds here is the region style encoder, which turns a photo and its label map into one style
code per class and lives in the generator as its ``style_encoder``."""
from .region_encoder import RegionStyleEncoder

__all__ = ['RegionStyleEncoder']
