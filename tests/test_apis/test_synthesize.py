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


def make_model(tmp_path, style=False, instance_edges=False, param_free_norm='IN'):
    # instance norm: eval mode normalises like training, without running statistics to learn
    generator = dict(base_channels=8, with_instance_edge=instance_edges,
                     norm_cfg=dict(_delete_=True, type='CLADE', param_free_norm=param_free_norm))
    if style:
        generator.update(z_channels=8, out_size=(64, 64),
                         style_encoder=dict(type='StyleEncoder', base_channels=4,
                                            input_size=128))
    config = tmp_path / ('style.py' if style else 'plain.py')
    config.write_text(f"_base_ = {os.path.join(ROOT, 'configs/clade/clade_synthetic.py')!r}\n"
                      f"model = dict(generator={generator!r}, "
                      f"discriminator=dict(base_channels=8, "
                      f"with_instance_edge={instance_edges}))\n")
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
    sky = np.zeros((32, 32), np.uint8)  # resized to the config's 64x64
    grass = np.ones((32, 32), np.uint8)
    (a,), (b,) = synth(sky), synth(grass)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1
    with pytest.raises(DatasetError, match='label id 6 in array 0, but num_classes=6'):
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
    assert sorted(os.listdir(out)) == ['.clade-mm-synthesize-outputs', 'good1.png', 'good2.png']
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


def test_cli_reads_panoptic_and_id_instance_maps_alike_and_takes_cfg_options(tmp_path):
    config, checkpoint = make_model(tmp_path, instance_edges=True)
    labels = np.zeros((64, 64), np.uint8)
    labels[32:] = 1
    panoptic = np.zeros((64, 64, 3), np.uint8)  # two objects in a COCO panoptic PNG
    panoptic[:, :20] = (10, 1, 0)
    panoptic[:, 20:] = (3, 0, 2)
    ids = np.where(np.arange(64) < 20, 5, 9).astype(np.uint8).repeat(64).reshape(64, 64).T
    for folder, instances in (('pan', panoptic), ('ids', ids), ('none', np.zeros_like(ids))):
        os.makedirs(tmp_path / folder)
        Image.fromarray(instances).save(tmp_path / folder / 'a.png')
    Image.fromarray(labels).save(tmp_path / 'a.png')
    outputs = {}
    for folder in ('pan', 'ids', 'none'):
        run = subprocess.run([sys.executable, 'tools/synthesize.py', config, checkpoint,
                              str(tmp_path / 'a.png'), str(tmp_path / f'out_{folder}'),
                              '--instances', str(tmp_path / folder),
                              '--cfg-options', 'image_size=(32,32)'],
                             capture_output=True, text=True, cwd=ROOT)
        assert run.returncode == 0, run.stderr
        outputs[folder] = np.asarray(Image.open(tmp_path / f'out_{folder}/a.png'))
    assert outputs['pan'].shape == (32, 32, 3)  # --cfg-options reached the synthesizer
    assert np.array_equal(outputs['pan'], outputs['ids'])  # the same objects, either format
    assert not np.array_equal(outputs['pan'], outputs['none'])  # the edges matter


def test_instance_map_of_another_size_is_refused_by_name(tmp_path):
    config, checkpoint = make_model(tmp_path, instance_edges=True)
    synth = SemanticSynthesizer(config, checkpoint)
    with pytest.raises(DatasetError, match='instance map is 32x16 but the label map 64x64'):
        synth.synthesize(np.zeros((64, 64), np.uint8), np.zeros((16, 32), np.int16))


