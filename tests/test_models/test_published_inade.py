"""The published INADE code's own files and outputs (tzt101/INADE, ``inade_published/``: a small
random generator and instance encoder it saved, and what it computed with them; see that
folder's README). Converted with tools/convert_official_checkpoint.py, our generator and
instance encoder reproduce the published outputs; wrong inputs and configs are named."""
import os.path as osp

import numpy as np
import pytest
import torch

from clade_mm.apis import SemanticSynthesizer
from clade_mm.converters import convert_official_checkpoint
from tests.tools import ROOT, run_tool

PUBLISHED = osp.join(osp.dirname(osp.abspath(__file__)), 'inade_published')
GENERATOR = osp.join(PUBLISHED, 'best_net_G.pth')
ENCODER = osp.join(PUBLISHED, 'best_net_E.pth')
TOLERANCE = 1e-4  # max abs difference in [-1, 1]
GEN = 'model.generator.'

# The published options (README): ngf 2, z_dim 16, noise_nc 8, 6 classes, crop 64, batch norm.
SMALL = f"""_base_ = {osp.join(ROOT, 'configs/inade/inade_synthetic.py')!r}
model = dict(generator=dict(
    num_classes=6, base_channels=2, z_channels=16, out_size=(64, 64),
    norm_cfg=dict(noise_channels=8, param_free_norm='BN'),
    style_encoder=dict(base_channels=2, noise_channels=8)))
"""


def max_diff(actual, expected):
    return float(np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64)).max())


@pytest.fixture(scope='module')
def reference():
    with np.load(osp.join(PUBLISHED, 'reference.npz')) as arrays:
        return dict(arrays)


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp('inade') / 'inade_published_small.py'
    path.write_text(SMALL)
    return str(path)


@pytest.fixture(scope='module')
def synthesizer(config, tmp_path_factory):
    checkpoint = str(tmp_path_factory.mktemp('converted') / 'inade.pth')
    convert_official_checkpoint(GENERATOR, checkpoint, config, encoder=ENCODER)
    return SemanticSynthesizer(config, checkpoint, precision='float32')


def as_chw(images):
    """``synthesize``'s ``[(H, W, 3)]`` as the published ``(1, 3, H, W)``."""
    assert len(images) == 1 and images[0].dtype == np.float32
    return images[0].transpose(2, 0, 1)[None]


