# Two time-scale Adam: G 1e-4, D 4e-4, betas (0.0, 0.9) (torch 2.13 wants floats here).
# fused=True runs each parameter's update as one kernel (CPU and GPU): Adam's six passes over
# the generator's 70-100 M parameters were a quarter of a CLADE training step on the CPU.
# Dataset configs set train_cfg and the linear learning-rate decay.
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.9), fused=True)),
    discriminator=dict(optimizer=dict(type='Adam', lr=4e-4, betas=(0.0, 0.9), fused=True)))
val_cfg = None
test_cfg = dict(type='TestLoop')
