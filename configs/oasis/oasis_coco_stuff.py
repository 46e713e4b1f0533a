# OASIS on COCO-Stuff (the published setting: 183 classes, 256x256, LabelMix 10, EMA decay
# 0.9999, batch 32, 100 epochs). The zoo's COCO-Stuff label order is SPADE's (ids 0..181,
# "unlabeled" 182), which the N+1 loss weighs 0; the published OASIS puts "unlabeled" first,
# and tools/convert_official_checkpoint.py reorders its weights' classes.
_base_ = [
    './_base_/oasis_gan.py', '../_base_/datasets/coco_stuff.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=183),
    discriminator=dict(num_classes=183),
    adversarial_loss=dict(dont_care_class=182))
param_scheduler = None
max_iters = 369700  # 100 epochs of 118287 images in batches of 32 (published)
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The discriminator's segmentation of the real photos (disc/real/mIoU), the don't-care class
# not scored, beside the segmentor's score and the FID of the generated ones.
test_evaluator = _base_.test_evaluator + [
    dict(type='DiscriminatorIoU', num_classes=_base_.num_classes, dont_care_class=182)]
