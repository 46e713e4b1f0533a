"""INADE (Tan et al., CVPR 2021): its generator is SPADE's with ``norm_cfg=dict(type='INADE')``
(:mod:`clade_mm.layers.inade`) and a ``z`` code (the published ``noise_ins``); what it adds
here is the instance encoder of "prior noise remapping", which lives in the generator as its
``style_encoder``."""
from .instance_encoder import InstanceAwareConv2d, InstanceStyleEncoder

__all__ = ['InstanceAwareConv2d', 'InstanceStyleEncoder']
