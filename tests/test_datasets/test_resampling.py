"""The training pipeline samples as the published SPADE loader does (PIL), checked against an
independent re-implementation of that loader on real-looking files of odd sizes."""
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import clade_mm.datasets  # noqa: F401
from clade_mm.layers import instance_edges
from mmagic.registry import DATASETS


def scene(h, w, seed):
    """A photo, a label map with 1-2 pixel thin structures (poles, wires) and an 8-bit instance
    map in SPADE's COCO format (the label map with objects overwritten by a counter)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w]
    label = np.where(ys < h * 0.4, 156, 123).astype(np.uint8)  # sky-other over grass
    label[(ys - h * 0.7) ** 2 / 900 + (xs - w * 0.3) ** 2 / 4000 < 1] = 2  # a car
    for x in rng.integers(5, w - 5, 6):  # poles, one or two pixels wide
        label[int(h * 0.2):int(h * 0.8), x:x + rng.integers(1, 3)] = 0
    label[int(h * 0.25), :] = 255  # a one-pixel wire of unlabeled
    label[rng.random((h, w)) < 0.002] = 255
    instance = label.copy()
    instance[label == 2] = 1
    poles = label == 0
    instance[poles & (xs < w // 2)] = 2
    instance[poles & (xs >= w // 2)] = 3
    photo = np.stack([xs * 200 / w + label * 0.2, ys * 200 / h, (label.astype(float) * 37) % 255],
                     -1) + rng.normal(0, 15, (h, w, 3))
    return np.clip(photo, 0, 255).astype(np.uint8), label, instance


def spade_reference(img_path, label_path, inst_path, load, crop_xy, crop, flip):
    """SPADE's data/base_dataset.py + pix2pix_dataset.py with PIL, for resize_and_crop."""
    x, y = crop_xy

    def transform(image, method):
        image = image.resize((load, load), method)
        image = image.crop((x, y, x + crop, y + crop))
        return image.transpose(Image.FLIP_LEFT_RIGHT) if flip else image

    image = np.asarray(transform(Image.open(img_path).convert('RGB'), Image.BICUBIC))
    label = np.asarray(transform(Image.open(label_path), Image.NEAREST)).astype(np.int64)
    label[label == 255] = 182
    inst = torch.from_numpy(np.asarray(transform(Image.open(inst_path), Image.NEAREST))
                            .astype(np.int64))[None, None]
    edge = torch.zeros_like(inst, dtype=torch.bool)  # SPADE's get_edges
    edge[..., 1:] |= inst[..., 1:] != inst[..., :-1]
    edge[..., :-1] |= inst[..., 1:] != inst[..., :-1]
    edge[..., 1:, :] |= inst[..., 1:, :] != inst[..., :-1, :]
    edge[..., :-1, :] |= inst[..., 1:, :] != inst[..., :-1, :]
    return image, label, edge.float()[0, 0]


@pytest.mark.parametrize('size, flip', [((427, 640), True), ((333, 500), False),
                                        ((240, 199), True)])
def test_coco_training_samples_match_the_published_loader(tmp_path, size, flip):
    photo, label, instance = scene(*size, seed=size[0])
    paths = {}
    for folder, array, suffix in (('train_img', photo, '.jpg'), ('train_label', label, '.png'),
                                  ('train_inst', instance, '.png')):
        os.makedirs(tmp_path / folder, exist_ok=True)
        paths[folder] = str(tmp_path / folder / f'000000000139{suffix}')
        Image.fromarray(array).save(paths[folder], quality=90)
    init_default_scope('mmagic')
    cfg = Config.fromfile('configs/clade/clade_coco_stuff.py').train_dataloader.dataset
    pipeline = [t for t in cfg.pipeline if t.type != 'PackInputs']
    for t in pipeline:
        if t.type == 'Flip':
            t.flip_ratio = 1.0 if flip else 0.0
    cfg.update(data_root=str(tmp_path), pipeline=pipeline)
    results = DATASETS.build(cfg)[0]

    x, y, crop_w, crop_h = results['crop_bbox']
    image, ref_label, ref_edges = spade_reference(
        paths['train_img'], paths['train_label'], paths['train_inst'], 286, (x, y), 256, flip)
    assert np.array_equal(results['label'].astype(np.int64), ref_label)
    edges = instance_edges(torch.from_numpy(results['instance'].astype(np.int64))[None])[0, 0]
    assert torch.equal(edges, ref_edges)
    assert np.array_equal(results['img'][..., ::-1], image)  # BGR in the pipeline

    # The test can tell: OpenCV's nearest grid and its non-antialiased bicubic differ here.
    cv_label = cv2.resize(label, (286, 286), interpolation=cv2.INTER_NEAREST)
    pil_label = np.asarray(Image.fromarray(label).resize((286, 286), Image.NEAREST))
    assert (cv_label != pil_label).mean() > 0.001
    cv_image = cv2.resize(photo, (286, 286), interpolation=cv2.INTER_CUBIC).astype(float)
    pil_image = np.asarray(Image.fromarray(photo).resize((286, 286), Image.BICUBIC))
    assert np.abs(cv_image - pil_image).mean() > 0.5


