# SEAN on Cityscapes (35 classes, 512x256, upsampling 'more'). The generator reads no instance
# edges (its style codes are per class); the discriminator keeps them, as SPADE's does here.
_base_ = [
    './_base_/sean_gan.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=35, num_upsampling_layers='more'),
    discriminator=dict(num_classes=35, with_instance_edge=True))
