# SEAN's part of the published setting, shared by its configs: ACE norms (SEAN) in every block
# but the last, which keeps SPADE's modulation alone (the published use_rgb=False); the region
# style encoder (the published Zencoder, 512-channel codes) inside the generator; no instance
# edges in the generator (style codes are per class); the published losses are SPADE's (hinge
# GAN, feature matching, VGG), with no KL term: the codes are not sampled. A dataset config
# sets the classes and sizes.
_base_ = '../../_base_/models/semantic_gan.py'
style_channels = 512
model = dict(
    generator=dict(
        with_instance_edge=False,
        norm_cfg=dict(_delete_=True, type='SEAN', style_channels=style_channels),
        block_norm_cfgs=dict(up_3=dict(with_style=False)),
        style_encoder=dict(type='RegionStyleEncoder', base_channels=32,
                           style_channels=style_channels)),
    kl_loss=None)
