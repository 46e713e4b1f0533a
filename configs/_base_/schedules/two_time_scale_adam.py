# Two time-scale Adam: G 1e-4, D 4e-4, betas (0.0, 0.9) (torch 2.13 wants floats here).
# Dataset configs set train_cfg and the linear learning-rate decay.
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.9))),
    discriminator=dict(optimizer=dict(type='Adam', lr=4e-4, betas=(0.0, 0.9))))
val_cfg = None
test_cfg = None
