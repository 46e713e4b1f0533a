import os

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from clade_mm.datasets import SYNTHETIC_CLASSES, make_scene, write_synthetic_dataset
from clade_mm.datasets.synthetic import TREE
from tests.tools import run_tool


def test_scenes_are_seeded_and_varied():
    a = make_scene(64, np.random.default_rng(0))
    b = make_scene(64, np.random.default_rng(0))
    c = make_scene(64, np.random.default_rng(1))
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_scenes_have_flat_regions_instances_and_class_colours():
    rng = np.random.default_rng(3)
    trees_per_scene, seen = [], set()
    for _ in range(20):
        label, image, instance = make_scene(64, rng)
        seen |= set(np.unique(label).tolist())
        assert label.max() < len(SYNTHETIC_CLASSES)
        trees_per_scene.append(len(np.unique(instance[label == TREE])))
        # within a scene, every two classes differ clearly in mean colour
        means = [image[label == cls].reshape(-1, 3).mean(0) for cls in np.unique(label)]
        for i in range(len(means)):
            for j in range(i):
                assert np.abs(means[i] - means[j]).sum() > 30
        assert (label == 0).mean() > 0.2  # a large flat sky
    assert seen == set(range(len(SYNTHETIC_CLASSES)))
    assert max(trees_per_scene) >= 3  # several instances of one class


def test_dataset_reads_the_written_folders(tmp_path):
    counts = write_synthetic_dataset(str(tmp_path), num_train=5, num_val=2, size=32)
    assert counts == dict(train=5, val=2)
    init_default_scope('mmagic')
    from mmagic.registry import DATASETS
    import clade_mm.datasets  # noqa: F401
    dataset = DATASETS.build(dict(
        type='SemanticFolderDataset', num_classes=6, data_root=str(tmp_path),
        data_prefix=dict(img='train/images', label='train/labels', instance='train/instances'),
        pipeline=[dict(type='LoadSemanticSample', num_classes=6),
                  dict(type='PackInputs', keys=['img', 'label'])]))
    assert len(dataset) == 5
    item = dataset[0]
    assert item['inputs']['img'].shape == (3, 32, 32)
    assert item['inputs']['label'].shape == (1, 32, 32)
    assert item['inputs']['label'].max() < 6


def test_missing_partner_is_named(tmp_path):
    write_synthetic_dataset(str(tmp_path), num_train=3, num_val=0, size=32)
    (tmp_path / 'train' / 'labels' / '00001.png').unlink()
    from clade_mm.datasets import SemanticFolderDataset
    with pytest.raises(FileNotFoundError, match="'00001'"):
        SemanticFolderDataset(num_classes=6, data_root=str(tmp_path),
                              data_prefix=dict(img='train/images', label='train/labels'))


def test_the_tool_never_replaces_a_file_it_did_not_write(tmp_path, monkeypatch, capsys):
    def make_synthetic_dataset(*args):
        return run_tool('make_synthetic_dataset', *args, monkeypatch=monkeypatch, capsys=capsys)

    root = tmp_path / 'data'
    (root / 'train/labels').mkdir(parents=True)
    (root / 'train/labels/00001.png').write_bytes(b'the user file')
    args = (root, '--num-train', '3', '--num-val', '1')
    run = make_synthetic_dataset(*args)
    assert run.returncode == 1 and ('would be overwritten but were not written by this tool: '
                                    '00001.png. Nothing was written') in run.stderr
    assert (root / 'train/labels/00001.png').read_bytes() == b'the user file'
    assert not (root / 'train/labels/00000.png').exists()
    os.remove(root / 'train/labels/00001.png')
    for _ in range(2):  # the second run replaces its own files
        run = make_synthetic_dataset(*args)
        assert run.returncode == 0, run.stderr[-1500:]
    write_synthetic_dataset(str(tmp_path / 'api'), num_train=3, num_val=1)
    for sub in ('train/images', 'train/labels', 'val/instances'):
        for name in os.listdir(tmp_path / 'api' / sub):
            written = (root / sub / name).read_bytes()
            assert written == (tmp_path / 'api' / sub / name).read_bytes()
