"""Tiny trees in each published layout, written here, read through the shipped configs."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import clade_mm.datasets  # noqa: F401
from clade_mm.datasets import DatasetError
from clade_mm.ops.positional_map import icpe_map
from clade_mm.layers import instance_edges
from mmagic.registry import DATASETS


def save(path, array, mode=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def blocks(h, w, ids, seed=0):
    """A label map of 4x4 tiles drawn from ``ids``."""
    rng = np.random.default_rng(seed)
    tiles = rng.choice(ids, size=(h // 4 + 1, w // 4 + 1))
    return np.kron(tiles, np.ones((4, 4), dtype=np.int64))[:h, :w]


def dataset_from(config, root, **overrides):
    init_default_scope('mmagic')
    cfg = Config.fromfile(config).train_dataloader.dataset
    cfg.data_root = str(root)
    cfg.update(overrides)
    return DATASETS.build(cfg)


def test_ade20k_layout_and_dont_care(tmp_path):
    for i in range(2):
        name = f'ADE_train_{i:08d}'
        save(tmp_path / 'images/training' / f'{name}.jpg',
             np.full((300, 320, 3), 90 + i, np.uint8))
        save(tmp_path / 'annotations/training' / f'{name}.png',
             blocks(300, 320, [0, 3, 150], seed=i).astype(np.uint8))
    dataset = dataset_from('configs/clade/clade_ade20k.py', tmp_path)
    assert len(dataset) == 2 and dataset.dont_care_class == 0
    item = dataset[0]
    assert item['inputs']['img'].shape == (3, 256, 256)  # resize 286, crop 256
    assert set(item['inputs']['label'].unique().tolist()) <= {0, 3, 150}


def test_ade20k_outdoor_selects_by_content(tmp_path, capsys):
    outdoor = np.where(np.arange(64)[:, None] < 32, 3, 10).repeat(64, 1)  # sky over grass
    indoor = outdoor.copy()
    indoor[:8] = 6  # a ceiling: indoors
    for name, label in (('ADE_train_1', outdoor), ('ADE_train_2', indoor)):
        save(tmp_path / 'images/training' / f'{name}.jpg', np.zeros((64, 64, 3), np.uint8))
        save(tmp_path / 'annotations/training' / f'{name}.png', label.astype(np.uint8))
    dataset = dataset_from('configs/clade/clade_ade20k_outdoor.py', tmp_path)
    assert len(dataset) == 1
    assert dataset.get_data_info(0)['label_path'].endswith('ADE_train_1.png')
    again = dataset_from('configs/clade/clade_ade20k_outdoor.py', tmp_path)  # from the cache
    assert len(again) == 1


COCO_LAYOUTS = {  # where the files of one split lie, per layout the COCO-Stuff config knows
    'official': ('images/train2017', 'annotations/train2017', 'annotations/panoptic_train2017'),
    'unzipped': ('train2017', 'stuffthingmaps_trainval2017/train2017', 'panoptic_train2017'),
    'spade': ('train_img', 'train_label', 'train_inst'),
}


def coco_sample(root, layout, panoptic, name='000000000009'):
    """One COCO-Stuff sample: a person (raw 0) on the left, unlabeled (255) on the right; the
    instance map splits the image at column 100 (a panoptic RGB PNG or SPADE's 8-bit ids)."""
    img_dir, label_dir, inst_dir = COCO_LAYOUTS[layout]
    label = np.full((300, 300), 255, np.uint8)
    label[:, :150] = 0
    if panoptic:
        instance = np.zeros((300, 300, 3), np.uint8)
        instance[:, 100:] = (1, 2, 0)  # segment id 1 + 2 * 256
    else:
        instance = np.zeros((300, 300), np.uint8)
        instance[:, 100:] = 7
    save(root / img_dir / f'{name}.jpg', np.zeros((300, 300, 3), np.uint8))
    save(root / label_dir / f'{name}.png', label)
    save(root / inst_dir / f'{name}.png', instance)


@pytest.mark.parametrize('layout, panoptic', [('official', True), ('unzipped', True),
                                              ('spade', False), ('spade', True)])
def test_coco_stuff_layouts_and_instance_formats_as_shipped(tmp_path, layout, panoptic):
    coco_sample(tmp_path, layout, panoptic)
    dataset = dataset_from('configs/clade/clade_coco_stuff.py', tmp_path,
                           pipeline=[dict(type='LoadSemanticSample', num_classes=183,
                                          label_mapping={255: 182})])
    results = dataset[0]
    assert results['img_path'].startswith(str(tmp_path / COCO_LAYOUTS[layout][0]))
    assert set(np.unique(results['label']).tolist()) == {0, 182}
    assert results['instance_storage'] == ('RGB' if panoptic else '8-bit ids')
    edges = instance_edges(torch.from_numpy(results['instance'].astype(np.int64))[None])
    assert edges[0, 0, :, 99:101].all() and edges[0, 0, :, :99].sum() == 0


@pytest.mark.parametrize('setting, panoptic, found', [
    ('panoptic', False, 'a one-channel 8-bit id map'),
    ('ids', True, r'an RGB image \(panoptic colours\)')])
def test_an_instance_format_the_file_contradicts_is_refused(tmp_path, setting, panoptic, found):
    coco_sample(tmp_path, 'spade', panoptic)
    dataset = dataset_from('configs/clade/clade_coco_stuff.py', tmp_path,
                           pipeline=[dict(type='LoadSemanticSample', num_classes=183,
                                          label_mapping={255: 182}, instance_format=setting)])
    with pytest.raises(DatasetError, match=f"instance map train_inst/000000000009.png is {found}, "
                                           f"but instance_format='{setting}'.*set "
                                           "instance_format='auto'"):
        dataset[0]


def test_a_folder_in_no_known_layout_lists_the_layouts(tmp_path):
    save(tmp_path / 'photos/a.jpg', np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match=r'none of the folder layouts .*no train_img\).*'
                                                r'train_dataloader.dataset.data_root='):
        dataset_from('configs/clade/clade_coco_stuff.py', tmp_path)


def test_coco_stuff_scores_each_class_as_the_segmentor_names_it():
    """The generator -> mmseg id mapping, checked by class name: stuffthingmaps id r is
    mmseg's class mapping[r] for every scored id; unused ids and don't-care are not scored."""
    from mmseg.datasets import COCOStuffDataset
    cfg = Config.fromfile('configs/clade/clade_coco_stuff.py')
    mmseg_names = COCOStuffDataset.METAINFO['classes']
    mapping = cfg.segmentor['class_mapping']
    assert len(mapping) == cfg.num_classes == len(cfg.class_names) == 183
    scored = [r for r, m in enumerate(mapping) if m is not None]
    assert len(scored) == len(mmseg_names) == 171
    assert all(cfg.class_names[r] == mmseg_names[mapping[r]] for r in scored)
    assert sorted(set(range(183)) - set(scored)) == sorted(cfg.unused_ids) + [182]


def test_cityscapes_nested_folders_and_16_bit_instances(tmp_path):
    stem = 'aachen/aachen_000000_000019'
    label = np.full((64, 128), 7, np.uint8)  # road
    label[20:40, 10:60] = 26  # cars
    instance = label.astype(np.uint16)
    instance[20:40, 10:30] = 26001
    instance[20:40, 30:60] = 26002
    save(tmp_path / f'leftImg8bit/train/{stem}_leftImg8bit.png', np.zeros((64, 128, 3), np.uint8))
    save(tmp_path / f'gtFine/train/{stem}_gtFine_labelIds.png', label)
    save(tmp_path / f'gtFine/train/{stem}_gtFine_instanceIds.png', instance)
    dataset = dataset_from('configs/clade/clade_cityscapes.py', tmp_path,
                           pipeline=[dict(type='LoadSemanticSample', num_classes=35)])
    results = dataset[0]
    assert np.array_equal(results['label'], label)
    edges = instance_edges(torch.from_numpy(results['instance'].astype(np.int64))[None])[0, 0]
    assert edges[30, 29] == 1 and edges[30, 30] == 1  # the two cars touch at column 29/30
    assert edges[30, 20] == 0


def test_custom_folder_with_palette_and_palette_pngs(tmp_path):
    palette = [[0, 0, 0], [255, 0, 0], [0, 255, 0]]
    (tmp_path / 'palette.txt').write_text('\n'.join(' '.join(map(str, c)) for c in palette))
    ids = blocks(32, 32, [0, 1, 2])
    save(tmp_path / 'img/a.png', np.zeros((32, 32, 3), np.uint8))
    save(tmp_path / 'mask/a.png', np.asarray(palette, np.uint8)[ids])  # an RGB colour mask
    indexed = Image.fromarray(ids.astype(np.uint8), mode='P')
    indexed.putpalette(sum(palette, []))
    os.makedirs(tmp_path / 'pmask')
    indexed.save(tmp_path / 'pmask/a.png')  # a palette PNG: its indices are the ids
    init_default_scope('mmagic')
    for folder, loader in (('mask', dict(palette=str(tmp_path / 'palette.txt'))),
                           ('pmask', dict())):
        dataset = DATASETS.build(dict(
            type='SemanticFolderDataset', num_classes=3, data_root=str(tmp_path),
            data_prefix=dict(img='img', label=folder),
            pipeline=[dict(type='LoadSemanticSample', num_classes=3, **loader)]))
        assert np.array_equal(dataset[0]['label'], ids)


def test_flip_keeps_image_label_instance_and_icpe_aligned(tmp_path):
    palette = np.array([[10, 20, 30], [200, 50, 0], [0, 120, 240]], np.uint8)
    label = blocks(32, 48, [0, 1, 2], seed=3)
    instance = (label * 10 + (np.arange(48) >= 20)).astype(np.uint8)
    save(tmp_path / 'img/a.png', palette[label])  # RGB on disk, read back as BGR
    save(tmp_path / 'lab/a.png', label.astype(np.uint8))
    save(tmp_path / 'ins/a.png', instance)
    init_default_scope('mmagic')
    pipeline = [dict(type='LoadSemanticSample', num_classes=3),
                dict(type='Flip', keys=['img', 'label', 'instance'], flip_ratio=1.0,
                     direction='horizontal')]
    results = DATASETS.build(dict(
        type='SemanticFolderDataset', num_classes=3, data_root=str(tmp_path),
        data_prefix=dict(img='img', label='lab', instance='ins'), pipeline=pipeline))[0]
    flipped_label = results['label'].astype(np.int64)
    assert np.array_equal(flipped_label, label[:, ::-1])
    # every pixel of the image still has its class's colour (image read as BGR)
    assert np.array_equal(results['img'][..., ::-1], palette[flipped_label])
    edges = instance_edges(torch.from_numpy(results['instance'].astype(np.int64))[None])
    expected = instance_edges(torch.from_numpy(instance.astype(np.int64))[None]).flip(-1)
    assert torch.equal(edges, expected)
    dist = icpe_map(torch.from_numpy(flipped_label)[None])
    original = icpe_map(torch.from_numpy(label)[None])
    torch.testing.assert_close(dist, original.flip(-1) * torch.tensor([1.0, -1.0]).view(1, 2, 1, 1),
                               atol=1e-6, rtol=0)


CELEBAMASK_HQ = 'configs/_base_/datasets/celebamask_hq.py'


def celebamask_hq_sample(root, split, name, parts, photo_size=1024, grey=128):
    """One sample of SEAN's CelebA-HQ folder: a JPEG photo of one grey, its 512x512 8-bit id
    map (background 0 around 4x4 tiles of ``parts``) and the colour picture of the map that
    ``vis/`` holds, which no dataset may read."""
    label = np.zeros((512, 512), np.uint8)
    label[128:384, 128:384] = blocks(256, 256, parts, seed=len(parts))
    save(root / split / 'images' / f'{name}.jpg',
         np.full((photo_size, photo_size, 3), grey, np.uint8))
    save(root / split / 'labels' / f'{name}.png', label)
    palette = np.asarray(Config.fromfile(CELEBAMASK_HQ).palette, np.uint8)
    save(root / split / 'vis' / f'{name}.png', palette[label])
    return label


def test_celebamask_hq_pairs_photo_and_labels_by_name(tmp_path):
    # Sorted as text, 10 and 11 come before 2; every sample must still get its own map.
    # Sample k has the one part k + 1 and the photo grey 20 k.
    stems = ['0', '1', '2', '10', '11']
    for k, stem in enumerate(stems):
        celebamask_hq_sample(tmp_path, 'train', stem, [k + 1], grey=20 * k,
                             photo_size=1024 if k % 2 else 512)
    dataset = dataset_from(CELEBAMASK_HQ, tmp_path,
                           pipeline=[dict(type='LoadSemanticSample', num_classes=19,
                                          map_scales=(1, 2))])
    assert len(dataset) == len(stems)
    seen = set()
    for i in range(len(dataset)):
        results = dataset[i]
        stem = osp.splitext(osp.basename(results['img_path']))[0]
        assert results['label_path'] == str(tmp_path / 'train/labels' / f'{stem}.png')
        k = stems.index(stem)
        assert set(np.unique(results['label']).tolist()) == {0, k + 1}
        assert abs(float(results['img'].mean()) - 20 * k) < 2  # the photo of the same name
        assert results['img'].shape[0] == (1024 if k % 2 else 512)
        assert results['label'].shape == (512, 512)
        seen.add(stem)
    assert seen == set(stems)
    os.remove(tmp_path / 'train/labels/10.png')  # its photo has no map now
    with pytest.raises(FileNotFoundError, match="1 file\\(s\\) without a partner, e.g. '10'"):
        dataset_from(CELEBAMASK_HQ, tmp_path)


def test_celebamask_hq_layout_as_shipped(tmp_path):
    parts = [1, 2, 4, 5, 13, 17, 18]  # skin, nose, eyes, hair, neck, cloth
    celebamask_hq_sample(tmp_path, 'train', '0', parts, photo_size=1024)
    celebamask_hq_sample(tmp_path, 'train', '1', parts, photo_size=512)
    celebamask_hq_sample(tmp_path, 'test', '28000', parts, photo_size=1024)
    train = dataset_from(CELEBAMASK_HQ, tmp_path)
    assert len(train) == 2 and train.dont_care_class is None and train.num_classes == 19
    for i in range(2):  # each photo and its 512x512 map resized to 256x256
        item = train[i]
        assert item['inputs']['img'].shape == (3, 256, 256)
        assert item['inputs']['label'].shape[-2:] == (256, 256)
        assert set(item['inputs']['label'].unique().tolist()) == {0, *parts}
    init_default_scope('mmagic')
    test_cfg = Config.fromfile(CELEBAMASK_HQ).test_dataloader.dataset
    test_cfg.data_root = str(tmp_path)
    test = DATASETS.build(test_cfg)
    assert len(test) == 1 and test.get_data_info(0)['img_path'].endswith('test/images/28000.jpg')
    assert test[0]['inputs']['img'].shape == (3, 256, 256)
