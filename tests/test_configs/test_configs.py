"""Every shipped config loads, names registered modules and builds its model."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.paths import (INADE_CONFIGS, OASIS_CONFIGS, SEAN_CONFIGS, SPADE_FAMILY_CONFIGS,
                         config_path)

CONFIGS = SPADE_FAMILY_CONFIGS
EXPECTED = {  # the published settings
    'ade20k': (151, False, 'normal', (256, 256)),
    'ade20k_outdoor': (151, False, 'normal', (256, 256)),
    'coco_stuff': (183, True, 'normal', (256, 256)),
    'cityscapes': (35, True, 'more', (256, 512)),
    'synthetic': (6, False, 'normal', (64, 64)),
}


def test_every_method_and_dataset_has_a_config():
    names = {osp.basename(c)[:-3] for c in CONFIGS}
    for dataset in EXPECTED:
        for method in ('spade', 'clade', 'clade_icpe'):
            assert f'{method}_{dataset}' in names


@pytest.mark.parametrize('path', CONFIGS)
def test_config_defaults_and_build(path):
    cfg = Config.fromfile(path)
    name = osp.basename(path)[:-3]
    method, dataset = name.split('_', 1)
    if dataset.startswith('icpe_'):
        method, dataset = 'clade_icpe', dataset[len('icpe_'):]
    num_classes, edges, mode, size = EXPECTED[dataset]
    gen = cfg.model.generator
    assert gen.num_classes == cfg.model.discriminator.num_classes == num_classes
    assert gen.with_instance_edge == cfg.model.discriminator.with_instance_edge == edges
    assert gen.get('num_upsampling_layers', 'normal') == mode
    assert tuple(cfg.image_size) == size
    assert gen.norm_cfg.type == {'spade': 'SPADE', 'clade': 'CLADE',
                                 'clade_icpe': 'CLADE-ICPE'}[method]
    betas = [cfg.optim_wrapper[k].optimizer.betas for k in ('generator', 'discriminator')]
    assert all(b == (0.0, 0.9) for b in betas)
    init_default_scope('mmagic')
    from mmagic.registry import MODELS
    if dataset == 'synthetic':  # small: build the whole GAN
        MODELS.build(cfg.model)


@pytest.mark.parametrize('path', INADE_CONFIGS)
def test_inade_config_defaults_and_build(path):
    """The published INADE settings: the SPADE dataset settings, INADE norms without instance
    edges (the discriminator takes them), a z code of the image's latent size, the instance
    encoder of the norms' noise size, and the published losses."""
    cfg = Config.fromfile(path)
    dataset = osp.basename(path)[:-3].split('_', 1)[1]
    num_classes, _, mode, size = EXPECTED[dataset]
    gen = cfg.model.generator
    assert gen.num_classes == cfg.model.discriminator.num_classes == num_classes
    assert gen.with_instance_edge is False and cfg.model.discriminator.with_instance_edge
    assert gen.get('num_upsampling_layers', 'normal') == mode
    assert tuple(cfg.image_size) == tuple(gen.out_size) == size
    assert gen.norm_cfg.type == 'INADE'
    assert gen.style_encoder.type == 'InstanceStyleEncoder'
    assert gen.style_encoder.noise_channels == gen.norm_cfg.noise_channels
    intermediate = cfg.model.discriminator.get('num_layers', 4)
    assert cfg.model.feature_matching_loss.first_layer == intermediate - 1
    if dataset != 'synthetic':
        assert (gen.z_channels, gen.norm_cfg.noise_channels) == (256, 64)
        assert cfg.model.perceptual_loss.layer_weights[:3] == (0.0, 0.0, 0.0)
    for split in ('train', 'test'):  # every sample reaches the model with an instance map
        dataset = cfg[f'{split}_dataloader'].dataset
        layouts = dataset.data_prefix if isinstance(dataset.data_prefix, list) else \
            [dataset.data_prefix]
        assert 'instance' in dataset.pipeline[-1]['keys']
        assert dataset.pipeline[0].get('instances_from_labels') or \
            all(layout.get('instance') for layout in layouts)
    init_default_scope('mmagic')
    from mmagic.registry import MODELS
    if dataset == 'synthetic':
        MODELS.build(cfg.model)


