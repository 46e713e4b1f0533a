# INADE on COCO-Stuff (183 classes; the instance maps the dataset config reads give each object
# its noise; noise_nc 64, z_dim 256, the instance encoder as the published --use_vae).
_base_ = [
    '../_base_/models/semantic_gan.py', '../_base_/datasets/coco_stuff.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
noise_channels = 64
model = dict(
    generator=dict(
        num_classes=183, num_upsampling_layers='normal', with_instance_edge=False,
        z_channels=256, out_size=(256, 256),
        norm_cfg=dict(_delete_=True, type='INADE', noise_channels=noise_channels),
        style_encoder=dict(type='InstanceStyleEncoder', base_channels=64,
                           noise_channels=noise_channels)),
    discriminator=dict(num_classes=183, with_instance_edge=True),
    # The published INADE losses (see inade_ade20k.py).
    feature_matching_loss=dict(first_layer=3),
    perceptual_loss=dict(layer_weights=(0.0, 0.0, 0.0, 1 / 4, 1.0)))
