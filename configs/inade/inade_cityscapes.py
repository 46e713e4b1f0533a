# INADE on Cityscapes (35 classes, 512x256, upsampling 'more'; instanceIds give every car and
# person its own noise, each stuff class one; noise_nc 64, z_dim 256, the instance encoder).
_base_ = [
    '../_base_/models/semantic_gan.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
noise_channels = 64
model = dict(
    generator=dict(
        num_classes=35, num_upsampling_layers='more', with_instance_edge=False,
        z_channels=256, out_size=(256, 512),
        norm_cfg=dict(_delete_=True, type='INADE', noise_channels=noise_channels),
        style_encoder=dict(type='InstanceStyleEncoder', base_channels=64,
                           noise_channels=noise_channels)),
    discriminator=dict(num_classes=35, with_instance_edge=True),
    # The published INADE losses (see inade_ade20k.py).
    feature_matching_loss=dict(first_layer=3),
    perceptual_loss=dict(layer_weights=(0.0, 0.0, 0.0, 1 / 4, 1.0)))
