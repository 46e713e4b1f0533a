"""Inputs that used to give a silent wrong result or an unnamed crash in the dataset readers:
ids wrapped by a remapping table, quantised colour masks read as ids, images over a size limit,
and the ADE20k-outdoor selection's own file reading."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

import clade_mm.datasets  # noqa: F401
from clade_mm.datasets import DatasetError
from clade_mm.datasets.check import scan_dataset
from clade_mm.datasets.image_files import read_image, read_map, read_stored_map
from clade_mm.datasets.transforms import LoadSemanticSample
from mmagic.registry import DATASETS
from tests.paths import config_path
from tests.tools import run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COCO = dict(num_classes=183, label_mapping={255: 182})  # the COCO-Stuff configs' loader
SYNTHETIC_PALETTE = Config.fromfile(
    osp.join(ROOT, 'configs/_base_/datasets/synthetic.py')).palette


def scene(h=48, w=64, classes=6, seed=0):
    """Class ids in 8x8 tiles."""
    tiles = np.random.default_rng(seed).integers(0, classes, (h // 8, w // 8))
    return np.kron(tiles, np.ones((8, 8), np.int64)).astype(np.uint8)


@pytest.mark.parametrize('value', [-1, -100, -(2**31)])
def test_negative_ids_are_refused_before_the_mapping_table_wraps_them(value):
    loader = LoadSemanticSample(**COCO)
    label = np.full((4, 4), 3, np.int64)
    label[1, 2] = value
    # Before: the table lookup read -1 as 182 and -100 as 156, both valid classes.
    with pytest.raises(DatasetError, match=f'label id {value} in map.tif: ids must be >= 0'):
        loader.label_map(label, 'map.tif')


def test_negative_ids_in_an_int32_tiff_are_refused_by_name(tmp_path):
    ids = np.full((8, 8), 3, np.int32)
    ids[0, 0] = -1
    Image.fromarray(ids).save(tmp_path / 'signed.tif')
    stored = read_map(str(tmp_path / 'signed.tif'))
    assert stored.dtype == np.int32 and stored.min() == -1  # PIL keeps the sign
    with pytest.raises(DatasetError, match='label id -1 in .*signed.tif'):
        LoadSemanticSample(**COCO).label_map(stored, str(tmp_path / 'signed.tif'))


def test_ids_beyond_the_classes_are_refused_unless_the_mapping_names_them():
    loader = LoadSemanticSample(**COCO)
    assert loader.label_map(np.array([[255, 0]], np.uint8)).tolist() == [[182, 0]]
    for value in (200, 2**31 - 1):  # the second would have built a table of 2**31 entries
        with pytest.raises(DatasetError, match=f'label id {value} in x.png, but num_classes='
                           r'183 \(ids 0..182, or one of the label_mapping keys \[255\]\)'):
            loader.label_map(np.array([[value, 0]], np.int64), 'x.png')


@pytest.mark.parametrize('mapping, message', [
    ({255: 183}, 'the value 183 must be an integer 0..182'),
    ({-1: 0}, 'the key -1 must be an integer >= 0'),
    ({255: 1.5}, 'the value 1.5 must be an integer'),
])
def test_a_mapping_outside_the_classes_is_refused_when_built(mapping, message):
    with pytest.raises(ValueError, match=message):
        LoadSemanticSample(num_classes=183, label_mapping=mapping)


def quantised_colour_mask(ids, palette):
    """A colour mask of ``ids`` turned into a palette PNG by PIL's quantiser, as an image
    editor saving 'indexed colour' does: the indices follow the quantiser, not the classes."""
    used = len(np.unique(ids))
    return Image.fromarray(np.asarray(palette, np.uint8)[ids]).quantize(colors=used)


def synthetic_folder(root, label_image):
    os.makedirs(root / 'images')
    os.makedirs(root / 'labels')
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(root / 'images/a.png')
    label_image.save(root / 'labels/a.png')
    init_default_scope('mmagic')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets/synthetic.py'))
    dataset = cfg.train_dataloader.dataset
    dataset.update(data_root=str(root), data_prefix=dict(img='images', label='labels'))
    dataset.pipeline = dataset.pipeline[:1]  # the loader
    return dataset


def test_a_quantised_colour_mask_is_refused_where_the_dataset_has_a_palette(tmp_path):
    ids = scene()
    quantised = quantised_colour_mask(ids, SYNTHETIC_PALETTE)
    assert (np.asarray(quantised) != ids).mean() > 0.2  # read as ids, a fifth would be wrong
    dataset = synthetic_folder(tmp_path, quantised)
    with pytest.raises(DatasetError, match='labels/a.png is a palette image whose colours '
                       "disagree with the dataset's palette"):
        DATASETS.build(dataset)[0]
    report = scan_dataset(dataset, progress=False)
    assert not report.ok and 'palette image whose colours disagree' in report.format()


@pytest.mark.parametrize('embedded', ['dataset', 'grey'])
def test_palette_pngs_that_agree_with_the_classes_are_read_as_ids(tmp_path, embedded):
    ids = scene()
    image = Image.fromarray(ids, 'P')
    image.putpalette(sum(SYNTHETIC_PALETTE, []) if embedded == 'dataset' else
                     [v for i in range(256) for v in (i, i, i)])
    dataset = synthetic_folder(tmp_path, image)
    assert np.array_equal(DATASETS.build(dataset)[0]['label'], ids)
    report = scan_dataset(dataset, progress=False)
    assert report.ok
    assert 'palette-indexed    1 label maps (' in report.format()


def test_check_dataset_reports_palette_pngs_where_the_config_has_no_palette(
        tmp_path, monkeypatch, capsys):
    """ADE20k's config names no colours: a quantised mask cannot be refused, so it is reported,
    with its palette's distinct colours."""
    ids = np.where(np.arange(48)[:, None] < 24, 3, 10).repeat(64, 1).astype(np.uint8)
    colours = np.zeros((151, 3), np.uint8)
    colours[3], colours[10] = (6, 230, 230), (4, 250, 7)
    for split in ('training', 'validation'):
        os.makedirs(tmp_path / 'images' / split)
        os.makedirs(tmp_path / 'annotations' / split)
        Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(
            tmp_path / 'images' / split / 'ADE_1.jpg')
    quantised_colour_mask(ids, colours).save(tmp_path / 'annotations/training/ADE_1.png')
    Image.fromarray(ids).save(tmp_path / 'annotations/validation/ADE_1.png')
    run = run_tool('check_dataset', config_path('clade_ade20k'), '--out-dir', tmp_path / 'out',
                   '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}',
                   f'test_dataloader.dataset.data_root={tmp_path}', monkeypatch=monkeypatch,
                   capsys=capsys)
    assert run.returncode == 0, run.stderr[-2000:]
    train, test = run.stdout.split('clade_ade20k, test split')  # every split is checked
    assert 'clade_ade20k, train split' in train
    assert ('palette-indexed    1 label maps (2 distinct palette colours; read as ids by '
            'their indices, their colours unchecked') in train
    assert 'palette-indexed' not in test and 'pairs found        1' in test
    assert osp.isfile(tmp_path / 'out/clade_ade20k_test_class_pixels.png')


