# SPADE on the embedded synthetic scenes: a small generator (ngf 16) that trains on a CPU.
_base_ = [
    '../_base_/models/semantic_gan.py', '../_base_/datasets/synthetic.py',
    '../_base_/schedules/two_time_scale_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    generator=dict(num_classes=6, base_channels=16,
                   norm_cfg=dict(_delete_=True, type='SPADE', hidden_channels=32)),
    discriminator=dict(num_classes=6, base_channels=16, num_layers=3),
    # No VGG weights offline: feature matching carries the reconstruction signal here.
    perceptual_loss=None)
optim_wrapper = dict(
    generator=dict(optimizer=dict(lr=2e-4)), discriminator=dict(optimizer=dict(lr=8e-4)))
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=200))
custom_hooks = [dict(type='SampleGridHook', interval=200, num_samples=8)]
