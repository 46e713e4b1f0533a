# INADE on ADE20k (the published setting: 151 classes, noise_nc 64, z_dim 256, --use_vae with
# the instance encoder; instances: one per class present, as the published make_instances.py
# makes them for ADE20k, which has no instance maps).
_base_ = [
    '../_base_/models/semantic_gan.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
noise_channels = 64
model = dict(
    generator=dict(
        num_classes=151, num_upsampling_layers='normal', with_instance_edge=False,
        z_channels=256, out_size=(256, 256),
        norm_cfg=dict(_delete_=True, type='INADE', noise_channels=noise_channels),
        style_encoder=dict(type='InstanceStyleEncoder', base_channels=64,
                           noise_channels=noise_channels)),
    discriminator=dict(num_classes=151, with_instance_edge=True),
    # The published INADE losses: the last discriminator feature and the two deepest VGG
    # features only (samples may differ from the photo in low-level detail).
    feature_matching_loss=dict(first_layer=3),
    perceptual_loss=dict(layer_weights=(0.0, 0.0, 0.0, 1 / 4, 1.0)))

train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=151, instances_from_labels=True),
    dict(type='SemanticResize', scale=(286, 286), interpolation='bicubic'),
    dict(type='SemanticCrop', keys=['img', 'label', 'instance'], crop_size=(256, 256),
         random_crop=True),
    dict(type='Flip', keys=['img', 'label', 'instance'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='PackInputs', keys=['img', 'label', 'instance'])
]
test_pipeline = [
    dict(type='LoadSemanticSample', num_classes=151, instances_from_labels=True),
    dict(type='SemanticResize', scale=(256, 256), interpolation='bicubic'),
    dict(type='PackInputs', keys=['img', 'label', 'instance'])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
