"""A folder of images, label maps and (optional) instance maps, paired by file name."""
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmagic.registry import DATASETS

from .image_files import read_map
from .validation import DatasetError, label_ids


def choose_layout(data_root: str, layouts: Union[dict, Sequence[dict]]) -> dict:
    """The first ``data_prefix`` of ``layouts`` whose folders all exist below ``data_root``."""
    if isinstance(layouts, dict):
        return layouts
    layouts = [dict(layout) for layout in layouts]
    missing = []
    for layout in layouts:
        absent = [folder for folder in layout.values()
                  if folder and not osp.isdir(osp.join(data_root, folder))]
        if not absent:
            if len(layouts) > 1:
                print_log(f'{data_root}: found the layout {layout}', logger='current')
            return layout
        missing.append(f'{layout} (no {absent[0]})')
    raise FileNotFoundError(
        f'{data_root or "."} has none of the folder layouts this dataset config knows: '
        + '; '.join(missing) + '. Point data_root at the dataset folder (--cfg-options '
        'train_dataloader.dataset.data_root=... test_dataloader.dataset.data_root=...) or set '
        'data_prefix to your folders.')


@DATASETS.register_module()
class SemanticFolderDataset(BaseDataset):
    """``data_root/<img>/x.jpg`` + ``data_root/<label>/x.png`` [+ ``data_root/<instance>/x.png``].

    Files pair by their path below their folder minus the suffix, sub-folders included.

    Args:
        num_classes: classes of the label maps, the don't-care class included.
        data_prefix: sub-folders, ``dict(img=..., label=...[, instance=...])``, or a list of
            such dicts: the layouts a dataset comes in (an official download, the published
            SPADE folders...). The first whose folders all exist below ``data_root`` is used
            and logged.
        img_suffix, label_suffix, instance_suffix: file endings that pair the files by stem.
        dont_care_class: the id of the don't-care class, if the dataset has one (reported by
            ``tools/check_dataset.py``).

    Each sample gives ``img_path``, ``label_path`` (and ``instance_path``) to the pipeline,
    and ``class_palette``: ``metainfo['palette']`` (or ``None``), which palette PNGs read as
    ids must agree with (see ``LoadSemanticSample``).
    """

    def __init__(self, num_classes: int, data_root: str = '',
                 data_prefix: Union[dict, Sequence[dict]] = dict(img='images', label='labels'),
                 img_suffix: str = '.png', label_suffix: str = '.png',
                 instance_suffix: str = '.png', dont_care_class: Optional[int] = None,
                 **kwargs):
        self.num_classes = num_classes
        self.dont_care_class = dont_care_class
        self.suffixes = dict(img=img_suffix, label=label_suffix, instance=instance_suffix)
        super().__init__(data_root=data_root, data_prefix=choose_layout(data_root, data_prefix),
                         **kwargs)

    def pipeline_input(self, sample: dict) -> dict:
        """What the pipeline starts from for ``sample``: its paths and the class palette."""
        return dict(sample, class_palette=self.metainfo.get('palette'))

    def get_data_info(self, idx: int) -> dict:
        return self.pipeline_input(super().get_data_info(idx))

    def _files(self, key: str) -> Optional[dict]:
        folder = self.data_prefix.get(key)
        if not folder:
            return None
        if not osp.isdir(folder):
            raise FileNotFoundError(f'{key} folder {folder} does not exist: check data_root and '
                                    f'data_prefix.{key} in the dataset config.')
        suffix = self.suffixes[key]
        files = {}
        for parent, _, names in os.walk(folder):  # sub-folders too (Cityscapes' cities)
            for name in names:
                if name.endswith(suffix):
                    path = osp.join(parent, name)
                    files[osp.relpath(path, folder)[:-len(suffix)]] = path
        return dict(sorted(files.items()))

    def pair_files(self):
        """``(samples, unpaired)``: the paired samples, and the stems missing a partner."""
        images, labels, instances = self._files('img'), self._files('label'), \
            self._files('instance')
        if not images:
            raise FileNotFoundError(
                f'no *{self.suffixes["img"]} images in {self.data_prefix.get("img")}: check '
                'data_root, data_prefix.img and img_suffix in the dataset config.')
        partners = [labels or {}] + ([instances] if instances is not None else [])
        unpaired = sorted(set().union(*(set(images) ^ set(p) for p in partners)))
        samples = []
        for stem in images:
            if stem in unpaired:
                continue
            item = dict(img_path=images[stem], label_path=labels[stem])
            if instances is not None:
                item['instance_path'] = instances[stem]
            samples.append(item)
        return samples, unpaired

    def load_data_list(self) -> List[dict]:
        samples, unpaired = self.pair_files()
        if unpaired:
            raise FileNotFoundError(
                f'{len(unpaired)} file(s) without a partner, e.g. {unpaired[0]!r}: every image '
                f'in {self.data_prefix["img"]} needs a label map of the same name in '
                f'{self.data_prefix["label"]}' +
                (' and an instance map' if self.data_prefix.get('instance') else '') +
                '. tools/check_dataset.py lists them all.')
        return samples


