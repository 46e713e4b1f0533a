# The SPADE/CLADE synthesis GAN (the published SPADE/CLADE training). A dataset config sets
# num_classes (and with_instance_edge); a method config sets norm_cfg.
model = dict(
    type='SemanticGAN',
    data_preprocessor=dict(
        type='DataPreprocessor',
        mean=127.5,
        std=127.5,
        output_channel_order='RGB',
        non_image_keys=['label', 'instance', 'position'],
        data_keys=None),
    generator=dict(
        type='SemanticGenerator',
        num_classes=None,
        norm_cfg=dict(type='CLADE', param_free_norm='BN'),
        base_channels=64,
        num_upsampling_layers='normal',
        with_instance_edge=False),
    discriminator=dict(
        type='MultiScaleDiscriminator',
        num_classes=None,
        with_instance_edge=False,
        num_scales=2,
        base_channels=64,
        num_layers=4),
    gan_loss=dict(type='GANLoss', gan_type='hinge'),
    feature_matching_loss=dict(type='FeatureMatchingLoss', loss_weight=10.0),
    # torchvision's VGG19 ImageNet weights, a local file (no download at run time).
    perceptual_loss=dict(
        type='VGG19PerceptualLoss',
        checkpoint='checkpoints/vgg19-dcbb9e9d.pth',
        loss_weight=10.0),
    kl_loss=dict(type='KLDivergenceLoss', loss_weight=0.05))