def test_one_crop_position_for_image_and_maps(tmp_path):
    """mmagic's Crop draws a position per key; ours crops all keys at one position."""
    label = np.arange(64 * 64).reshape(64, 64) % 251
    photo = np.repeat(label[..., None], 3, -1).astype(np.uint8)
    init_default_scope('mmagic')
    from mmagic.registry import TRANSFORMS
    crop = TRANSFORMS.build(dict(type='SemanticCrop', keys=['img', 'label', 'instance'],
                                 crop_size=(16, 16)))
    for seed in range(20):
        np.random.seed(seed)
        out = crop(dict(img=photo.copy(), label=label.astype(np.uint8),
                        instance=label.astype(np.int16)))
        assert np.array_equal(out['img'][..., 0], out['label'])
        assert np.array_equal(out['instance'], out['label'])


def face(photo_size, seed):
    """A CelebAMask-HQ-like sample: a photo of ``photo_size`` squared and its 512x512 id map
    of the 19 classes, with one- and two-pixel structures (strands of hair, an earring)
    that a resampling grid moves or drops."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:512, 0:512]
    label = np.zeros((512, 512), np.uint8)
    label[(ys - 256) ** 2 / 200 ** 2 + (xs - 256) ** 2 / 150 ** 2 < 1] = 1  # skin
    label[ys < 140] = 13  # hair
    label[230:250, 180:230] = 4  # l_eye
    label[230:250, 280:330] = 5  # r_eye
    label[380:400, 220:290] = 11  # u_lip
    label[460:, :] = 18  # cloth
    for x in rng.integers(10, 500, 12):  # strands and earrings, one or two pixels wide
        label[100:300, x:x + rng.integers(1, 3)] = rng.choice([13, 15])
    scale = photo_size // 512
    photo = np.kron(label.astype(float)[..., None] * 13, np.ones((scale, scale, 1)))
    photo = photo + rng.normal(0, 20, (photo_size, photo_size, 3))
    return np.clip(photo, 0, 255).astype(np.uint8), label


def sean_reference(img_path, label_path, size, flip):
    """SEAN's loader for its CelebA-HQ command (resize_and_crop, load size = crop size, no
    instance maps), with PIL: the photo and the map each resized from its own size to
    ``size`` (bicubic, nearest), the crop of the whole resized image, an optional flip."""
    def transform(image, method):
        image = image.resize((size, size), method)
        return image.transpose(Image.FLIP_LEFT_RIGHT) if flip else image

    image = np.asarray(transform(Image.open(img_path).convert('RGB'), Image.BICUBIC))
    label = np.asarray(transform(Image.open(label_path), Image.NEAREST))
    return image, label


@pytest.mark.parametrize('photo_size, flip', [(1024, True), (1024, False), (512, True)])
def test_celebamask_hq_training_samples_match_seans_loader(tmp_path, photo_size, flip):
    photo, label = face(photo_size, seed=photo_size + flip)
    img_path, label_path = tmp_path / 'train/images/7.jpg', tmp_path / 'train/labels/7.png'
    os.makedirs(img_path.parent)
    os.makedirs(label_path.parent)
    Image.fromarray(photo).save(img_path, quality=95)
    Image.fromarray(label).save(label_path)
    init_default_scope('mmagic')
    cfg = Config.fromfile('configs/_base_/datasets/celebamask_hq.py').train_dataloader.dataset
    pipeline = [t for t in cfg.pipeline if t.type != 'PackInputs']
    for t in pipeline:
        if t.type == 'Flip':
            t.flip_ratio = 1.0 if flip else 0.0
    cfg.update(data_root=str(tmp_path), pipeline=pipeline)
    results = DATASETS.build(cfg)[0]

    image, ref_label = sean_reference(img_path, label_path, 256, flip)
    assert np.array_equal(results['label'], ref_label)
    assert np.array_equal(results['img'][..., ::-1], image)  # BGR in the pipeline

    # The test can tell: OpenCV's nearest grid moves the thin structures, and its bicubic
    # does not antialias the photo.
    cv_label = cv2.resize(label, (256, 256), interpolation=cv2.INTER_NEAREST)
    pil_label = np.asarray(Image.fromarray(label).resize((256, 256), Image.NEAREST))
    assert (cv_label != pil_label).mean() > 0.001
    cv_image = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_CUBIC).astype(float)
    pil_image = np.asarray(Image.fromarray(photo).resize((256, 256), Image.BICUBIC))
    assert np.abs(cv_image - pil_image).mean() > 0.5