def test_the_tool_converts_both_files_into_a_strictly_loading_checkpoint(
        tmp_path, config, monkeypatch, capsys):
    dst = tmp_path / 'inade.pth'
    result = run_tool('convert_official_checkpoint', GENERATOR, dst, '--config', config,
                      '--encoder', ENCODER, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert 'INADE generator, ngf 2, 6 label channels, style code 16' in result.stdout
    checkpoint = torch.load(dst, weights_only=True)
    meta = checkpoint['meta']
    assert meta['source_architecture']['norm'] == 'INADE'
    assert meta['source_architecture']['noise_channels'] == 8
    assert meta['source_architecture']['num_classes'] == 6
    assert not meta['unused_source_keys'] and not meta['zero_filled']
    published = {**torch.load(GENERATOR, weights_only=True),
                 **{f'style_encoder.{k}': v
                    for k, v in torch.load(ENCODER, weights_only=True).items()}}
    assert meta['num_generator_keys'] == len(published)

    synth = SemanticSynthesizer(config, precision='float32')  # untrained: other weights
    generator = synth.generator
    state = {k[len('generator.'):]: v for k, v in checkpoint['state_dict'].items()
             if k.startswith('generator.')}
    generator.load_state_dict(state, strict=True)
    # The published class tables: weight -> std, bias -> mean, and the encoder as it is.
    norm = generator.up_1.norm_s
    torch.testing.assert_close(norm.class_distributions.std, published['up_1.norm_s.weight'],
                               rtol=0, atol=0)
    torch.testing.assert_close(norm.class_distributions.mean, published['up_1.norm_s.bias'],
                               rtol=0, atol=0)
    torch.testing.assert_close(generator.style_encoder.bias_conv_var.weight,
                               published['style_encoder.bias_conv_var.weight'], rtol=0, atol=0)


@pytest.mark.parametrize('batch_axis', [False, True])
def test_the_converted_generator_paints_the_published_image(synthesizer, reference, batch_axis):
    noise = reference['noise'] if batch_axis else reference['noise'][0]  # (1,) 8, 2, 8
    noise_ins = reference['noise_ins'] if batch_axis else reference['noise_ins'][0]
    images = synthesizer.synthesize(reference['label'], instances=reference['instance'],
                                    noise=noise, noise_ins=noise_ins, as_float=True)
    image = as_chw(images)
    assert np.abs(reference['image']).mean() > 0.05  # not a blank image
    assert max_diff(image, reference['image']) < TOLERANCE


def test_the_instance_encoder_and_the_remapped_noise_match_the_published(synthesizer,
                                                                           reference):
    encoder = synthesizer.generator.style_encoder
    photo = torch.from_numpy(reference['ref_image'])
    instances = torch.from_numpy(reference['ref_instance'])[None]  # raw ids {0, 1, 3, 7}
    with torch.no_grad():
        outputs = encoder.eval()(photo, instances)
    names = ('s_mus', 's_logvars', 'b_mus', 'b_logvars')
    for name, ours in zip(names, outputs):
        assert ours.shape == reference[name].shape, name
        assert max_diff(ours, reference[name]) < TOLERANCE, name
    s_mu, s_logvar, b_mu, b_logvar = (t.numpy() for t in outputs)
    # The published pre_process_noise: per instance id, noise * exp(logvar / 2) + mu.
    mean = np.stack([s_mu, b_mu], 2)[0]  # (K, 2, noise_nc)
    logvar = np.stack([s_logvar, b_logvar], 2)[0]
    noise = reference['noise'][0] * np.exp(0.5 * logvar) + mean
    images = synthesizer.synthesize(reference['label'], instances=reference['instance'],
                                    noise=noise, noise_ins=reference['noise_ins'],
                                    as_float=True)
    assert max_diff(as_chw(images), reference['image_vae']) < TOLERANCE
    assert max_diff(reference['image_vae'], reference['image']) > 0.05  # the noise matters


def test_wrong_noise_and_a_missing_instance_map_are_named(synthesizer, reference):
    label, instance = reference['label'], reference['instance']
    noise, noise_ins = reference['noise'][0], reference['noise_ins']
    with pytest.raises(ValueError, match=r'noise has shape \(8, 2, 4\): expected '
                                         r'\(N, K, 2, 8\)'):
        synthesizer.synthesize(label, instances=instance, noise=noise[..., :4],
                               noise_ins=noise_ins)
    with pytest.raises(ValueError, match=r'noise has 7 rows .*instance id 7.*at least 8 rows'):
        synthesizer.synthesize(label, instances=instance, noise=noise[:7], noise_ins=noise_ins)
    with pytest.raises(ValueError, match=r'this model reads instances'):
        synthesizer.synthesize(label, noise=noise, noise_ins=noise_ins)


@pytest.mark.parametrize('option, fix', [
    ('norm_cfg.noise_channels=4', 'set model.generator.norm_cfg.noise_channels=8'),
    ('style_encoder.noise_channels=4', 'set model.generator.style_encoder.noise_channels=8'),
    ('z_channels=32', 'set model.generator.z_channels=16'),
    ('out_size=(128,128)', 'set model.generator.out_size'),
])
def test_a_config_that_does_not_fit_is_named_and_nothing_written(
        tmp_path, config, monkeypatch, capsys, option, fix):
    dst = tmp_path / 'inade.pth'
    result = run_tool('convert_official_checkpoint', GENERATOR, dst, '--config', config,
                      '--encoder', ENCODER, '--cfg-options', GEN + option,
                      monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 1
    assert fix in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr
    assert not dst.exists()
