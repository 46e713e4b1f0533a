"""The synthesis API and CLI, on a small untrained model saved as a checkpoint."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from clade_mm.apis import SemanticSynthesizer
from clade_mm.datasets import DatasetError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_model(tmp_path, style=False):
    # instance norm: eval mode normalises like training, without running statistics to learn
    generator = dict(base_channels=8,
                     norm_cfg=dict(_delete_=True, type='CLADE', param_free_norm='IN'))
    if style:
        generator.update(z_channels=8, out_size=(64, 64),
                         style_encoder=dict(type='StyleEncoder', base_channels=4,
                                            input_size=128))
    config = tmp_path / ('style.py' if style else 'plain.py')
    config.write_text(f"_base_ = {os.path.join(ROOT, 'configs/clade_synthetic.py')!r}\n"
                      f"model = dict(generator={generator!r}, "
                      "discriminator=dict(base_channels=8))\n")
    init_default_scope('mmagic')
    import clade_mm.models  # noqa: F401
    from mmagic.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    model.init_weights()
    with torch.no_grad():  # as if trained: class banks apart
        for name, p in model.generator.named_parameters():
            if 'class_affine.beta' in name:
                p.normal_(0, 0.3)
    checkpoint = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return str(config), str(checkpoint)


def test_api_checks_resizes_and_depends_on_the_labels(tmp_path):
    config, checkpoint = make_model(tmp_path)
    synth = SemanticSynthesizer(config, checkpoint)
    sky = np.zeros((32, 48), np.uint8)  # resized to the config's 64x64
    grass = np.ones((32, 48), np.uint8)
    (a,), (b,) = synth(sky), synth(grass)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1
    with pytest.raises(DatasetError, match='label id 6 in 00000.png, but num_classes=6'):
        synth(np.full((64, 64), 6, np.uint8))


def test_cli_reports_a_bad_map_and_writes_the_good_ones(tmp_path):
    config, checkpoint = make_model(tmp_path)
    folder = tmp_path / 'labels'
    folder.mkdir()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(folder / 'good1.png')
    Image.fromarray(np.full((64, 64), 9, np.uint8)).save(folder / 'bad.png')
    Image.fromarray(np.ones((64, 64), np.uint8)).save(folder / 'good2.png')
    out = tmp_path / 'out'
    run = subprocess.run([sys.executable, 'tools/synthesize.py', config, checkpoint,
                          str(folder), str(out)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert 'bad.png: skipped: label id 9' in run.stderr
    assert sorted(os.listdir(out)) == ['good1.png', 'good2.png']
    assert np.asarray(Image.open(out / 'good1.png')).shape == (64, 64, 3)


def test_style_guided_and_multimodal_synthesis(tmp_path):
    config, checkpoint = make_model(tmp_path, style=True)
    synth = SemanticSynthesizer(config, checkpoint)
    labels = np.zeros((64, 64), np.uint8)
    labels[32:] = 1
    dark = np.zeros((64, 64, 3), np.uint8)
    bright = np.full((64, 64, 3), 255, np.uint8)
    (a,), (b,) = synth(labels, style=dark), synth(labels, style=bright)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5
    (again,) = synth(labels, style=dark)
    assert np.array_equal(a, again)  # the style's mean code: deterministic
    samples = synth(labels, seed=3, num_samples=2)
    assert len(samples) == 2 and not np.array_equal(samples[0], samples[1])
    assert np.array_equal(synth(labels, seed=3, num_samples=2)[1], samples[1])