def test_a_checkpoint_of_another_class_count_stops_synthesis_and_scoring(tmp_path):
    config, checkpoint = make_model(tmp_path)  # 6 classes
    other = tmp_path / 'eight.py'
    other.write_text(f'_base_ = {config!r}\nmodel = dict(generator=dict(num_classes=8), '
                     'discriminator=dict(num_classes=8))\n')
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / 'a.png')
    run = subprocess.run([sys.executable, 'tools/synthesize.py', str(other), checkpoint,
                          str(tmp_path / 'a.png'), str(tmp_path / 'out')],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and not (tmp_path / 'out').exists()
    assert 'class count: the checkpoint has 6 classes, the config 8' in run.stderr
    from tests.weights import write_random_segmentor
    segmentor = write_random_segmentor('configs/segmentors/fcn_r18_synthetic.py',
                                       tmp_path / 'fcn.pth')
    from clade_mm.datasets import write_synthetic_dataset
    write_synthetic_dataset(str(tmp_path / 'data'), num_train=0, num_val=2, size=64)
    run = subprocess.run(
        [sys.executable, 'tools/test.py', str(other), checkpoint, '--work-dir',
         str(tmp_path / 'test'), '--cfg-options',
         f'test_dataloader.dataset.data_root={tmp_path}/data',
         f'test_evaluator.0.segmentor_checkpoint={segmentor}', 'test_dataloader.num_workers=0'],
        capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1, run.stdout[-2000:]
    assert f'error: {checkpoint}: generator.' in run.stderr and 'the config 8' in run.stderr
    assert not (tmp_path / 'test/test_results.md').exists()


def test_inference_needs_no_training_loss_weights(tmp_path):
    config, checkpoint = make_model(tmp_path)
    with_vgg = tmp_path / 'with_vgg.py'
    with_vgg.write_text(f'_base_ = {config!r}\nmodel = dict(perceptual_loss=dict(_delete_=True, '
                        "type='VGG19PerceptualLoss', checkpoint='nowhere/vgg19.pth'))\n")
    (image,) = SemanticSynthesizer(str(with_vgg), checkpoint)(np.zeros((64, 64), np.uint8))
    (same,) = SemanticSynthesizer(config, checkpoint)(np.zeros((64, 64), np.uint8))
    assert np.array_equal(image, same)


def test_a_truncated_map_in_a_folder_is_skipped_by_name_and_the_rest_written(tmp_path):
    config, checkpoint = make_model(tmp_path)
    folder = tmp_path / 'labels'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 6, (64, 64)).astype(np.uint8)).save(folder / f'{i}.png')
    data = (folder / '2.png').read_bytes()
    (folder / '2.png').write_bytes(data[:len(data) // 2])  # cut, as an interrupted copy
    run = subprocess.run([sys.executable, 'tools/synthesize.py', config, checkpoint,
                          str(folder), str(tmp_path / 'out')], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 1
    assert '2.png: skipped: label map labels/2.png is truncated or corrupt' in run.stderr
    assert sorted(os.listdir(tmp_path / 'out')) == ['.clade-mm-synthesize-outputs', '0.png',
                                                    '1.png', '3.png', '4.png']
    assert 'wrote 4 of 5' in run.stdout and '1 skipped' in run.stdout


def test_an_instance_edge_model_without_instances_names_the_flag(tmp_path):
    config, checkpoint = make_model(tmp_path, instance_edges=True)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / 'a.png')
    run = subprocess.run([sys.executable, 'tools/synthesize.py', config, checkpoint,
                          str(tmp_path / 'a.png'), str(tmp_path / 'out')],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and '--instances DIR' in run.stderr


@pytest.mark.parametrize('labels, kind', [
    (np.full((64, 64), np.nan), 'floating-point'),
    (np.ones((64, 64)), 'floating-point'),  # whole-valued floats too: ids are integers
    (np.zeros((64, 64), bool), 'boolean'),
])
def test_non_integer_label_arrays_get_one_message_in_every_entry_point(tmp_path, labels, kind):
    from clade_mm import semantic_layout
    from clade_mm.layers import LayoutError
    config, checkpoint = make_model(tmp_path)
    synth = SemanticSynthesizer(config, checkpoint)
    message = f'holds {kind} values \\(dtype {labels.dtype}\\), but class ids must be integers'
    with pytest.raises(DatasetError, match=f'label map array 1 {message}'):
        synth([np.zeros((64, 64), np.uint8), labels])
    with pytest.raises(DatasetError, match=message):
        synth.synthesize(labels)
    with pytest.raises(LayoutError, match=message):
        with semantic_layout(labels):
            pass


def test_instance_maps_are_found_by_the_datasets_own_names(tmp_path):
    """Cityscapes names a label map *_gtFine_labelIds.png and its instances
    *_gtFine_instanceIds.png: --instances finds them as the dataset pairs them."""
    config, checkpoint = make_model(tmp_path, instance_edges=True)
    cityscapes_names = tmp_path / 'cityscapes_names.py'
    cityscapes_names.write_text(
        f'_base_ = {config!r}\ntest_dataloader = dict(dataset=dict('
        "label_suffix='_gtFine_labelIds.png', instance_suffix='_gtFine_instanceIds.png'))\n")
    (tmp_path / 'labels').mkdir()
    (tmp_path / 'instances').mkdir()
    stem = 'aachen_000000_000019'
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(
        tmp_path / 'labels' / f'{stem}_gtFine_labelIds.png')
    Image.fromarray(np.full((64, 64), 26001, np.uint16)).save(
        tmp_path / 'instances' / f'{stem}_gtFine_instanceIds.png')
    run = subprocess.run([sys.executable, 'tools/synthesize.py', str(cityscapes_names),
                          checkpoint, str(tmp_path / 'labels'), str(tmp_path / 'out'),
                          '--instances', str(tmp_path / 'instances')],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-1500:]
    assert sorted(os.listdir(tmp_path / 'out')) == ['.clade-mm-synthesize-outputs',
                                                    f'{stem}_gtFine_labelIds.png']
