# INADE on Cityscapes (35 classes, 512x256, upsampling 'more'; instanceIds give every car and
# person its own noise, each stuff class one).
_base_ = [
    './_base_/inade_gan.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=35, num_upsampling_layers='more', out_size=(256, 512)),
    discriminator=dict(num_classes=35))
