"""OASIS through the synthesis API and tools/synthesize.py: its 3D noise given as a vector or a map
(``z=``), different images per label map (--num-samples, --seed), re-drawing the noise of chosen
classes' pixels only (``resample_classes=``, --resample-classes), and the refusals of wrong
arguments, on the synthetic-scene OASIS with random weights at gain 1 (at the published 0.02
the images are grey and the noise barely shows)."""
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image
from scipy import ndimage

from clade_mm.apis import SemanticSynthesizer
from clade_mm.models.spectral_norm import raw_weight
from tests.paths import config_path
from tests.test_apis.test_synthesize_inade import NoModel
from tests.tools import run_tool

SKY, GRASS, TREE, ROCK, BUILDING = 0, 1, 3, 4, 5
CONFIG = config_path('oasis_synthetic')
Z_DIM = 16  # the config's z_channels


def make_oasis(root, seed: int = 0) -> str:
    """A checkpoint in ``root`` of the synthetic-scene OASIS with seeded random weights at gain
    1 (every convolution): the noise shows in the image."""
    torch.manual_seed(seed)  # the spectral norms' vectors are drawn when the model is built
    synth = SemanticSynthesizer(CONFIG, precision='float32')
    with torch.no_grad():
        for module in synth.generator.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_normal_(raw_weight(module), gain=1.0)
    checkpoint = str(root / 'oasis.pth')
    torch.save(dict(state_dict={f'generator.{k}': v
                                for k, v in synth.generator.state_dict().items()}), checkpoint)
    return checkpoint


def scene():
    """Sky over grass, a tree and a rock: 64x64, the model's size."""
    labels = np.full((64, 64), SKY, np.uint8)
    labels[40:] = GRASS
    labels[8:30, 4:24] = TREE
    labels[44:58, 26:40] = ROCK
    return labels


def far_from(mask, distance=16):
    """Pixels more than ``distance`` pixels away from ``mask``. The generator's convolutions at
    1/32 to 1/4 of the image reach across all of a 64x64 image, so a re-drawn region moves far
    pixels too, by less than it moves its own: how much less depends on the weights and the
    draws (measured with random weights of torch seeds 0 to 5: from 1/2 to 1/36 for single
    draws; averaged over four draws, 1/5 to 1/13, and those of seed 0, used here, 1/13)."""
    return ndimage.distance_transform_edt(~mask) > distance


@pytest.fixture(scope='module')
def oasis(tmp_path_factory):
    root = tmp_path_factory.mktemp('oasis')
    checkpoint = make_oasis(root)
    os.makedirs(root / 'labels')
    Image.fromarray(scene()).save(root / 'labels' / 'a.png')
    Image.fromarray(np.fliplr(scene()).copy()).save(root / 'labels' / 'b.png')
    return dict(root=root, checkpoint=checkpoint,
                synth=SemanticSynthesizer(CONFIG, checkpoint, precision='float32'))


def tool(oasis, monkeypatch, capsys, *args, config=CONFIG, checkpoint=None, replace=None):
    return run_tool('synthesize', config, checkpoint or oasis['checkpoint'],
                    oasis['root'] / 'labels', *args, '--precision', 'float32',
                    monkeypatch=monkeypatch, capsys=capsys, replace=replace)


def written(folder):
    return {name: np.asarray(Image.open(folder / name)).astype(int)
            for name in sorted(os.listdir(folder)) if name.endswith('.png')}


def change(a, b):
    """Per pixel, the mean absolute difference over the channels."""
    return np.abs(np.asarray(a, float) - b).mean(axis=2)


def test_z_as_a_vector_or_its_constant_map_gives_the_same_image(oasis):
    synth, labels = oasis['synth'], scene()
    (image, ), (used, ) = synth.synthesize(labels, seed=1, return_inputs=True, as_float=True)
    noise = used['noise_3d']
    assert set(used) == {'noise_3d'} and noise.shape == (1, Z_DIM, 64, 64)
    # drawn as published: one vector per image, the same at every pixel
    assert np.array_equal(noise, np.broadcast_to(noise[..., :1, :1], noise.shape))
    z = noise[0, :, 0, 0]
    constant = np.broadcast_to(z[:, None, None], (Z_DIM, 64, 64))
    for given in (dict(z=z), dict(z=z[None]), dict(z=constant), dict(z=noise),
                  dict(noise_3d=z)):
        again, = synth.synthesize(labels, as_float=True, **given)
        assert np.array_equal(again, image), list(given)
    # A map of the label map's size (32x32 here), resized with it to the model's 64x64.
    small = labels[::2, ::2]
    from_vector, = synth.synthesize(small, z=z, as_float=True)
    from_map, = synth.synthesize(small, z=constant[:, ::2, ::2], as_float=True)
    assert np.array_equal(from_map, from_vector)

    # A map that varies in space is another image: the right half of another vector.
    varying = constant.copy()
    varying[:, :, 32:] = -z[:, None, None]
    other, = synth.synthesize(labels, z=varying, as_float=True)
    moved = change(other, image)
    assert moved.mean() > 0.05  # in [-1, 1]
    assert moved[:, 48:].mean() > moved[:, :16].mean()  # more where the noise changed


