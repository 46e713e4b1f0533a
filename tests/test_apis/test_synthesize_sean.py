"""SEAN through the synthesis API and tools/synthesize.py: every region in the style of its
region in a photo (--style with --style-labels), single classes from other photos
(--style-for CLASS=PHOTO:MAP, encode_styles and style_codes=), and the refusals of wrong
arguments, on the synthetic-scene SEAN with random weights at gain 1 (at SPADE's 0.02 a style
barely shows)."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from clade_mm.apis import SemanticSynthesizer
from clade_mm.datasets import write_synthetic_dataset
from clade_mm.models.spectral_norm import raw_weight
from tests.paths import config_path
from tests.tools import run_tool

SKY, TREE, ROCK, BUILDING = 0, 3, 4, 5
CONFIG = config_path('sean_synthetic')


def style_visible_checkpoint(folder, seed=0) -> str:
    """A checkpoint of the synthetic-scene SEAN with seeded random weights at gain 1 (at SPADE's
    0.02 a style barely shows), blending mostly the style branch: ``folder/sean.pth``."""
    synth = SemanticSynthesizer(CONFIG, precision='float32')
    torch.manual_seed(seed)
    with torch.no_grad():
        for module in synth.generator.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_normal_(raw_weight(module), gain=1.0)
            if type(module).__name__ == 'StyleProjections':
                for weight in module.weight:
                    nn.init.xavier_normal_(weight, gain=1.0)
            if type(module).__name__ == 'StyleConvolution':
                nn.init.xavier_normal_(module.conv_weight(), gain=1.0)
            if hasattr(module, 'blending_gamma'):
                module.blending_gamma.fill_(2.0)  # mostly the style branch
                module.blending_beta.fill_(2.0)
    checkpoint = osp.join(folder, 'sean.pth')
    torch.save(dict(state_dict={f'generator.{k}': v
                                for k, v in synth.generator.state_dict().items()}), checkpoint)
    return checkpoint


@pytest.fixture(scope='module')
def sean(tmp_path_factory):
    root = tmp_path_factory.mktemp('sean')
    write_synthetic_dataset(str(root / 'data'), num_train=0, num_val=6)
    checkpoint = style_visible_checkpoint(root)
    val = root / 'data' / 'val'
    labels = {n: np.asarray(Image.open(val / 'labels' / n)) for n in sorted(os.listdir(
        val / 'labels'))}
    with_tree = [n for n, m in labels.items() if (m == TREE).any()]
    without_building = [n for n, m in labels.items() if not (m == BUILDING).any()]
    return dict(root=root, val=val, checkpoint=checkpoint, labels=labels, with_tree=with_tree,
                without_building=without_building,
                synth=SemanticSynthesizer(CONFIG, checkpoint, precision='float32'))


def files(sean, name):
    return str(sean['val'] / 'images' / name), str(sean['val'] / 'labels' / name)


def tool(sean, monkeypatch, capsys, out, *args):
    return run_tool('synthesize', CONFIG, sean['checkpoint'], sean['val'] / 'labels', out, *args,
                    '--precision', 'float32', '--seed', 1, monkeypatch=monkeypatch,
                    capsys=capsys)


def written(folder):
    return {name: np.asarray(Image.open(folder / name)).astype(int)
            for name in sorted(os.listdir(folder)) if name.endswith('.png')}


def test_encode_styles_gives_a_code_per_class_and_zero_for_absent_classes(sean):
    name = sean['without_building'][0]
    codes = sean['synth'].encode_styles(*files(sean, name))
    assert codes.shape == (6, 64) and codes.dtype == np.float32
    present = np.unique(sean['labels'][name])
    assert np.abs(codes[present]).sum(1).min() > 0
    assert not codes[BUILDING].any()  # no pixels in the photo: the zero code, as published


def test_the_tool_paints_in_the_style_photo_s_styles_as_the_api_does(sean, monkeypatch, capsys,
                                                                     tmp_path):
    style, style_labels = files(sean, sean['with_tree'][0])
    result = tool(sean, monkeypatch, capsys, tmp_path / 'out', '--style', style,
                  '--style-labels', style_labels)
    assert result.returncode == 0, result.stderr
    images = written(tmp_path / 'out')
    assert len(images) == len(sean['labels'])
    synth = sean['synth']
    for name, image in images.items():
        expected = synth.synthesize(synth.read_labels(str(sean['val'] / 'labels' / name)),
                                    style=style, style_labels=style_labels, seed=1)[0]
        np.testing.assert_array_equal(image, expected)
    other = files(sean, sean['with_tree'][1])
    again = tool(sean, monkeypatch, capsys, tmp_path / 'other', '--style', other[0],
                 '--style-labels', other[1])
    assert again.returncode == 0, again.stderr
    assert np.mean([np.abs(a - b).mean() for a, b in zip(
        images.values(), written(tmp_path / 'other').values())]) > 1  # the style shows


def test_style_for_takes_one_class_from_another_photo(sean, monkeypatch, capsys, tmp_path):
    base, donor = sean['with_tree'][0], sean['with_tree'][1]
    style, style_labels = files(sean, base)
    photo, labels = files(sean, donor)
    result = tool(sean, monkeypatch, capsys, tmp_path / 'out', '--style', style,
                  '--style-labels', style_labels, '--style-for', f'tree={photo}:{labels}')
    assert result.returncode == 0, result.stderr
    synth = sean['synth']
    codes = synth.encode_styles(style, style_labels)
    codes[TREE] = synth.encode_styles(photo, labels)[TREE]
    plain = synth.encode_styles(style, style_labels)
    for name, image in written(tmp_path / 'out').items():
        ids = synth.read_labels(str(sean['val'] / 'labels' / name))
        np.testing.assert_array_equal(image, synth.synthesize(ids, style_codes=codes, seed=1)[0])
        unchanged = synth.synthesize(ids, style_codes=plain, seed=1)[0].astype(int)
        assert (np.abs(image - unchanged).mean() > 0) == bool((ids == TREE).any()), name


@pytest.mark.parametrize('args, message', [
    (['--style-for', 'tree={photo}:{labels}'], '--style-for CLASS=PHOTO:MAP replaces'),
    (['--style', '{photo}'], '--style-labels MAP for this model'),
    (['--style', '{photo}', '--style-labels', '{labels}', '--style-for',
      'nosuchclass={photo}:{labels}'], "no class 'nosuchclass'"),
    (['--style', '{photo}', '--style-labels', '{labels}', '--style-for',
      'building={photo}:{labels}'], 'class 5 has no pixels in'),
    (['--style', '{photo}', '--style-labels', '{labels}', '--style-for', 'tree={photo}'],
     'expected CLASS=PHOTO:MAP'),
])
def test_wrong_style_arguments_stop_the_run_and_nothing_is_written(sean, monkeypatch, capsys,
                                                                  tmp_path, args, message):
    photo, labels = files(sean, sean['without_building'][0])
    out = tmp_path / 'out'
    result = tool(sean, monkeypatch, capsys, out,
                  *[a.format(photo=photo, labels=labels) for a in args])
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not osp.exists(out) or not written(out)


def test_style_codes_of_the_wrong_shape_are_named(sean):
    synth = sean['synth']
    labels = next(iter(sean['labels'].values()))
    with pytest.raises(ValueError, match=r'style_codes has shape \(6, 32\): expected '
                                         r'\(N, 6, 64\)'):
        synth.synthesize(labels, style_codes=np.zeros((6, 32), np.float32))
    with pytest.raises(ValueError, match='style_labels'):
        synth.synthesize(labels)
