# SPADE on Cityscapes (the published setting: 35 classes, instance edges: True, upsampling 'more').
_base_ = [
    '../_base_/models/semantic_gan.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=35, num_upsampling_layers='more', with_instance_edge=True,
                   norm_cfg=dict(_delete_=True, type='SPADE')),
    discriminator=dict(num_classes=35, with_instance_edge=True))
