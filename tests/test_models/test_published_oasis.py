"""The published OASIS code's outputs (boschresearch/OASIS, ``oasis_published/``: a small random
generator, its moving average and the discriminator made again from their recipe, and what the
published code computed with them; see that folder's README). Converted with
tools/convert_official_checkpoint.py, our OASISGAN (the NoiseSPADE generator and the U-Net
discriminator) reproduces the published images, for a z vector and for a 3D noise map, and the
discriminator's logits: in the published class order, and with the don't-care class last (the
zoo's COCO-Stuff order). Wrong files and configs are named."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from clade_mm.apis import SemanticSynthesizer
from clade_mm.converters import convert_official_checkpoint
from mmagic.registry import MODELS
from tests.test_models.oasis_published.weights import (noise_map, published_state_dict,
                                                        write_published_checkpoints)
from tests.test_models.test_published_inade import as_chw, max_diff
from tests.tools import ROOT, run_tool

TOLERANCE = 1e-4  # max abs difference of images in [-1, 1], and of logits
PUBLISHED = osp.join(osp.dirname(osp.abspath(__file__)), 'oasis_published')
NUM_CLASSES = 8

# The published options (README): channels_G 8, z_dim 8, semantic_nc 8 (class 0 don't-care),
# crop 64, SPADE's 128 hidden channels, batch norm; the discriminator's fixed widths.
LOADER = f"dict(type='LoadSemanticSample', num_classes={NUM_CLASSES})"
SMALL = f"""_base_ = {osp.join(ROOT, 'configs/oasis/oasis_synthetic.py')!r}
image_size = (64, 64)
metainfo = dict(
    classes=('unlabeled', 'sky', 'grass', 'water', 'tree', 'rock', 'building', 'pole'),
    palette=[[0, 0, 0], [120, 170, 235], [70, 160, 60], [40, 80, 160], [20, 90, 35],
             [130, 125, 120], [170, 80, 60], [90, 90, 90]])
model = dict(
    generator=dict(num_classes={NUM_CLASSES}, base_channels=8, z_channels=8,
                   norm_cfg=dict(hidden_channels=128)),
    discriminator=dict(num_classes={NUM_CLASSES}, channels=(128, 128, 256, 256, 512, 512),
                       last_channels=64))
train_dataloader = dict(dataset=dict(
    num_classes={NUM_CLASSES}, metainfo=metainfo,
    pipeline=[{LOADER}, dict(type='PackInputs', keys=['img', 'label'])]))
test_dataloader = dict(dataset=dict(
    num_classes={NUM_CLASSES}, metainfo=metainfo,
    pipeline=[{LOADER}, dict(type='PackInputs', keys=['img', 'label'])]))
"""
# The same model with the don't-care class last, as the zoo's COCO-Stuff has it (182 of 183):
# the published class 0 is our class 7, its class p our p - 1.
DONT_CARE_LAST = """_base_ = './oasis_published_small.py'
model = dict(adversarial_loss=dict(dont_care_class=7))
train_dataloader = dict(dataset=dict(dont_care_class=7))
test_dataloader = dict(dataset=dict(dont_care_class=7))
"""
# our class c is the published channel PUBLISHED_CHANNEL[c] there
PUBLISHED_CHANNEL = [1, 2, 3, 4, 5, 6, 7, 0]


@pytest.fixture(scope='module')
def reference():
    with np.load(osp.join(PUBLISHED, 'reference.npz')) as arrays:
        return dict(arrays)


@pytest.fixture(scope='module')
def published(tmp_path_factory):
    """The published ``latest_{G,EMA,D}.pth``, written from the recipe (once)."""
    return write_published_checkpoints(str(tmp_path_factory.mktemp('published_oasis')))


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    folder = tmp_path_factory.mktemp('oasis')
    (folder / 'oasis_published_small.py').write_text(SMALL)
    (folder / 'oasis_published_dont_care_last.py').write_text(DONT_CARE_LAST)
    return dict(published=str(folder / 'oasis_published_small.py'),
                dont_care_last=str(folder / 'oasis_published_dont_care_last.py'))


@pytest.fixture(scope='module')
def checkpoints(published, configs, tmp_path_factory):
    """Both configs' checkpoints of the three files, by the tool's Python entry point."""
    folder = tmp_path_factory.mktemp('converted')
    paths = {}
    for order, config in configs.items():
        paths[order] = str(folder / f'oasis_{order}.pth')
        convert_official_checkpoint(published['G'], paths[order], config,
                                    discriminator=published['D'], ema=published['EMA'])
    return paths


@pytest.fixture(scope='module')
def synthesizers(configs, checkpoints):
    return {order: SemanticSynthesizer(configs[order], checkpoints[order], precision='float32')
            for order in configs}


def build_gan(config, checkpoint):
    """The config's OASISGAN with the checkpoint loaded strictly, in eval mode."""
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)
    return model.eval()


