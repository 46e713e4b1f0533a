# SPADE on ADE20k-outdoor (the published setting: 151 classes, instance edges: False, upsampling 'normal').
_base_ = [
    '../_base_/models/semantic_gan.py', '../_base_/datasets/ade20k_outdoor.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=151, num_upsampling_layers='normal', with_instance_edge=False,
                   norm_cfg=dict(_delete_=True, type='SPADE')),
    discriminator=dict(num_classes=151, with_instance_edge=False))
