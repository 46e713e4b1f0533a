"""INADE through the synthesis API and tools/synthesize.py: diverse samples per label map
(--num-samples, --seed), a reference photo copied per instance (--reference with its label map),
re-drawing chosen instances (--resample, resample=), and the refusals of wrong arguments, on a
small INADE trained for two iterations."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image
from scipy import ndimage

from clade_mm.apis import SemanticSynthesizer
from tests.paths import config_path
from tests.tools import run_tool

TREE, ROCK = 3, 4


def train_inade(root) -> tuple:
    """``(config, checkpoint, data root)`` of the synthetic-scene INADE trained for two
    iterations with the Runner, then set as if trained longer: ``fc_noise``, the first linear
    and the output conv at gain 1 instead of SPADE's 0.02 (at 0.02 the images are grey and
    the noise does not show) and the class means apart. Batch norm, as the config: in eval mode
    its running statistics make the modulation of a pixel independent of other pixels, so a
    re-drawn instance changes the image only as far as the convolutions reach."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from clade_mm.datasets import write_synthetic_dataset
    root = str(root)
    data = osp.join(root, 'data')
    write_synthetic_dataset(data, num_train=16, num_val=4)
    config = osp.join(root, 'inade.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = {config_path('inade_synthetic')!r}\n"
                f"train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, "
                f"dataset=dict(data_root={data!r}))\n"
                f"test_dataloader = dict(dataset=dict(data_root={data!r}))\n"
                "train_cfg = dict(max_iters=2)\n"
                "default_hooks = dict(checkpoint=dict(interval=2))\n"
                "custom_hooks = []\n")
    cfg = Config.fromfile(config)
    cfg.work_dir = osp.join(root, 'work')
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    generator = runner.model.generator
    with torch.no_grad():
        for name, module in generator.named_modules():
            if name.endswith('fc_noise'):
                nn.init.xavier_normal_(module.weight, gain=1.0)
            if name.endswith('class_distributions'):
                module.mean.normal_(0, 0.3)
        nn.init.xavier_normal_(generator.conv_img.weight, gain=1.0)
        nn.init.xavier_normal_(generator.fc.weight, gain=1.0)
    checkpoint = osp.join(root, 'inade.pth')
    torch.save(dict(state_dict=runner.model.state_dict(), meta=dict()), checkpoint)
    return config, checkpoint, data


def scene():
    """Sky over grass, two trees (instances 3001 and 3002) and a rock (4001)."""
    labels = np.zeros((64, 64), np.uint8)
    labels[40:] = 1
    labels[8:30, 4:24] = TREE
    labels[8:30, 40:60] = TREE
    labels[44:58, 26:40] = ROCK
    instances = labels.astype(np.uint16) * 1000
    instances[8:30, 4:24] = 3001
    instances[8:30, 40:60] = 3002
    instances[44:58, 26:40] = 4001
    return labels, instances


@pytest.fixture(scope='module')
def inade(tmp_path_factory):
    root = tmp_path_factory.mktemp('inade')
    config, checkpoint, data = train_inade(root)
    labels, instances = scene()
    for folder, array in (('labels', labels), ('instances', instances)):
        os.makedirs(root / folder)
        for name in ('a.png', 'b.png'):
            Image.fromarray(array if name == 'a.png' else np.fliplr(array).copy()).save(
                root / folder / name)
    return dict(root=root, config=config, checkpoint=checkpoint, data=data)


@pytest.fixture(scope='module')
def synth(inade):
    return SemanticSynthesizer(inade['config'], inade['checkpoint'], precision='float32')


def tool(inade, monkeypatch, capsys, *args, replace=None):
    root = inade['root']
    return run_tool('synthesize', inade['config'], inade['checkpoint'], root / 'labels', *args,
                    '--precision', 'float32', monkeypatch=monkeypatch, capsys=capsys,
                    replace=replace)


def images(folder):
    return {name: np.asarray(Image.open(folder / name)).astype(int)
            for name in sorted(os.listdir(folder)) if name.endswith('.png')}


class NoModel(SemanticSynthesizer):
    """Fails a test that should stop before the model loads."""

    def __init__(self, *args, **kwargs):
        raise AssertionError('the model was loaded before the arguments were checked')


def test_num_samples_with_a_seed_are_different_and_reproducible(inade, monkeypatch, capsys,
                                                                tmp_path):
    runs = {}
    for run, seed in (('first', 1), ('again', 1), ('other', 2)):
        result = tool(inade, monkeypatch, capsys, tmp_path / run, '--instances',
                      inade['root'] / 'instances', '--num-samples', 3, '--seed', seed)
        assert result.returncode == 0, result.stderr
        runs[run] = images(tmp_path / run)
    assert sorted(runs['first']) == [f'{m}_{k}.png' for m in 'ab' for k in range(3)]
    for stem in 'ab':
        samples = [runs['first'][f'{stem}_{k}.png'] for k in range(3)]
        for i, j in ((0, 1), (0, 2), (1, 2)):
            assert np.abs(samples[i] - samples[j]).mean() > 2  # grey levels
    assert all(np.array_equal(runs['first'][n], runs['again'][n]) for n in runs['first'])
    assert not np.array_equal(runs['first']['a_0.png'], runs['other']['a_0.png'])