def our_labels(label, order):
    """The published label map in the config's class ids."""
    if order == 'published':
        return label
    return np.asarray(PUBLISHED_CHANNEL).argsort()[label].astype(label.dtype)


def test_the_recipe_makes_the_weights_the_references_were_computed_with(reference):
    for tag in ('G', 'EMA', 'D'):
        sums = [v.double().abs().sum().item() for v in published_state_dict(tag).values()]
        np.testing.assert_allclose(sums, reference[f'state_abs_sums_{tag}'], rtol=1e-6)
    assert float(noise_map().double().abs().sum()) == pytest.approx(
        float(reference['z_map_abs_sum']), rel=1e-9)


def test_the_tool_converts_the_three_files_into_a_strictly_loading_checkpoint(
        tmp_path, published, configs, monkeypatch, capsys):
    dst = tmp_path / 'oasis.pth'
    result = run_tool('convert_official_checkpoint', published['G'], dst, '--config',
                      configs['published'], '--ema', published['EMA'], '--discriminator',
                      published['D'], monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert 'NoiseSPADE generator, ngf 8' in result.stdout
    assert "208 generator keys (and the EMA generator's from" in result.stdout
    assert '130 discriminator keys' in result.stdout
    meta = torch.load(dst, weights_only=True)['meta']
    assert meta['source_architecture']['norm'] == 'NoiseSPADE'
    assert meta['source_architecture']['running_stats'] and meta['ema_from'] == 'ema'
    assert not meta['unused_source_keys'] and not meta['zero_filled'] and not meta['adapted']

    model = build_gan(configs['published'], str(dst))  # strict: every key of the GAN
    for tag, module, key, published_key in (
            ('G', model.generator, 'body.3.norm_1.param_free_norm.running_var',
             'body.3.norm_1.first_norm.running_var'),
            ('EMA', model.generator_ema.module, 'body.5.conv_s.weight_u',
             'body.5.conv_s.weight_u'),
            ('EMA', model.generator_ema.module, 'fc.weight', 'fc.weight'),
            ('D', model.discriminator, 'layer_up_last.weight', 'layer_up_last.weight')):
        source = torch.load(published[tag], weights_only=True)[published_key]
        torch.testing.assert_close(module.state_dict()[key], source, rtol=0, atol=0)


@pytest.mark.parametrize('order', ['published', 'dont_care_last'])
@pytest.mark.parametrize('z_shape', [(8, ), (1, 8)])
def test_a_z_vector_gives_the_published_image(synthesizers, reference, order, z_shape):
    label = our_labels(reference['label'], order)
    images = synthesizers[order].synthesize(label, z=reference['z'].reshape(z_shape),
                                            as_float=True)
    assert synthesizers[order].uses_ema
    assert np.abs(reference['image']).mean() > 0.05  # not a blank image
    assert max_diff(as_chw(images), reference['image']) < TOLERANCE


@pytest.mark.parametrize('order', ['published', 'dont_care_last'])
def test_a_3d_noise_map_gives_the_published_image(synthesizers, reference, order):
    label = our_labels(reference['label'], order)
    images = synthesizers[order].synthesize(label, z=noise_map()[0].numpy(), as_float=True)
    assert max_diff(as_chw(images), reference['image_map']) < TOLERANCE
    assert max_diff(reference['image_map'], reference['image']) > 0.1


def test_the_generator_without_its_average_gives_the_published_generator_s_image(
        configs, checkpoints, reference):
    synth = SemanticSynthesizer(configs['published'], checkpoints['published'], use_ema=False,
                                precision='float32')
    images = synth.synthesize(reference['label'], z=reference['z'][0], as_float=True)
    assert max_diff(as_chw(images), reference['image_g']) < TOLERANCE
    assert max_diff(reference['image_g'], reference['image']) > 0.1  # G and EMA differ


@pytest.mark.parametrize('order', ['published', 'dont_care_last'])
def test_the_discriminator_gives_the_published_logits(configs, checkpoints, reference, order):
    model = build_gan(configs[order], checkpoints[order])
    with torch.no_grad():
        logits = model.discriminator(torch.from_numpy(reference['disc_image'])).numpy()
    expected = reference['logits']
    if order == 'dont_care_last':  # "fake" stays first; class c is published channel 1 + p(c)
        expected = np.concatenate(
            [expected[:, :1], expected[:, 1:][:, PUBLISHED_CHANNEL]], axis=1)
    assert max_diff(logits, expected) < TOLERANCE


def test_the_class_order_is_said(configs, published, tmp_path):
    meta = convert_official_checkpoint(published['G'], str(tmp_path / 'x.pth'),
                                       configs['dont_care_last'])
    assert len(meta['adapted']) == 1
    assert "the config's is class 7 (model.adversarial_loss.dont_care_class)" in \
        meta['adapted'][0]
    disagree = {'model.adversarial_loss.dont_care_class': 0}
    with pytest.raises(ValueError, match=r"different don't-care classes \("
                                         r'model.adversarial_loss.dont_care_class=0, '
                                         r'train_dataloader.dataset.dont_care_class=7'):
        convert_official_checkpoint(published['G'], str(tmp_path / 'y.pth'),
                                    configs['dont_care_last'], cfg_options=disagree)
    assert not (tmp_path / 'y.pth').exists()


def test_a_discriminator_given_as_the_generator_is_named_with_the_fix(
        tmp_path, published, configs, monkeypatch, capsys):
    dst = tmp_path / 'oasis.pth'
    result = run_tool('convert_official_checkpoint', published['D'], dst, '--config',
                      configs['published'], monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 1
    assert 'latest_D.pth is not the state dict of a published' in result.stderr
    assert 'it is a published boschresearch/OASIS discriminator: give it with ' \
           '--discriminator, and a generator file as the source' in result.stderr
    assert 'Traceback' not in result.stderr and not dst.exists()
    result = run_tool('convert_official_checkpoint', published['G'], dst, '--config',
                      configs['published'], '--discriminator', published['EMA'],
                      monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 1 and 'latest_EMA.pth is not the state dict' in result.stderr
    assert 'it is a generator: give it as the source' in result.stderr
    assert not dst.exists()


@pytest.mark.parametrize('config, options, fixes', [
    ('configs/spade/spade_synthetic.py', [],
     ["take a config whose model.generator.type is 'OASISGenerator'"]),
    ('configs/oasis/oasis_ade20k.py', [],
     ['the config 64 + 151: set model.generator.z_channels and model.generator.num_classes '
      'to its z_dim and semantic_nc, which sum to 16', 'set model.generator.base_channels=8']),
    (None, ['model.generator.num_classes=10'],
     ['set model.generator.num_classes=8 and model.discriminator.num_classes=8 if its z_dim '
      'is 8']),
    (None, ["model.generator.norm_cfg.param_free_norm='IN'", 'model.generator.z_channels=4'],
     ["set model.generator.norm_cfg.param_free_norm='BN'", 'set model.generator.z_channels=8']),
    ('configs/oasis/clade_oasis_synthetic.py', [],
     ["set model.generator.norm_cfg=dict(type='NoiseSPADE', param_free_norm='BN')"]),
])
def test_a_generator_for_another_config_is_named_with_the_fix(
        tmp_path, published, configs, monkeypatch, capsys, config, options, fixes):
    dst = tmp_path / 'oasis.pth'
    config = osp.join(ROOT, config) if config else configs['published']
    args = ['--cfg-options', *options] if options else []
    result = run_tool('convert_official_checkpoint', published['G'], dst, '--config', config,
                      *args, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 1
    assert 'latest_G.pth does not fit the generator of' in result.stderr
    for fix in fixes:
        assert fix in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr and not dst.exists()


@pytest.mark.parametrize('options, fix', [
    (['model.discriminator.num_classes=10'], 'set model.discriminator.num_classes=8'),
    (['model.discriminator.channels=(64,64,128,128,256,256)'],
     'set model.discriminator.channels=(128, 128, 256, 256, 512, 512)'),
])
def test_a_discriminator_for_another_config_is_named_with_the_fix(
        tmp_path, published, configs, monkeypatch, capsys, options, fix):
    dst = tmp_path / 'oasis.pth'
    result = run_tool('convert_official_checkpoint', published['G'], dst, '--config',
                      configs['published'], '--discriminator', published['D'],
                      '--cfg-options', *options, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 1
    assert 'latest_D.pth does not fit the discriminator of' in result.stderr
    assert fix in result.stderr, result.stderr
    assert not dst.exists()
