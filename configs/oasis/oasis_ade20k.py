# OASIS on ADE20k (the published setting: 151 classes with "unlabeled" as class 0, which the
# N+1 loss weighs 0; 256x256; LabelMix 10; EMA decay 0.9999; batch 32; 200 epochs).
_base_ = [
    './_base_/oasis_gan.py', '../_base_/datasets/ade20k.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=151),
    discriminator=dict(num_classes=151),
    adversarial_loss=dict(dont_care_class=0))
param_scheduler = None
max_iters = 632000  # 200 epochs of 20210 images in batches of 32 (published)
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The discriminator's segmentation of the real photos (disc/real/mIoU), the don't-care class
# not scored, beside the segmentor's score and the FID of the generated ones.
test_evaluator = _base_.test_evaluator + [
    dict(type='DiscriminatorIoU', num_classes=_base_.num_classes, dont_care_class=0)]
