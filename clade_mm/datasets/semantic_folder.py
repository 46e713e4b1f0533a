"""A folder of images, label maps and (optional) instance maps, paired by file name."""
import os
import os.path as osp
from typing import List, Optional

from mmengine.dataset import BaseDataset

from mmagic.registry import DATASETS


@DATASETS.register_module()
class SemanticFolderDataset(BaseDataset):
    """``data_root/<img>/x.jpg`` + ``data_root/<label>/x.png`` [+ ``data_root/<instance>/x.png``].

    Files pair by their path below their folder minus the suffix, sub-folders included.

    Args:
        num_classes: classes of the label maps, the don't-care class included.
        data_prefix: sub-folders, ``dict(img=..., label=..., instance=None)``.
        img_suffix, label_suffix, instance_suffix: file endings that pair the files by stem.

    Each sample gives ``img_path``, ``label_path`` (and ``instance_path``) to the pipeline.
    """

    def __init__(self, num_classes: int, data_root: str = '',
                 data_prefix: dict = dict(img='images', label='labels', instance=None),
                 img_suffix: str = '.png', label_suffix: str = '.png',
                 instance_suffix: str = '.png', **kwargs):
        self.num_classes = num_classes
        self.suffixes = dict(img=img_suffix, label=label_suffix, instance=instance_suffix)
        super().__init__(data_root=data_root, data_prefix=data_prefix, **kwargs)

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

    def load_data_list(self) -> List[dict]:
        images, labels, instances = self._files('img'), self._files('label'), \
            self._files('instance')
        if not images:
            raise FileNotFoundError(
                f'no *{self.suffixes["img"]} images in {self.data_prefix.get("img")}')
        missing = sorted(set(images) ^ set(labels or {}))
        if instances is not None:
            missing += sorted(set(images) ^ set(instances))
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} file(s) without a partner, e.g. {missing[0]!r}: every image '
                f'in {self.data_prefix["img"]} needs a label map of the same name in '
                f'{self.data_prefix["label"]}' + (' and an instance map' if instances else ''))
        data_list = []
        for stem in images:
            item = dict(img_path=images[stem], label_path=labels[stem])
            if instances is not None:
                item['instance_path'] = instances[stem]
            data_list.append(item)
        return data_list
