"""Every malformed input gets its own message, naming the file, the value and the fix."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

import clade_mm.datasets  # noqa: F401
from clade_mm.datasets import DatasetError
from clade_mm.datasets.check import scan_dataset
from mmagic.registry import DATASETS


def save(path, array, mode=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def build(root, num_classes=5, pipeline_extra=(), **kwargs):
    init_default_scope('mmagic')
    loader = dict(type='LoadSemanticSample', num_classes=num_classes)
    loader.update(kwargs.pop('loader', {}))
    prefix = dict(img='img', label='lab')
    prefix.update(kwargs.pop('prefix', {}))
    return DATASETS.build(dict(type='SemanticFolderDataset', num_classes=num_classes,
                               data_root=str(root), data_prefix=prefix,
                               pipeline=[loader, *pipeline_extra], **kwargs))


def good_pair(root, name='a', size=(16, 16), label_value=1):
    save(root / f'img/{name}.png', np.zeros((*size, 3), np.uint8))
    save(root / f'lab/{name}.png', np.full(size, label_value, np.uint8))


@pytest.mark.parametrize('label, message', [
    (np.full((16, 16), 5, np.uint8),
     r"label id 5 in lab/a.png, but num_classes=5 \(ids 0..4\); did you forget the don't-care"),
    (np.full((16, 16), 255, np.uint8), r"255 is the usual don't-care value: map it .*"
     r"label_mapping=\{255: 5\}"),
    (np.dstack([np.zeros((16, 16), np.uint8), np.ones((16, 16), np.uint8),
                np.zeros((16, 16), np.uint8)]), 'colour mask .* give the dataset a palette'),
    (np.full((16, 16), 26001, np.uint16), 'looks like an instance map'),
])
def test_bad_label_maps(tmp_path, label, message):
    save(tmp_path / 'img/a.png', np.zeros((16, 16, 3), np.uint8))
    save(tmp_path / 'lab/a.png', label)
    with pytest.raises(DatasetError, match=message):
        build(tmp_path)[0]


def test_float_label_map(tmp_path):
    save(tmp_path / 'img/a.png', np.zeros((16, 16, 3), np.uint8))
    save(tmp_path / 'lab/a.tif', np.full((16, 16), 1.5, np.float32), mode='F')
    with pytest.raises(DatasetError, match=r'floating-point values \(dtype float32\)'):
        build(tmp_path, label_suffix='.tif')[0]


def test_image_and_label_of_different_sizes(tmp_path):
    save(tmp_path / 'img/a.png', np.zeros((20, 30, 3), np.uint8))
    save(tmp_path / 'lab/a.png', np.zeros((10, 15), np.uint8))
    with pytest.raises(DatasetError, match=r'image img/a.png is 30x20 but its label map '
                                           r'lab/a.png is 15x10'):
        build(tmp_path)[0]


def test_instance_map_of_another_size(tmp_path):
    good_pair(tmp_path)
    save(tmp_path / 'ins/a.png', np.zeros((8, 8), np.uint8))
    with pytest.raises(DatasetError, match='its instance map ins/a.png is 8x8'):
        build(tmp_path, prefix=dict(instance='ins'))[0]


def test_missing_partner_and_empty_folder(tmp_path):
    good_pair(tmp_path, 'a')
    save(tmp_path / 'img/b.png', np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="1 file\\(s\\) without a partner, e.g. 'b'"):
        build(tmp_path)
    os.makedirs(tmp_path / 'empty/img')
    os.makedirs(tmp_path / 'empty/lab')
    with pytest.raises(FileNotFoundError, match=r'no \*.png images in .*empty/img'):
        build(tmp_path / 'empty')


@pytest.mark.parametrize('content, message', [(b'', 'empty file'),
                                              (b'not a png at all', 'not a supported format')])
def test_corrupt_or_empty_image(tmp_path, content, message):
    good_pair(tmp_path)
    (tmp_path / 'img/a.png').write_bytes(content)
    with pytest.raises(DatasetError, match=f'img/a.png .*{message}|{message}'):
        build(tmp_path)[0]


def test_crop_larger_than_the_image(tmp_path):
    good_pair(tmp_path, size=(16, 16))
    crop = dict(type='SemanticCrop', keys=['img', 'label'], crop_size=(32, 32))
    with pytest.raises(DatasetError, match=r'crop 32x32 is larger than the image .*a.png '
                                           r'\(16x16\): resize first'):
        build(tmp_path, pipeline_extra=[crop])[0]


def test_scan_reports_every_problem_and_the_tool_exits_non_zero(tmp_path):
    good_pair(tmp_path, 'ok1', label_value=0)
    good_pair(tmp_path, 'ok2', label_value=3)
    good_pair(tmp_path, 'bad_ids', label_value=9)
    save(tmp_path / 'img/bad_size.png', np.zeros((20, 20, 3), np.uint8))
    save(tmp_path / 'lab/bad_size.png', np.zeros((10, 10), np.uint8))
    save(tmp_path / 'img/lonely.png', np.zeros((16, 16, 3), np.uint8))
    init_default_scope('mmagic')
    report = scan_dataset(dict(
        type='SemanticFolderDataset', num_classes=5, dont_care_class=0, data_root=str(tmp_path),
        data_prefix=dict(img='img', label='lab'),
        pipeline=[dict(type='LoadSemanticSample', num_classes=5)]), progress=False)
    assert report.pairs == 4 and report.unpaired == ['lonely']
    assert len(report.problems['ids']) == 1 and len(report.problems['size']) == 1
    assert report.pixels[0] == 256 and report.pixels[3] == 256
    assert not report.ok
    text = report.format()
    assert "don't-care pixels  256 (50.0%, class 0)" in text

    config = tmp_path / 'check_cfg.py'
    config.write_text(
        "default_scope = 'mmagic'\n"
        "custom_imports = dict(imports=['clade_mm.datasets'])\n"
        f"train_dataloader = dict(dataset=dict(type='SemanticFolderDataset', num_classes=5, "
        f"data_root={str(tmp_path)!r}, data_prefix=dict(img='img', label='lab'), "
        "pipeline=[dict(type='LoadSemanticSample', num_classes=5)]))\n")
    run = subprocess.run([sys.executable, 'tools/check_dataset.py', str(config), '--out-dir',
                          str(tmp_path / 'out')], capture_output=True, text=True)
    assert run.returncode == 1
    assert 'missing partners   1' in run.stdout and 'label id 9' in run.stdout
    assert (tmp_path / 'out/check_cfg_train_class_pixels.png').is_file()


def test_maps_a_whole_factor_smaller_than_the_photo_only_where_map_scales_allows(tmp_path):
    save(tmp_path / 'img/a.png', np.zeros((32, 48, 3), np.uint8))
    save(tmp_path / 'lab/a.png', np.ones((16, 24), np.uint8))
    with pytest.raises(DatasetError, match=r'image img/a.png is 48x32 but its label map '
                                           r'lab/a.png is 24x16: they must be pixel-aligned'):
        build(tmp_path)[0]
    results = build(tmp_path, loader=dict(map_scales=(1, 2)))[0]
    assert results['img'].shape == (32, 48, 3) and results['label'].shape == (16, 24)
    for name, photo in (('b', (48, 72)), ('c', (32, 24)), ('d', (8, 12))):  # 3x, 2x by 1x, 1/2
        save(tmp_path / f'img/{name}.png', np.zeros((*photo, 3), np.uint8))
        save(tmp_path / f'lab/{name}.png', np.ones((16, 24), np.uint8))
    dataset = build(tmp_path, loader=dict(map_scales=(1, 2)))
    for i in range(1, 4):
        with pytest.raises(DatasetError, match=r'lab/[bcd].png is 24x16: the image must be 1x '
                                               r'or 2x the size of its label map in both '
                                               r'directions \(map_scales=\(1, 2\)'):
            dataset[i]


def test_an_instance_map_a_whole_factor_smaller_follows_map_scales_too(tmp_path):
    save(tmp_path / 'img/a.png', np.zeros((32, 32, 3), np.uint8))
    save(tmp_path / 'lab/a.png', np.ones((16, 16), np.uint8))
    save(tmp_path / 'ins/a.png', np.ones((16, 16), np.uint8))
    results = build(tmp_path, prefix=dict(instance='ins'), loader=dict(map_scales=(2, )))[0]
    assert results['instance'].shape == (16, 16)
    save(tmp_path / 'ins/a.png', np.ones((8, 8), np.uint8))
    with pytest.raises(DatasetError, match='its instance map ins/a.png is 8x8: the image must '
                                           'be 2x the size'):
        build(tmp_path, prefix=dict(instance='ins'), loader=dict(map_scales=(2, )))[0]


@pytest.mark.parametrize('scales', [(), (0, ), (1, 1.5), (True, ), 2, None])
def test_map_scales_must_be_whole_factors(scales):
    from clade_mm.datasets import LoadSemanticSample
    with pytest.raises(ValueError, match='map_scales=.*whole factors >= 1'):
        LoadSemanticSample(num_classes=5, map_scales=scales)


def test_one_crop_of_arrays_of_different_sizes_is_refused(tmp_path):
    save(tmp_path / 'img/a.png', np.zeros((32, 32, 3), np.uint8))
    save(tmp_path / 'lab/a.png', np.ones((16, 16), np.uint8))
    crop = dict(type='SemanticCrop', keys=['img', 'label'], crop_size=(8, 8))
    with pytest.raises(DatasetError, match=r'cannot crop img, label of .*a.png at one position: '
                                           r'img is 32x32 but label is 16x16. Resize them'):
        build(tmp_path, loader=dict(map_scales=(1, 2)), pipeline_extra=[crop])[0]
    resize = dict(type='SemanticResize', scale=(16, 16))
    results = build(tmp_path, loader=dict(map_scales=(1, 2)),
                    pipeline_extra=[resize, crop])[0]
    assert results['img'].shape == (8, 8, 3) and results['label'].shape == (8, 8)
