"""The published SEAN code's outputs (ZPdesu/SEAN, ``sean_published/``: a small random generator
made again from its recipe, and what the published code computed with it; see that folder's
README). Converted with tools/convert_official_checkpoint.py, our generator, region encoder and
ACE norms reproduce the published images; wrong inputs and configs are named."""
import os.path as osp

import numpy as np
import pytest
import torch

from clade_mm.apis import SemanticSynthesizer
from clade_mm.converters import convert_official_checkpoint
from tests.test_models.sean_published.weights import write_published_checkpoint
from tests.test_models.test_published_inade import as_chw, max_diff
from tests.tools import ROOT, run_tool

TOLERANCE = 1e-4  # max abs difference in [-1, 1]
GEN = 'model.generator.'
PUBLISHED = osp.join(osp.dirname(osp.abspath(__file__)), 'sean_published')

# The published options (README): CelebA-HQ's 19 classes, ngf 4, crop 64, 512-long codes, the
# Zencoder's ngf 32, SPADE branches of 128 hidden channels, batch norm.
SMALL = f"""_base_ = {osp.join(ROOT, 'configs/sean/sean_celebamask_hq.py')!r}
image_size = (64, 64)
model = dict(generator=dict(base_channels=4, norm_cfg=dict(param_free_norm='BN')))
"""


@pytest.fixture(scope='module')
def reference():
    with np.load(osp.join(PUBLISHED, 'reference.npz')) as arrays:
        return dict(arrays)


@pytest.fixture(scope='module')
def published(tmp_path_factory):
    """The published ``latest_net_G.pth``, written from the recipe (339 MB, once)."""
    return write_published_checkpoint(str(tmp_path_factory.mktemp('published_sean')))


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp('sean') / 'sean_published_small.py'
    path.write_text(SMALL)
    return str(path)


@pytest.fixture(scope='module')
def synthesizer(published, config, tmp_path_factory):
    checkpoint = str(tmp_path_factory.mktemp('converted') / 'sean.pth')
    convert_official_checkpoint(published, checkpoint, config)
    return SemanticSynthesizer(config, checkpoint, precision='float32')


def photo(reference):
    """The style image as an RGB array of 0..255 values (float: no rounding) as the API takes
    photos."""
    return (reference['style_image'][0].transpose(1, 2, 0) + 1) * 127.5