@pytest.mark.parametrize('path', SEAN_CONFIGS)
def test_sean_config_defaults_and_build(path):
    """The published SEAN settings: its own dataset (CelebAMask-HQ) and the SPADE dataset
    settings, ACE norms without instance edges, the last block without a style branch, the
    region encoder of the norms' style length, SPADE's losses without the KL term."""
    cfg = Config.fromfile(path)
    dataset = osp.basename(path)[:-3].split('_', 1)[1]
    num_classes, _, mode, size = dict(EXPECTED, celebamask_hq=(19, False, 'normal',
                                                               (256, 256)))[dataset]
    gen = cfg.model.generator
    assert gen.num_classes == cfg.model.discriminator.num_classes == num_classes
    assert gen.with_instance_edge is False
    assert gen.get('num_upsampling_layers', 'normal') == mode
    assert tuple(cfg.image_size) == size
    assert gen.norm_cfg.type == 'SEAN'
    assert gen.block_norm_cfgs == dict(up_3=dict(with_style=False))
    assert gen.style_encoder.type == 'RegionStyleEncoder'
    assert gen.style_encoder.style_channels == gen.norm_cfg.style_channels
    assert cfg.model.kl_loss is None
    if dataset != 'synthetic':
        assert (gen.norm_cfg.style_channels, gen.style_encoder.base_channels) == (512, 32)
    init_default_scope('mmagic')
    from mmagic.registry import MODELS
    if dataset == 'synthetic':
        model = MODELS.build(cfg.model)
        norms = {name: m for name, m in model.generator.named_modules()
                 if type(m).__name__ == 'SEAN'}
        assert all(m.with_style == (not name.startswith('up_3.')) for name, m in norms.items())


def test_oasis_has_a_config_per_dataset_with_its_norm_and_clade_s():
    names = {osp.basename(c)[:-3] for c in OASIS_CONFIGS}
    assert names == {f'{method}_{dataset}' for method in ('oasis', 'clade_oasis')
                     for dataset in ('ade20k', 'cityscapes', 'coco_stuff', 'synthetic')}


# The published OASIS settings: the don't-care class the N+1 loss weighs 0 (COCO-Stuff's
# "unlabeled" is last in the zoo's order), LabelMix's weight and the EMA's momentum.
OASIS_EXPECTED = {'ade20k': (0, 10.0, 1e-4), 'cityscapes': (0, 5.0, 1e-3),
                  'coco_stuff': (182, 10.0, 1e-4), 'synthetic': (None, 10.0, 0.01)}


@pytest.mark.parametrize('path', OASIS_CONFIGS)
def test_oasis_config_defaults_and_build(path):
    """The published OASIS settings on the SPADE dataset settings: OASIS's generator with
    NoiseSPADE (or CLADE) norms and 3D noise, the segmenting U-Net discriminator, no VGG, the
    N+1 loss and LabelMix, Adam (0, 0.999); the test scores the discriminator's segmentation
    of the real photos with the loss's don't-care class beside the segmentor's score."""
    cfg = Config.fromfile(path)
    method, dataset = osp.basename(path)[:-3].split('oasis_', 1)
    num_classes, _, _, size = EXPECTED[dataset]
    dont_care, labelmix, momentum = OASIS_EXPECTED[dataset]
    model = cfg.model
    gen, disc = model.generator, model.discriminator
    assert (model.type, gen.type, disc.type) == ('OASISGAN', 'OASISGenerator',
                                                 'OASISDiscriminator')
    assert gen.num_classes == disc.num_classes == num_classes
    assert gen.norm_cfg.type == {'': 'NoiseSPADE', 'clade_': 'CLADE'}[method]
    assert gen.z_channels > 0
    assert tuple(cfg.image_size) == size
    levels = len(disc.get('channels', (128, 128, 256, 256, 512, 512)))
    assert all(side % 2 ** levels == 0 and side % 32 == 0 for side in size)
    assert model.perceptual_loss is None
    assert model.adversarial_loss.dont_care_class == dont_care
    assert cfg.train_dataloader.dataset.get('dont_care_class', dont_care) == dont_care
    assert model.labelmix.loss_weight == labelmix
    assert model.ema_config.momentum == momentum
    betas = [cfg.optim_wrapper[k].optimizer.betas for k in ('generator', 'discriminator')]
    assert all(b == (0.0, 0.999) for b in betas)
    metrics = {metric.type: metric for metric in cfg.test_evaluator}
    assert 'SegmentationScore' in metrics
    assert metrics['DiscriminatorIoU'].num_classes == num_classes
    assert metrics['DiscriminatorIoU'].get('dont_care_class') == dont_care
    init_default_scope('mmagic')
    import clade_mm.evaluation  # noqa: F401
    from mmagic.registry import METRICS, MODELS
    METRICS.build(metrics['DiscriminatorIoU'])
    if dataset == 'synthetic':
        MODELS.build(cfg.model)


@pytest.mark.parametrize('name', ['clade_ade20k', 'clade_cityscapes'])
def test_real_dataset_evaluators_name_their_missing_weights(name):
    cfg = Config.fromfile(config_path(name))
    init_default_scope('mmagic')
    import clade_mm.evaluation  # noqa: F401
    from mmagic.registry import METRICS
    for metric, missing in zip(cfg.test_evaluator, ['checkpoints/', 'inception-2015-12-05.pt']):
        with pytest.raises(FileNotFoundError, match=missing):
            METRICS.build(metric)
