"""The semantic score: on hand-made predictions, and with a segmentor trained here."""
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


def test_a_trained_segmentor_scores_real_images_above_random_ones(tmp_path):
    data = tmp_path / 'data'
    write_synthetic_dataset(str(data), num_train=64, num_val=0, size=64)
    work = tmp_path / 'seg'
    subprocess.run([sys.executable, 'tools/train.py', 'configs/segmentors/fcn_r18_synthetic.py',
                    '--work-dir', str(work), '--cfg-options',
                    f'train_dataloader.dataset.data_root={data}', 'train_cfg.max_iters=150',
                    'default_hooks.checkpoint.interval=150', 'train_dataloader.num_workers=0',
                    'train_dataloader.persistent_workers=False'],
                   check=True, cwd=ROOT, capture_output=True)
    init_default_scope('mmagic')
    metric = SegmentationScore(os.path.join(ROOT, 'configs/segmentors/fcn_r18_synthetic.py'),
                               str(work / 'iter_150.pth'), num_generator_classes=6,
                               key='fake_img')
    rng = np.random.default_rng(123)
    real, noise = [], []
    for _ in range(6):
        label, image, _ = make_scene(64, rng)
        bgr = torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1).float()
        sample = dict(label_map=torch.from_numpy(label)[None])
        real.append(dict(sample, fake_img=bgr))
        noise.append(dict(sample, fake_img=torch.from_numpy(
            rng.integers(0, 256, (3, 64, 64))).float()))
    scores = {}
    for name, samples in (('real', real), ('noise', noise)):
        metric.results.clear()
        metric.process(None, samples)
        scores[name] = metric.compute_metrics(metric.results)
    assert scores['real']['mIoU'] > scores['noise']['mIoU'] + 20, scores
    assert scores['real']['aAcc'] > 80, scores
