# OASIS on Cityscapes (the published setting: 35 label ids, id 0 "unlabeled" weighed 0 by the
# N+1 loss; 256x512; no instance maps; G learning rate 4e-4; LabelMix 5; EMA decay 0.999;
# batch 20; 200 epochs).
_base_ = [
    './_base_/oasis_gan.py', '../_base_/datasets/cityscapes.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=35),
    discriminator=dict(num_classes=35),
    adversarial_loss=dict(dont_care_class=0),
    labelmix=dict(loss_weight=5.0),
    ema_config=dict(momentum=1e-3))
optim_wrapper = dict(generator=dict(optimizer=dict(lr=4e-4)))
train_dataloader = dict(batch_size=20)
param_scheduler = None
max_iters = 29750  # 200 epochs of 2975 images in batches of 20 (published)
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The discriminator's segmentation of the real photos (disc/real/mIoU), the don't-care class
# not scored, beside the segmentor's score and the FID of the generated ones.
test_evaluator = _base_.test_evaluator + [
    dict(type='DiscriminatorIoU', num_classes=_base_.num_classes, dont_care_class=0)]