def test_reference_with_its_label_map_is_the_apis_image(inade, synth, monkeypatch, capsys,
                                                       tmp_path):
    data = inade['data']
    photo, ref_labels = f'{data}/val/images/00000.png', f'{data}/val/labels/00000.png'
    written = {}
    for option in ('--reference', '--style'):  # one option, under its older name too
        result = tool(inade, monkeypatch, capsys, tmp_path / option, '--instances',
                      inade['root'] / 'instances', option, photo, '--reference-labels',
                      ref_labels, '--reference-instances', f'{data}/val/instances/00000.png',
                      '--seed', 0)
        assert result.returncode == 0, result.stderr
        written[option] = images(tmp_path / option)
    assert sorted(written['--reference']) == ['a.png', 'b.png']
    assert all(np.array_equal(written['--reference'][n], written['--style'][n])
               for n in ('a.png', 'b.png'))
    labels, instances = scene()
    expected, = synth.synthesize(labels, instances, reference=photo, reference_labels=ref_labels,
                                 reference_instances=f'{data}/val/instances/00000.png', seed=0)
    assert np.array_equal(written['--reference']['a.png'], expected)
    plain, = synth.synthesize(labels, instances, seed=0)
    assert not np.array_equal(expected, plain)


@pytest.mark.parametrize('args, message', [
    (['--reference', '{photo}'], '--reference/--style PHOTO needs --reference-labels/--style-labels MAP for this model'),
    (['--reference', '{photo}', '--reference-labels', '{root}/nowhere.png'],
     '--reference-labels {root}/nowhere.png: no such file'),
    (['--reference-labels', '{labels}'], '--reference-labels describes a reference photo: give '
     'the photo with --reference PHOTO'),
    (['--reference', '{photo}', '--reference-instances', '{labels}'],
     '--reference-instances needs --reference-labels MAP'),
    (['--resample', '3001', '--num-samples', '2'], '--resample ID re-draws instances of the '
     'instance map: give the instance maps with --instances DIR'),
    (['--resample', '3001', '--instances', '{root}/instances'],
     '--resample ID needs --num-samples K >= 2'),
    (['--resample', '3001', '--num-samples', '2', '--instances', '{root}/instances',
      '--reference', '{photo}', '--reference-labels', '{labels}'],
     'with --reference every instance takes its noise from the reference photo'),
])
def test_wrong_arguments_stop_before_the_model_loads(inade, monkeypatch, capsys, tmp_path, args,
                                                     message):
    where = dict(root=inade['root'], photo=f'{inade["data"]}/val/images/00000.png',
                 labels=f'{inade["data"]}/val/labels/00000.png')
    result = tool(inade, monkeypatch, capsys, tmp_path / 'out',
                  *[a.format(**where) for a in args], replace=dict(SemanticSynthesizer=NoModel))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    assert message.format(**where) in lines[0]
    assert not (tmp_path / 'out').exists()


def test_resample_of_an_absent_instance_names_it(inade, monkeypatch, capsys, tmp_path):
    result = tool(inade, monkeypatch, capsys, tmp_path / 'out', '--instances',
                  inade['root'] / 'instances', '--resample', 3001, 77, '--num-samples', 2)
    assert result.returncode == 1
    for name in ('a.png', 'b.png'):
        assert f'instance id(s) [77] are not in the instance map of {name}' in result.stderr
    assert not (tmp_path / 'out').exists()


def test_resample_redraws_only_the_chosen_instance(inade, synth, monkeypatch, capsys, tmp_path):
    labels, instances = scene()
    (first, ), (used, ) = synth.synthesize(labels, instances, seed=1, return_inputs=True,
                                           as_float=True)
    assert set(used) == {'z', 'instance_noise'} and used['instance_noise'].shape[1] == 4002
    again, = synth.synthesize(labels, instances, as_float=True, **used)  # the inputs given back
    assert np.abs(again - first).max() < 1e-6
    (rerolled, ), (used2, ) = synth.synthesize(labels, instances, seed=2, resample=[3001],
                                               return_inputs=True, as_float=True, **used)
    changed_rows = np.flatnonzero(np.abs(used2['instance_noise'] - used['instance_noise'])
                                  .sum(axis=(0, 2, 3)))
    assert changed_rows.tolist() == [3001] and np.array_equal(used2['z'], used['z'])
    tree = instances == 3001
    far = ndimage.distance_transform_edt(~tree) > 8  # beyond what the 3x3 convs spread here
    change = np.abs(rerolled - first).mean(axis=2)
    redrawn, = synth.synthesize(labels, instances, seed=2, as_float=True)  # every instance
    everywhere = np.abs(redrawn - first).mean(axis=2)
    with capsys.disabled():  # pytest -s shows the margins
        print(f're-drawn tree: mean change {change[tree].mean():.4f} inside, '
              f'{change[far].mean():.6f} far from it; every instance re-drawn: '
              f'{everywhere[far].mean():.4f} far from it')
    assert change[tree].mean() > 0.05  # in [-1, 1]
    assert change[tree].mean() > 50 * change[far].mean()
    assert everywhere[far].mean() > 10 * change[far].mean()  # what the test would catch

    # On the command line: the samples after the first differ only around the tree.
    result = tool(inade, monkeypatch, capsys, tmp_path / 'out', '--instances',
                  inade['root'] / 'instances', '--resample', 3001, '--num-samples', 3,
                  '--seed', 4)
    assert result.returncode == 0, result.stderr
    written = images(tmp_path / 'out')
    for k in (1, 2):
        change = np.abs(written[f'a_{k}.png'] - written['a_0.png']).mean(axis=2)
        assert change[tree].mean() > 5 and change[far].max() <= 1