def test_the_tool_converts_the_generator_file_into_a_strictly_loading_checkpoint(
        tmp_path, published, config, monkeypatch, capsys):
    dst = tmp_path / 'sean.pth'
    result = run_tool('convert_official_checkpoint', published, dst, '--config', config,
                      monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 0, result.stderr
    checkpoint = torch.load(dst, weights_only=True)
    meta = checkpoint['meta']
    assert meta['source_architecture']['norm'] == 'SEAN'
    assert meta['source_architecture']['style_channels'] == 512
    assert list(meta['source_architecture']['blocks_without_style']) == ['up_3']
    assert not meta['unused_source_keys'] and not meta['zero_filled']
    dropped = meta['dropped_source_keys']
    assert 'head_0.ace_0.Spade.param_free_norm.running_mean' in dropped
    assert 'up_3.ace_0.blending_gamma' in dropped
    assert not any('fc_mu' in key for key in dropped)  # 19 label channels: every fc_mu used

    synth = SemanticSynthesizer(config, precision='float32')  # untrained: other weights
    generator = synth.generator
    state = {k[len('generator.'):]: v for k, v in checkpoint['state_dict'].items()
             if k.startswith('generator.')}
    generator.load_state_dict(state, strict=True)
    source = torch.load(published, weights_only=True)
    bank = generator.up_1.norm_s.style_projections
    for j in (0, 7, 18):  # fc_mu<j> is row j of the bank
        torch.testing.assert_close(bank.weight[j], source[f'up_1.ace_s.fc_mu{j}.weight'],
                                   rtol=0, atol=0)
        torch.testing.assert_close(bank.bias[j], source[f'up_1.ace_s.fc_mu{j}.bias'],
                                   rtol=0, atol=0)
    torch.testing.assert_close(generator.style_encoder.model[14].weight,
                               source['Zencoder.model.14.weight'], rtol=0, atol=0)


def test_the_region_encoder_gives_the_published_style_codes(synthesizer, reference):
    codes = synthesizer.encode_styles(photo(reference), reference['label'])
    assert codes.shape == (19, 512)
    assert max_diff(codes, reference['style_codes'][0]) < TOLERANCE
    absent = sorted(set(range(19)) - set(np.unique(reference['label'])))
    assert absent and not codes[absent].any()  # classes without pixels: the zero code


@pytest.mark.parametrize('given', ['photo', 'codes', 'codes with batch axis'])
def test_the_converted_generator_paints_the_published_image(synthesizer, reference, given):
    label, seed = reference['label'], int(reference['seed'])
    if given == 'photo':
        inputs = dict(style=photo(reference), style_labels=label)
    elif given == 'codes':
        inputs = dict(style_codes=reference['style_codes'][0])
    else:
        inputs = dict(style_codes=reference['style_codes'])
    images = synthesizer.synthesize(label, noise_seed=seed, as_float=True, **inputs)
    assert np.abs(reference['image']).mean() > 0.05  # not a blank image
    assert max_diff(as_chw(images), reference['image']) < TOLERANCE


def test_another_map_takes_the_photo_s_styles_and_zero_codes_for_its_absent_classes(
        synthesizer, reference):
    images = synthesizer.synthesize(reference['label_b'], style=photo(reference),
                                    style_labels=reference['label'],
                                    noise_seed=int(reference['seed_b']), as_float=True)
    assert max_diff(as_chw(images), reference['image_b']) < TOLERANCE


def test_without_noise_the_published_image_too(synthesizer, reference):
    norms = [m for m in synthesizer.generator.modules() if hasattr(m, 'noise_var')]
    saved = [norm.noise_var.detach().clone() for norm in norms]
    try:
        with torch.no_grad():
            for norm in norms:
                norm.noise_var.zero_()
        images = synthesizer.synthesize(reference['label'],
                                        style_codes=reference['style_codes'],
                                        noise_seed=12345, as_float=True)
    finally:
        with torch.no_grad():
            for norm, value in zip(norms, saved):
                norm.noise_var.copy_(value)
    assert max_diff(as_chw(images), reference['image_zero_noise']) < TOLERANCE
    assert max_diff(reference['image_zero_noise'], reference['image']) > 0.05


def test_wrong_style_inputs_are_named(synthesizer, reference):
    label, codes = reference['label'], reference['style_codes'][0]
    with pytest.raises(ValueError, match=r'style_codes has shape \(19, 256\): expected '
                                         r'\(N, 19, 512\)'):
        synthesizer.synthesize(label, style_codes=codes[:, :256])
    with pytest.raises(ValueError, match=r'label map too.*style_labels'):
        synthesizer.synthesize(label, style=photo(reference))
    with pytest.raises(ValueError, match=r'style_codes .*style_labels'):
        synthesizer.synthesize(label)
    with pytest.raises(Exception, match=r'is 64x32 but its label map .* is 64x64'):
        synthesizer.synthesize(label, style=photo(reference)[:32],
                               style_labels=reference['label'])


@pytest.mark.parametrize('option, fix', [
    ('norm_cfg.style_channels=256', 'set model.generator.norm_cfg.style_channels=512'),
    ('block_norm_cfgs=None', 'block_norm_cfgs=dict(up_3=dict(with_style=False))'),
    ('style_encoder.base_channels=16', 'set model.generator.style_encoder.base_channels=32'),
])
def test_a_config_that_does_not_fit_is_named_and_nothing_written(
        tmp_path, published, config, monkeypatch, capsys, option, fix):
    dst = tmp_path / 'sean.pth'
    result = run_tool('convert_official_checkpoint', published, dst, '--config', config,
                      '--cfg-options', GEN + option, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode != 0
    assert fix in result.stderr, result.stderr
    assert not dst.exists()
