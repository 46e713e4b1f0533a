"""The semantic score: on hand-made predictions, and with a segmentor trained here."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from clade_mm.datasets import make_scene, write_synthetic_dataset
from clade_mm.evaluation import (SegmentationScore, class_mapping_table, label_areas,
                                 score_areas)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_scores_of_hand_made_predictions():
    # generator classes: 0 = don't-care, 1 and 2 -> segmentor classes 0 and 1
    table = torch.from_numpy(class_mapping_table({0: None, 1: 0, 2: 1}, 3))
    labels = torch.tensor([[1, 1, 2, 2], [0, 0, 2, 2]])
    prediction = torch.tensor([[0, 1, 1, 1], [1, 1, 1, 0]])
    scores = score_areas([label_areas(prediction, labels, table, 2)])
    # scored pixels (don't-care dropped): class 0 at 2, class 1 at 4.
    # class 0: 1 hit, predicted twice -> IoU 1 / (2 + 2 - 1); class 1: 3 hits, predicted 4
    # times -> IoU 3 / (4 + 4 - 3)
    assert scores['mIoU'] == pytest.approx((100 / 3 + 60) / 2)
    assert scores['mAcc'] == pytest.approx((50 + 75) / 2)
    assert scores['aAcc'] == pytest.approx(100 * 4 / 6)  # don't-care pixels not counted


def test_mapping_tables():
    assert class_mapping_table(None, 3).tolist() == [0, 1, 2]
    assert class_mapping_table([None, 0, 1], 3).tolist() == [255, 0, 1]
    with pytest.raises(ValueError, match='lists 2 classes, but the generator has 3'):
        class_mapping_table([0, 1], 3)


def test_missing_segmentor_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='segmentor checkpoint .*nope.pth'):
        SegmentationScore(os.path.join(ROOT, 'configs/segmentors/fcn_r18_synthetic.py'),
                          str(tmp_path / 'nope.pth'), num_generator_classes=6)


def test_a_segmentor_checkpoint_of_another_model_is_refused(tmp_path):
    """A checkpoint of the FCN for 8 classes, scored with the 6-class config: an error, not a
    segmentor whose head keeps random weights."""
    from mmengine.config import Config

    from tests.weights import write_random_segmentor
    config = tmp_path / 'fcn8.py'
    config.write_text(f"_base_ = {os.path.join(ROOT, 'configs/segmentors/fcn_r18_synthetic.py')!r}"
                      "\nmodel = dict(decode_head=dict(num_classes=8))\n")
    assert Config.fromfile(str(config)).model.decode_head.num_classes == 8
    checkpoint = write_random_segmentor(str(config), tmp_path / 'fcn8.pth')
    metric = SegmentationScore(os.path.join(ROOT, 'configs/segmentors/fcn_r18_synthetic.py'),
                               checkpoint, num_generator_classes=6)
    with pytest.raises(ValueError, match=r'(?s)fcn8.pth does not fit the model of .*fcn_r18_synth'
                                         r'etic.py.*size mismatch for decode_head.conv_seg'):
        metric.segmentor


@pytest.fixture(scope='module')
def trained_segmentor(tmp_path_factory):
    """Synthetic scenes and the demo's FCN trained on them for 150 iterations."""
    root = tmp_path_factory.mktemp('segmentor')
    data = root / 'data'
    write_synthetic_dataset(str(data), num_train=64, num_val=8, size=64)
    work = root / 'seg'
    subprocess.run([sys.executable, 'tools/train.py', 'configs/segmentors/fcn_r18_synthetic.py',
                    '--work-dir', str(work), '--cfg-options',
                    f'train_dataloader.dataset.data_root={data}', 'train_cfg.max_iters=150',
                    'default_hooks.checkpoint.interval=150', 'train_dataloader.num_workers=0',
                    'train_dataloader.persistent_workers=False'],
                   check=True, cwd=ROOT, capture_output=True)
    return data, work / 'iter_150.pth'


def test_a_trained_segmentor_scores_real_images_above_random_ones(trained_segmentor):
    _, checkpoint = trained_segmentor
    init_default_scope('mmagic')
    metric = SegmentationScore(os.path.join(ROOT, 'configs/segmentors/fcn_r18_synthetic.py'),
                               str(checkpoint), num_generator_classes=6)
    rng = np.random.default_rng(123)
    samples = []
    for _ in range(6):
        label, image, _ = make_scene(64, rng)
        samples.append(dict(
            label_map=torch.from_numpy(label)[None],
            gt_img=torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1).float(),
            fake_img=torch.from_numpy(rng.integers(0, 256, (3, 64, 64))).float()))  # noise
    metric.process(None, samples[:3])
    metric.process(None, samples[3:])
    scores = metric.compute_metrics(metric.results)
    assert set(scores) == {f'{i}/{m}' for i in ('generated', 'real')
                           for m in ('mIoU', 'mAcc', 'aAcc')}
    assert scores['real/mIoU'] > scores['generated/mIoU'] + 20, scores
    assert scores['real/aAcc'] > 80, scores
    # building and running the mmseg segmentor left the caller's scope alone
    from mmengine.registry import DefaultScope
    assert DefaultScope.get_current_instance().scope_name == 'mmagic'


def test_tools_test_scores_generated_and_real_images(trained_segmentor, tmp_path):
    data, seg_checkpoint = trained_segmentor
    from tests.test_apis.test_synthesize import make_model
    config, checkpoint = make_model(tmp_path)
    work = tmp_path / 'test'
    run = subprocess.run(
        [sys.executable, 'tools/test.py', config, checkpoint, '--work-dir', str(work),
         '--cfg-options', f'test_dataloader.dataset.data_root={data}',
         'test_dataloader.num_workers=0',
         f'test_evaluator.0.segmentor_checkpoint={seg_checkpoint}'],
        capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads((work / 'test_results.json').read_text())['metrics']
    assert set(results) == {f'seg/{p}/{m}' for p in ('generated', 'real')
                            for m in ('mIoU', 'mAcc', 'aAcc')}
    # an untrained generator cannot fool a segmentor that reads real photos well
    assert results['seg/real/mIoU'] > results['seg/generated/mIoU'] + 10
    assert '| seg/real/mIoU |' in (work / 'test_results.md').read_text()