def test_seeds_draw_different_images_and_the_same_seed_the_same(oasis):
    synth, labels = oasis['synth'], scene()
    first = synth.synthesize(labels, seed=1, num_samples=3)
    again = synth.synthesize(labels, seed=1, num_samples=3)
    other = synth.synthesize(labels, seed=2, num_samples=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert change(first[i], first[j]).mean() > 5  # grey levels
    assert change(first[0], other[0]).mean() > 5
    assert change(synth.synthesize(labels, seed=None)[0], first[0]).mean() > 5


def test_resample_classes_redraws_only_the_chosen_classes_noise(oasis):
    synth, labels = oasis['synth'], scene()
    tree = labels == TREE
    (first, ), (used, ) = synth.synthesize(labels, seed=0, return_inputs=True, as_float=True)
    (rerolled, ), (used2, ) = synth.synthesize(labels, seed=1, resample_classes=[TREE],
                                               z=used['noise_3d'], return_inputs=True,
                                               as_float=True)
    # The noise maps, exactly: the tree's pixels take one new vector, every other pixel keeps
    # its own.
    redrawn = (used2['noise_3d'] != used['noise_3d']).any(axis=(0, 1))
    assert np.array_equal(redrawn, tree)
    new = used2['noise_3d'][0][:, tree]
    assert np.array_equal(new, np.broadcast_to(new[:, :1], new.shape))
    # Two classes at once; without z, the samples after the first re-draw them from the first.
    (_, *later), maps = synth.synthesize(labels, seed=3, num_samples=3,
                                         resample_classes=[TREE, ROCK], return_inputs=True)
    for sample in maps[1:]:
        redrawn = (sample['noise_3d'] != maps[0]['noise_3d']).any(axis=(0, 1))
        assert np.array_equal(redrawn, tree | (labels == ROCK))
    assert not np.array_equal(later[0], later[1])

    # The image, on average over four draws: the tree changes; far from it the convolutions
    # carry a little of it, much less than when every pixel is re-drawn.
    far = far_from(tree)
    inside, outside, everywhere = [], [], []
    for seed in range(1, 5):
        rerolled, = synth.synthesize(labels, seed=seed, resample_classes=[TREE],
                                     z=used['noise_3d'], as_float=True)
        redrawn, = synth.synthesize(labels, seed=seed, as_float=True)  # every pixel
        moved = change(rerolled, first)
        inside.append(moved[tree].mean())
        outside.append(moved[far].mean())
        everywhere.append(change(redrawn, first)[far].mean())
    inside, outside, everywhere = np.mean(inside), np.mean(outside), np.mean(everywhere)
    print(f'tree re-drawn: mean change {inside:.3f} inside, {outside:.3f} far from it; every '
          f'pixel re-drawn: {everywhere:.3f} far from the tree (in [-1, 1])')
    assert inside > 0.1
    assert inside > 3 * outside
    assert everywhere > 3 * outside  # what the test would catch


def test_wrong_inputs_are_value_errors_naming_the_argument(oasis):
    synth, labels = oasis['synth'], scene()
    with pytest.raises(ValueError, match=r"z has shape \(15,\): expected \(16,\)"):
        synth.synthesize(labels, z=np.zeros(15, np.float32))
    with pytest.raises(ValueError, match=r"z has shape \(16, 32, 32\): expected .* \(16, H, W\) "
                                         r"with H x W the label map's 64x64"):
        synth.synthesize(labels, z=np.zeros((16, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r'resample_classes: class id\(s\) \[5\] are not in the '
                                         r'label map array \(its classes: 0, 1, 3, 4\)'):
        synth.synthesize(labels, num_samples=2, resample_classes=[TREE, BUILDING])
    clade = SemanticSynthesizer(config_path('clade_synthetic'), precision='float32')
    with pytest.raises(ValueError, match=r"resample_classes= re-draws the noise of chosen "
                                         r"classes' pixels .* which this model does not read"):
        clade.synthesize(labels, resample_classes=[TREE])


def test_num_samples_with_a_seed_are_different_and_reproducible(oasis, monkeypatch, capsys,
                                                                tmp_path):
    runs = {}
    for run, seed in (('first', 1), ('again', 1), ('other', 2)):
        result = tool(oasis, monkeypatch, capsys, tmp_path / run, '--num-samples', 3,
                      '--seed', seed)
        assert result.returncode == 0, result.stderr
        runs[run] = written(tmp_path / run)
    assert sorted(runs['first']) == [f'{m}_{k}.png' for m in 'ab' for k in range(3)]
    for stem in 'ab':
        samples = [runs['first'][f'{stem}_{k}.png'] for k in range(3)]
        for i, j in ((0, 1), (0, 2), (1, 2)):
            assert np.abs(samples[i] - samples[j]).mean() > 5  # grey levels
    assert all(np.array_equal(runs['first'][n], runs['again'][n]) for n in runs['first'])
    assert not np.array_equal(runs['first']['a_0.png'], runs['other']['a_0.png'])
    expected = oasis['synth'].synthesize(scene(), seed=1, num_samples=3)  # the API's images
    assert all(np.array_equal(runs['first'][f'a_{k}.png'], expected[k]) for k in range(3))


def test_resample_classes_on_the_command_line(oasis, monkeypatch, capsys, tmp_path):
    runs = {}
    for run, given in (('names', ['tree', 'Rock']), ('ids', ['3', '4'])):
        result = tool(oasis, monkeypatch, capsys, tmp_path / run, '--resample-classes', *given,
                      '--num-samples', 3, '--seed', 4)
        assert result.returncode == 0, result.stderr
        runs[run] = written(tmp_path / run)
    assert runs['names'].keys() == runs['ids'].keys()
    assert all(np.array_equal(runs['names'][n], runs['ids'][n]) for n in runs['names'])
    # The API's images (whose re-drawn noise the test above holds to the classes' pixels),
    # which the option changes: the samples after the first re-draw the tree and the rock only.
    synth, labels = oasis['synth'], scene()
    region = (labels == TREE) | (labels == ROCK)
    expected = synth.synthesize(labels, seed=4, num_samples=3, resample_classes=[TREE, ROCK])
    plain = synth.synthesize(labels, seed=4, num_samples=3)
    for k in range(3):
        assert np.array_equal(runs['names'][f'a_{k}.png'], expected[k])
        assert np.array_equal(expected[k], plain[k]) == (k == 0)
    for k in (1, 2):
        assert change(expected[k], expected[0])[region].mean() > 5  # grey levels


@pytest.mark.parametrize('args, message', [
    (['--resample-classes', 'tree'], '--resample-classes CLASS needs --num-samples K >= 2'),
    (['--resample-classes', 'tree', 'nosuchclass', '--num-samples', '2'],
     "--resample-classes: no class 'nosuchclass' in this model (ids 0..5; names: sky, grass, "
     'water, tree, rock, building)'),
    (['--resample-classes', '6', '--num-samples', '2'], "--resample-classes: no class '6'"),
])
def test_wrong_arguments_stop_before_the_model_loads(oasis, monkeypatch, capsys, tmp_path, args,
                                                     message):
    result = tool(oasis, monkeypatch, capsys, tmp_path / 'out', *args,
                  replace=dict(SemanticSynthesizer=NoModel))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
    assert message in lines[0]
    assert not (tmp_path / 'out').exists()


def test_resample_classes_without_a_noise_map_stops_the_run(oasis, monkeypatch, capsys,
                                                            tmp_path):
    clade = SemanticSynthesizer(config_path('clade_synthetic'), precision='float32')
    checkpoint = tmp_path / 'clade.pth'
    torch.save(dict(state_dict={f'generator.{k}': v
                                for k, v in clade.generator.state_dict().items()}), checkpoint)
    result = tool(oasis, monkeypatch, capsys, tmp_path / 'out', '--resample-classes', 'tree',
                  '--num-samples', 2, config=config_path('clade_synthetic'),
                  checkpoint=checkpoint)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == ("error: --resample-classes re-draws the noise map of chosen classes' "
                        'pixels, which this model does not read (an OASIS model does, '
                        'configs/oasis/): drop --resample-classes')
    assert not (tmp_path / 'out').exists()


def test_resample_classes_of_a_class_absent_from_the_maps_names_it(oasis, monkeypatch, capsys,
                                                                   tmp_path):
    result = tool(oasis, monkeypatch, capsys, tmp_path / 'out', '--resample-classes', 'tree',
                  'building', '--num-samples', 2)
    assert result.returncode == 1
    for name in ('a.png', 'b.png'):
        assert (f'{name}: skipped: resample_classes: class id(s) [5] are not in the label map '
                f'{name}') in result.stderr
    assert not (tmp_path / 'out').exists()
