# INADE's part of the published setting, shared by the full-size configs: INADE norms (noise_nc
# 64) without instance edges, a z code of 256 (the published z_dim, its noise_ins), the instance
# encoder as the published --use_vae, the discriminator with instance edges, and the published
# INADE losses: the last discriminator feature and the two deepest VGG features only (samples
# may differ from the photo in low-level detail). A dataset config sets the classes and sizes.
_base_ = '../../_base_/models/semantic_gan.py'
noise_channels = 64
model = dict(
    generator=dict(
        with_instance_edge=False, z_channels=256,
        norm_cfg=dict(_delete_=True, type='INADE', noise_channels=noise_channels),
        style_encoder=dict(type='InstanceStyleEncoder', base_channels=64,
                           noise_channels=noise_channels)),
    discriminator=dict(with_instance_edge=True),
    feature_matching_loss=dict(first_layer=3),
    perceptual_loss=dict(layer_weights=(0.0, 0.0, 0.0, 1 / 4, 1.0)))
