# SEAN on CelebAMask-HQ, its own dataset and the published pretrained model's setting: 19
# face-part classes, 256x256, upsampling 'normal', batch norm in the ACEs (the published
# synchronised batch norm), no instance maps.
_base_ = [
    './_base_/sean_gan.py', '../_base_/datasets/celebamask_hq.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=19, num_upsampling_layers='normal'),
    discriminator=dict(num_classes=19, with_instance_edge=False))
