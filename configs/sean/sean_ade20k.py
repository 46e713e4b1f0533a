# SEAN on ADE20k (151 classes, 256x256, upsampling 'normal'): one style code per class.
_base_ = [
    './_base_/sean_gan.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=151, num_upsampling_layers='normal'),
    discriminator=dict(num_classes=151, with_instance_edge=False))
