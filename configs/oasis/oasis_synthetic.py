# OASIS on the embedded synthetic scenes: the OASIS generator at ngf 16 with 16 channels of 3D
# noise and a U-Net discriminator of four levels (64x64 images), so that it trains on a CPU in
# the time the other families take. No VGG file is needed.
_base_ = [
    './_base_/oasis_gan.py', '../_base_/datasets/synthetic.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=6, base_channels=16, z_channels=16,
                   norm_cfg=dict(hidden_channels=32)),
    discriminator=dict(num_classes=6, channels=(16, 32, 64, 64), last_channels=16),
    # a short run: an average over about the last 100 steps
    ema_config=dict(momentum=0.01))
# The discriminator's gradient norm clipped at 1: at batch 8, a class with a few pixels in a
# batch (a small rock) weighs thousands in the class-balanced loss, and one such batch early
# on blew the discriminator up (its spectral norms then dominated by one direction: a constant
# output for good; CLADE-OASIS scored 44 mIoU, its discriminator 9.5). Not published; the
# full-size configs train as published.
optim_wrapper = dict(
    generator=dict(optimizer=dict(lr=2e-4)),
    discriminator=dict(optimizer=dict(lr=8e-4), clip_grad=dict(max_norm=1.0)))
param_scheduler = None
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=200))
custom_hooks = [dict(type='SampleGridHook', interval=200, num_samples=8)]
# The discriminator's segmentation of the real photos (disc/real/mIoU), beside the segmentor's
# score of the generated ones.
test_evaluator = _base_.test_evaluator + [
    dict(type='DiscriminatorIoU', num_classes=_base_.num_classes)]
