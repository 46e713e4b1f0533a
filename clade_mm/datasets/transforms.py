"""Transforms for label maps that mmagic and mmcv do not have."""
from typing import Dict

import numpy as np
from mmcv.transforms import BaseTransform

from mmagic.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RemapLabels(BaseTransform):
    """Replace label ids by others, e.g. COCO-Stuff's don't-care 255 by class 182.

    Args:
        key: the results key of the label map.
        mapping: ``{old_id: new_id}``; ids not named stay as they are.
    """

    def __init__(self, key: str = 'label', mapping: Dict[int, int] = None):
        self.key = key
        self.mapping = dict(mapping or {})

    def transform(self, results: dict) -> dict:
        labels = results[self.key]
        table_size = max(int(labels.max()) + 1, max(self.mapping, default=0) + 1)
        table = np.arange(table_size, dtype=np.int64)
        for old, new in self.mapping.items():
            table[old] = new
        dtype = np.uint16 if table.max() > 255 else labels.dtype
        results[self.key] = table[labels].astype(dtype)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}, mapping={self.mapping})'
