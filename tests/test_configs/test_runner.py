"""Every shipped config trains one iteration and runs its test loop through mmengine's Runner,
on a tiny tree in its dataset's own file layout, with stand-in weight files.

Models are built as shipped (full width, full resolution): only the data, batch size, workers,
iteration count and weight paths are replaced. So a config that cannot start (a missing loop
part, a wrong key, a pipeline that does not fit the dataset's files) fails here.
"""
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from clade_mm.datasets import write_synthetic_dataset
from tests.paths import INADE_CONFIGS, OASIS_CONFIGS, SEAN_CONFIGS, SPADE_FAMILY_CONFIGS
from tests.weights import write_fake_inception, write_random_segmentor, write_random_vgg19

CONFIGS = SPADE_FAMILY_CONFIGS


def save(path, array):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def scene(h, w, ids, seed):
    """A photo and a label map of horizontal bands of ``ids``, with an object in the middle."""
    rng = np.random.default_rng(seed)
    bands = np.array(ids)[np.minimum(np.arange(h) * len(ids) // h, len(ids) - 1)]
    label = np.repeat(bands[:, None], w, 1).astype(np.uint8)
    label[h // 3:2 * h // 3, w // 3:2 * w // 3] = ids[-1]
    photo = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return photo, label


def ade20k_tree(root):
    for split, folder in (('train', 'training'), ('val', 'validation')):
        for i in range(2):
            photo, label = scene(96, 128, [3, 10, 0, 150], seed=i)  # sky, grass: outdoor
            name = f'ADE_{split}_{i + 1:08d}'
            save(f'{root}/images/{folder}/{name}.jpg', photo)
            save(f'{root}/annotations/{folder}/{name}.png', label)


def coco_stuff_tree(root):
    for split in ('train2017', 'val2017'):
        for i in range(2):
            photo, label = scene(96, 128, [156, 123, 255, 0], seed=i)
            panoptic = np.zeros((96, 128, 3), np.uint8)
            panoptic[label == 0] = (1 + i, 0, 0)
            name = f'{i + 1:012d}'
            save(f'{root}/images/{split}/{name}.jpg', photo)
            save(f'{root}/annotations/{split}/{name}.png', label)
            save(f'{root}/annotations/panoptic_{split}/{name}.png', panoptic)


def cityscapes_tree(root):
    for split in ('train', 'val'):
        for i in range(2):
            photo, label = scene(128, 256, [23, 21, 7, 26], seed=i)  # sky, vegetation, road, car
            instance = label.astype(np.uint16)
            instance[label == 26] = 26000 + i
            stem = f'aachen/aachen_{i:06d}_000019'
            save(f'{root}/leftImg8bit/{split}/{stem}_leftImg8bit.png', photo)
            save(f'{root}/gtFine/{split}/{stem}_gtFine_labelIds.png', label)
            save(f'{root}/gtFine/{split}/{stem}_gtFine_instanceIds.png', instance)


def celebamask_hq_tree(root):
    """SEAN's CelebA-HQ folder: photos twice their label maps' size, as the 1024 originals
    beside 512 maps, and the vis/ pictures the loader does not read."""
    for split in ('train', 'test'):
        for i in range(2):
            photo, label = scene(64, 64, [0, 1, 13, 17], seed=i)  # background, skin, hair, neck
            save(f'{root}/{split}/images/{28000 + i}.jpg', np.kron(photo, np.ones((2, 2, 1),
                                                                            np.uint8)))
            save(f'{root}/{split}/labels/{28000 + i}.png', label)
            save(f'{root}/{split}/vis/{28000 + i}.png', photo)


def synthetic_tree(root):
    write_synthetic_dataset(root, num_train=2, num_val=2, size=64)


TREES = dict(ade20k=ade20k_tree, ade20k_outdoor=ade20k_tree, coco_stuff=coco_stuff_tree,
             cityscapes=cityscapes_tree, synthetic=synthetic_tree,
             celebamask_hq=celebamask_hq_tree)


def dataset_of(path):
    name = osp.basename(path)[:-3]
    return next(d for d in sorted(TREES, key=len, reverse=True) if name.endswith('_' + d))


@pytest.fixture(scope='module')
def stand_ins(tmp_path_factory):
    """Weight files by the path the configs name, and a tiny tree per dataset."""
    root = tmp_path_factory.mktemp('stand_ins')
    files = dict(vgg=write_random_vgg19(root / 'vgg19.pth'),
                 inception=write_fake_inception(root / 'inception.pt'))
    segmentors = {}
    for path in CONFIGS:
        for metric in Config.fromfile(path).get('test_evaluator', []):
            config = metric.get('segmentor_config')
            if config and config not in segmentors:
                segmentors[config] = write_random_segmentor(
                    config, root / f'segmentor{len(segmentors)}.pth')
    trees = {}
    for dataset, make in TREES.items():
        if make not in trees.values():
            make(str(root / dataset))
        trees[dataset] = next(str(root / d) for d, m in TREES.items() if m is make)
    return dict(files=files, segmentors=segmentors, trees=trees, root=root)


# What this checks (the dataset layout, the pipeline, the evaluators, the hooks) does not
# depend on the generator's width: CLADE's configs of ADE20k, COCO-Stuff and Cityscapes run at
# their own width (the product's main path: a full-size generator per image size and class
# count), the other full-size configs at a quarter of it, which keeps the suite in its budget.
QUARTER_WIDTH = {'model.generator.base_channels': 16, 'model.discriminator.base_channels': 16}
FULL_WIDTH = ('clade_ade20k', 'clade_coco_stuff', 'clade_cityscapes')


def runs_at_quarter_width(path: str) -> bool:
    name = osp.basename(path)[:-3]
    return not name.endswith('_synthetic') and name not in FULL_WIDTH


# INADE's, SEAN's and OASIS's (and CLADE-OASIS's) synthetic configs train and test here, and
# SEAN's CelebAMask-HQ one (a dataset no other config reads); their other full-size ones share
# the evaluators and datasets of the SPADE configs above (INADE's instance maps are checked
# below; the OASIS ones are built in test_configs.py).
@pytest.mark.parametrize('path', CONFIGS + [p for p in INADE_CONFIGS if 'synthetic' in p] +
                         [p for p in SEAN_CONFIGS if 'synthetic' in p or 'celebamask' in p] +
                         [p for p in OASIS_CONFIGS if 'synthetic' in p])
def test_config_trains_and_tests_on_its_dataset_layout(path, stand_ins, tmp_path):
    from mmengine.runner import Runner
    name = osp.basename(path)[:-3]
    cfg = Config.fromfile(path)
    if runs_at_quarter_width(path):
        cfg.merge_from_dict(QUARTER_WIDTH)
    data_root = stand_ins['trees'][dataset_of(path)]
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=1, num_workers=0, persistent_workers=False)
        cfg[loader].dataset.data_root = data_root
    cfg.train_cfg.max_iters = 1
    cfg.default_hooks.checkpoint.update(interval=10**9, save_last=False)  # tested elsewhere
    cfg.default_hooks.logger.interval = 1
    for hook in cfg.custom_hooks:
        hook.interval = 1  # the sample grid too
    if cfg.model.get('perceptual_loss'):
        cfg.model.perceptual_loss.checkpoint = stand_ins['files']['vgg']
    for metric in cfg.test_evaluator:
        if metric.type == 'SegmentationScore':
            metric.segmentor_checkpoint = stand_ins['segmentors'][metric.segmentor_config]
        if metric.type == 'SemanticFID':
            metric.inception_path = stand_ins['files']['inception']
            metric.real_stats_cache = str(tmp_path / 'fid_real.pkl')
    cfg.work_dir = str(tmp_path / name)
    cfg.experiment_name = name
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    metrics = runner.test()
    expected = set()
    if any(m.type == 'SegmentationScore' for m in cfg.test_evaluator):
        expected |= {'seg/generated/mIoU', 'seg/real/mIoU'}
    if any(m.type == 'SemanticFID' for m in cfg.test_evaluator):
        expected.add('FID/fid')
    if any(m.type == 'DiscriminatorIoU' for m in cfg.test_evaluator):
        expected.add('disc/real/mIoU')
    assert expected and expected <= set(metrics)
    assert all(np.isfinite(metrics[k]) for k in expected if k.startswith(('seg/', 'disc/')))
    grids = glob.glob(f'{cfg.work_dir}/**/vis_image/*.png', recursive=True)
    assert grids, 'the sample grid hook wrote no image'


@pytest.mark.parametrize('path', INADE_CONFIGS)
def test_inade_configs_give_every_sample_an_instance_map(path, stand_ins):
    """What INADE's norms read: an instance map per sample, from the dataset's files or, for
    ADE20k, one instance per class present (the published make_instances.py)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')
    import clade_mm.datasets  # noqa: F401
    from mmagic.registry import DATASETS
    cfg = Config.fromfile(path)
    for split in ('train', 'test'):
        dataset_cfg = cfg[f'{split}_dataloader'].dataset
        dataset_cfg.data_root = stand_ins['trees'][dataset_of(path)]
        sample = DATASETS.build(dataset_cfg)[0]
        labels = sample['inputs']['label'].numpy()
        instances = sample['inputs']['instance'].numpy()
        assert instances.shape == labels.shape
        if dataset_cfg.pipeline[0].get('instances_from_labels'):
            assert len(np.unique(instances)) == len(np.unique(labels))
            for instance in np.unique(instances):  # each instance is one class
                assert len(np.unique(labels[instances == instance])) == 1


@pytest.mark.parametrize('path', sorted(glob.glob('configs/segmentors/*.py')))
def test_segmentor_config_trains_on_the_synthetic_scenes(path, stand_ins, tmp_path):
    from mmengine.runner import Runner
    cfg = Config.fromfile(path)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = stand_ins['trees']['synthetic']
    cfg.train_cfg.max_iters = 1
    cfg.default_hooks.checkpoint.update(interval=10**9, save_last=False)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = osp.basename(path)[:-3]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1


@pytest.mark.parametrize('path', sorted(glob.glob('configs/pix2pix/*.py')))
def test_pix2pix_config_trains_and_tests(path, stand_ins, tmp_path):
    from mmengine.runner import Runner
    cfg = Config.fromfile(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=2, num_workers=0, persistent_workers=False)
        cfg[loader].dataset.data_root = stand_ins['trees']['synthetic']
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.default_hooks.checkpoint.update(interval=10**9, save_last=False)
    for hook in cfg.custom_hooks:
        if hook.type == 'VisualizationHook':
            hook.interval = 1
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = osp.basename(path)[:-3]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    assert 'L1/l1' in runner.test()
    assert glob.glob(f'{tmp_path}/**/vis_image/*.png', recursive=True)
