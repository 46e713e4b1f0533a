# INADE on ADE20k (151 classes; ADE20k has no instance maps, so each class present is one
# instance, as the published make_instances.py makes them for it).
_base_ = [
    './_base_/inade_gan.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=151, num_upsampling_layers='normal', out_size=(256, 256)),
    discriminator=dict(num_classes=151))

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
