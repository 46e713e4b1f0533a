# INADE on COCO-Stuff (183 classes; the instance maps the dataset config reads give each object
# its noise).
_base_ = [
    './_base_/inade_gan.py', '../_base_/datasets/coco_stuff.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=183, num_upsampling_layers='normal', out_size=(256, 256)),
    discriminator=dict(num_classes=183))
