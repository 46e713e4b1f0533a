# OASIS's part of the published setting, shared by its configs: the OASIS generator (SPADE
# blocks whose norms read 64 channels of 3D noise beside the one-hot map), the U-Net
# discriminator with N+1 outputs, the class-balanced N+1 loss and LabelMix (weight 10), the
# generator's EMA (decay 0.9999), no VGG and no feature matching (nothing to download).
# Adam (0.0, 0.999), G 1e-4, D 4e-4, constant rates. A dataset config sets the classes.
_base_ = '../../_base_/models/semantic_gan.py'  # for its data preprocessor
model = dict(
    _delete_=True,
    type='OASISGAN',
    data_preprocessor={{_base_.model.data_preprocessor}},
    generator=dict(
        type='OASISGenerator',
        num_classes=None,
        norm_cfg=dict(type='NoiseSPADE', param_free_norm='BN'),
        base_channels=64,
        z_channels=64),
    discriminator=dict(type='OASISDiscriminator', num_classes=None),
    adversarial_loss=dict(type='SegmentationAdversarialLoss', class_balancing=True,
                          dont_care_class=None),
    labelmix=dict(type='LabelMixLoss', loss_weight=10.0),
    perceptual_loss=None,
    # mmagic's EMA: average = (1 - momentum) * average + momentum * generator, each step.
    ema_config=dict(type='ExponentialMovingAverage', interval=1, momentum=1e-4))
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.999), fused=True)),
    discriminator=dict(optimizer=dict(type='Adam', lr=4e-4, betas=(0.0, 0.999), fused=True)))
val_cfg = None
test_cfg = dict(type='TestLoop')