@DATASETS.register_module()
class ADE20kOutdoorDataset(SemanticFolderDataset):
    """The outdoor scenes of ADE20k, selected by what their label maps contain.

    Rule: a scene is outdoor when at least ``min_fraction`` of its pixels belong to the outdoor
    classes (sky, tree, grass, mountain, sea, field, sand, river, hill by default) and none to
    the indoor-only ones (ceiling by default). The selection reads every label map once and is
    cached in ``data_root`` (keyed by the rule and the file list); the counts are logged.

    Args:
        outdoor_classes, indoor_classes: ADE20k ids (1-based, 0 = don't-care).
        min_fraction: share of outdoor pixels an image needs.
        Others as :class:`SemanticFolderDataset`.
    """

    def __init__(self, *args, outdoor_classes: Sequence[int] = (3, 5, 10, 17, 27, 30, 47, 61, 69),
                 indoor_classes: Sequence[int] = (6, ), min_fraction: float = 0.1, **kwargs):
        self.outdoor_classes = tuple(outdoor_classes)
        self.indoor_classes = tuple(indoor_classes)
        self.min_fraction = min_fraction
        super().__init__(*args, **kwargs)

    def is_outdoor(self, label: np.ndarray) -> bool:
        if np.isin(label, self.indoor_classes).any():
            return False
        return float(np.isin(label, self.outdoor_classes).mean()) >= self.min_fraction

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        rule = json.dumps([self.outdoor_classes, self.indoor_classes, self.min_fraction,
                           [d['label_path'] for d in data_list]])
        key = hashlib.sha1(rule.encode()).hexdigest()[:12]
        cache = osp.join(self.data_root or osp.dirname(data_list[0]['label_path']),
                         f'.outdoor_selection_{key}.json')
        if osp.isfile(cache):
            with open(cache) as f:
                keep = set(json.load(f))
        else:
            keep, unreadable = set(), []
            for d in data_list:
                try:  # the checked reader: a bad file is named, not a bare PIL error
                    label = label_ids(read_map(d['label_path']), d['label_path'])
                except DatasetError as err:
                    unreadable.append(str(err))
                    continue
                if self.is_outdoor(label):
                    keep.add(d['label_path'])
            if unreadable:
                raise DatasetError(
                    f'ADE20k-outdoor cannot select its scenes: {len(unreadable)} label map(s) '
                    f'cannot be read, e.g. {unreadable[0]} tools/check_dataset.py lists them '
                    'all.', 'unreadable')
            try:
                with open(cache, 'w') as f:
                    json.dump(sorted(keep), f)
            except OSError:  # a read-only dataset folder: select again next time
                pass
        selected = [d for d in data_list if d['label_path'] in keep]
        print_log(f'ADE20k-outdoor: {len(selected)} of {len(data_list)} scenes selected '
                  f'(>= {self.min_fraction:.0%} pixels of classes {list(self.outdoor_classes)}, '
                  f'none of {list(self.indoor_classes)})', logger='current')
        if not selected:
            raise FileNotFoundError('ADE20k-outdoor selected no scene: check the class ids of '
                                    'outdoor_classes / indoor_classes against the label maps')
        return selected