def test_a_split_the_config_lacks_is_one_line_naming_the_config(tmp_path, monkeypatch, capsys):
    config = config_path('clade_ade20k')
    run = run_tool('check_dataset', config, '--split', 'val', '--out-dir', tmp_path,
                   '--cfg-options', f'val_dataloader.dataset.data_root={tmp_path}',
                   monkeypatch=monkeypatch, capsys=capsys)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        f'error: {config} defines no val split (no val_dataloader with a '
        'dataset type and a LoadSemanticSample pipeline; --cfg-options can only change a split '
        'the config defines); it defines: train, test')
    assert 'Traceback' not in run.stderr


def bomb(path, width=20000, height=20000):
    """A PNG over PIL's decompression-bomb limit: 1-bit and blank, so a few kB on disk."""
    Image.new('1', (width, height)).save(path)


def test_files_over_the_pixel_limit_are_refused_by_name_and_size(tmp_path):
    bomb(tmp_path / 'huge.png')  # 400 million pixels: PIL itself refuses it, unnamed
    with pytest.raises(DatasetError, match=r'label map .*huge.png is 20000x20000 = '
                       r'400,000,000 pixels, over the limit of 67,108,864 pixels'):
        read_map(str(tmp_path / 'huge.png'))
    Image.new('L', (9000, 8000)).save(tmp_path / 'large.png')  # under PIL's limit, over ours
    with pytest.raises(DatasetError, match='is 9000x8000 = 72,000,000 pixels'):
        read_stored_map(str(tmp_path / 'large.png'))
    with pytest.raises(DatasetError, match='image .*large.png is 9000x8000'):
        read_image(str(tmp_path / 'large.png'))
    assert read_map(str(tmp_path / 'large.png'), max_pixels=72_000_000).shape == (8000, 9000)
    Image.new('L', (100, 50)).save(tmp_path / 'small.png')
    with pytest.raises(DatasetError, match='small.png is 100x50 = 5,000 pixels, over the '
                       'limit of 4,999 pixels'):
        LoadSemanticSample(num_classes=6, max_pixels=4999).transform(dict(
            img_path=str(tmp_path / 'small.png'), label_path=str(tmp_path / 'small.png')))


def test_check_dataset_lists_files_over_the_limit_and_goes_on(tmp_path):
    dataset = synthetic_folder(tmp_path, Image.fromarray(scene()))
    os.makedirs(tmp_path / 'images/more')  # a second sample, whose label map is huge
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / 'images/more/b.png')
    os.makedirs(tmp_path / 'labels/more')
    bomb(tmp_path / 'labels/more/b.png')
    report = scan_dataset(dataset, progress=False)
    assert report.pairs == 2 and not report.ok
    assert report.problems['too_large'] == [
        'label map more/b.png is 20000x20000 = 400,000,000 pixels, over the limit of 67,108,864 '
        'pixels: shrink or tile it, or raise the limit (max_pixels of LoadSemanticSample in the '
        'config, --max-pixels of tools/synthesize.py).']
    assert 'too large          1' in report.format()
    assert report.pixels.sum() == 48 * 64  # the other sample was read


def test_the_outdoor_selection_names_an_unreadable_label_map(tmp_path):
    outdoor = np.where(np.arange(64)[:, None] < 32, 3, 10).repeat(64, 1).astype(np.uint8)
    for name in ('ADE_train_1', 'ADE_train_2'):
        os.makedirs(tmp_path / 'images/training', exist_ok=True)
        os.makedirs(tmp_path / 'annotations/training', exist_ok=True)
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(
            tmp_path / 'images/training' / f'{name}.jpg')
        Image.fromarray(outdoor).save(tmp_path / 'annotations/training' / f'{name}.png')
    cut = tmp_path / 'annotations/training/ADE_train_2.png'
    cut.write_bytes(cut.read_bytes()[:len(cut.read_bytes()) // 2])  # an interrupted copy
    init_default_scope('mmagic')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/clade/clade_ade20k_outdoor.py'))
    cfg.train_dataloader.dataset.data_root = str(tmp_path)
    with pytest.raises(DatasetError, match='ADE20k-outdoor cannot select its scenes: 1 label '
                       'map.* training/ADE_train_2.png is truncated or corrupt'):
        DATASETS.build(cfg.train_dataloader.dataset)
