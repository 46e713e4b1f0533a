"""Class names and colours as the configs declare them, checked name by name against the
package's synthetic scenes and mmsegmentation's datasets."""
import numpy as np
import pytest
from mmengine.config import Config

from clade_mm.datasets import synthetic
from clade_mm.datasets.metainfo import class_metainfo
from clade_mm.engine.hooks import label_palette


def metainfo(path):
    cfg = Config.fromfile(path)
    return cfg, class_metainfo(cfg, cfg.model.generator.num_classes)


def test_synthetic_names_and_colours_are_the_scenes_own():
    _, classes = metainfo('configs/clade/clade_synthetic.py')
    assert [c['name'] for c in classes] == list(synthetic.CLASSES)
    assert np.array_equal([c['colour'] for c in classes], synthetic.COLOURS)


def test_ade20k_names_are_mmsegs_shifted_by_the_dont_care_class():
    from mmseg.datasets import ADE20KDataset
    cfg, classes = metainfo('configs/clade/clade_ade20k.py')
    mmseg_names = [n.strip() for n in ADE20KDataset.METAINFO['classes']]
    assert [c['name'] for c in classes[1:]] == mmseg_names
    assert classes[0]['dont_care'] and not any(c['dont_care'] for c in classes[1:])
    # ADE20kOutdoorDataset selects scenes by these ids: they must be the classes it means.
    from clade_mm.datasets import ADE20kOutdoorDataset
    defaults = ADE20kOutdoorDataset.__init__.__kwdefaults__
    assert [classes[i]['name'] for i in defaults['outdoor_classes']] == [
        'sky', 'tree', 'grass', 'mountain', 'sea', 'field', 'sand', 'river', 'hill']
    assert [classes[i]['name'] for i in defaults['indoor_classes']] == ['ceiling']


def test_cityscapes_names_match_mmsegs_train_classes():
    from mmseg.datasets import CityscapesDataset
    cfg, classes = metainfo('configs/clade/clade_cityscapes.py')
    assert len(classes) == 35
    for label_id, train_id in cfg.label_to_train_id.items():
        assert classes[label_id]['name'] == CityscapesDataset.METAINFO['classes'][train_id]
    assert [c['id'] for c in classes if c['unused']] == [34]


def test_coco_stuff_marks_its_dont_care_and_unused_ids():
    cfg, classes = metainfo('configs/clade/clade_coco_stuff.py')
    assert [c['name'] for c in classes] == list(cfg.class_names)
    assert [c['id'] for c in classes if c['dont_care']] == [182]
    assert [c['id'] for c in classes if c['unused']] == list(cfg.unused_ids)


def test_fallbacks_and_wrong_lengths(tmp_path):
    bare = Config(dict(train_dataloader=dict(dataset=dict(pipeline=[]))))
    classes = class_metainfo(bare, 3)
    assert [c['name'] for c in classes] == ['class 0', 'class 1', 'class 2']
    assert np.array_equal([c['colour'] for c in classes], label_palette(3))
    (tmp_path / 'palette.txt').write_text('1 2 3\n4 5 6\n')
    masks = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[dict(
        type='LoadSemanticSample', num_classes=2, palette=str(tmp_path / 'palette.txt'))]))))
    assert [c['colour'] for c in class_metainfo(masks, 2)] == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match='has 2 palette colours but the generator 3 classes'):
        class_metainfo(masks, 3)
    named = Config(dict(class_names=['a', 'b']))
    with pytest.raises(ValueError, match='has 2 class names but the generator 4 classes'):
        class_metainfo(named, 4)


def test_celebamask_hq_names_and_colours_are_those_of_seans_preprocessing():
    """Id k + 1 is the k-th part mask SEAN's preprocessing paints (0 where none is), and the
    colours are those of the dataset's vis/ pictures."""
    cfg = Config.fromfile('configs/_base_/datasets/celebamask_hq.py')
    classes = class_metainfo(cfg, cfg.num_classes)
    assert [c['name'] for c in classes] == [
        'background', 'skin', 'nose', 'eye_g', 'l_eye', 'r_eye', 'l_brow', 'r_brow', 'l_ear',
        'r_ear', 'mouth', 'u_lip', 'l_lip', 'hair', 'hat', 'ear_r', 'neck_l', 'neck', 'cloth']
    assert [c['colour'] for c in classes] == [
        [0, 0, 0], [204, 0, 0], [76, 153, 0], [204, 204, 0], [51, 51, 255], [204, 0, 204],
        [0, 255, 255], [51, 255, 255], [102, 51, 0], [255, 0, 0], [102, 204, 0], [255, 255, 0],
        [0, 0, 153], [0, 0, 204], [255, 51, 153], [0, 204, 204], [0, 51, 0], [255, 153, 51],
        [0, 204, 0]]
    assert not any(c['dont_care'] or c['unused'] for c in classes)  # background is a class
    for split in ('train', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        loader = dataset.pipeline[0]
        assert dataset.num_classes == loader.num_classes == 19
        assert 'dont_care_class' not in dataset and not loader.get('label_mapping')
        assert 'instance' not in dataset.data_prefix
