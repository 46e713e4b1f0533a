# SPADE on COCO-Stuff (the published setting: 183 classes, instance edges: True, upsampling 'normal').
_base_ = [
    '../_base_/models/semantic_gan.py', '../_base_/datasets/coco_stuff.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=183, num_upsampling_layers='normal', with_instance_edge=True,
                   norm_cfg=dict(_delete_=True, type='SPADE')),
    discriminator=dict(num_classes=183, with_instance_edge=True))
