"""The paper's semantic score: segment generated images, compare with the input label maps."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from mmseg.evaluation.metrics import IoUMetric

from mmagic.registry import METRICS

IGNORE = 255
# Names of the scored images in the results: seg/generated/mIoU, seg/real/mIoU.
IMAGE_NAMES = {'fake_img': 'generated', 'gt_img': 'real'}


def class_mapping_table(mapping: Union[None, Dict[int, Optional[int]], Sequence[Optional[int]]],
                        num_generator_classes: int) -> np.ndarray:
    """A lookup table generator id -> segmentor id, ``IGNORE`` for classes not scored.

    ``mapping`` is a dict ``{generator_id: segmentor_id or None}`` (ids not named map to
    themselves), a list indexed by generator id, or ``None`` (identity).
    """
    table = np.arange(num_generator_classes, dtype=np.int64)
    if mapping is None:
        return table
    if isinstance(mapping, dict):
        for gen_id, seg_id in mapping.items():
            table[int(gen_id)] = IGNORE if seg_id is None else int(seg_id)
        return table
    if len(mapping) != num_generator_classes:
        raise ValueError(f'class_mapping lists {len(mapping)} classes, but the generator has '
                         f'{num_generator_classes}')
    return np.array([IGNORE if m is None else int(m) for m in mapping], dtype=np.int64)


def label_areas(prediction: torch.Tensor, labels: torch.Tensor, table: torch.Tensor,
                num_classes: int) -> tuple:
    """mmseg's per-image histograms, with the generator's labels mapped to segmentor ids."""
    return IoUMetric.intersect_and_union(prediction, table[labels.long()], num_classes, IGNORE)


def score_areas(areas: List[tuple]) -> Dict[str, float]:
    """mIoU, mean accuracy and pixel accuracy (in %) from per-image histograms."""
    intersect, union, pred, label = (sum(area[i] for area in areas) for i in range(4))
    metrics = IoUMetric.total_area_to_metrics(intersect, union, pred, label, ['mIoU'])
    present = label.numpy() > 0  # classes absent from the label maps do not count
    return OrderedDict(
        mIoU=float(np.nanmean(metrics['IoU'][present]) * 100),
        mAcc=float(np.nanmean(metrics['Acc'][present]) * 100),
        aAcc=float(metrics['aAcc'] * 100))


@METRICS.register_module()
class SegmentationScore(BaseMetric):
    """Segment each image of ``keys`` with an mmsegmentation model and score the predictions
    against the input label map: mIoU, mean class accuracy and pixel accuracy, in percent,
    reported as ``seg/generated/mIoU`` (``fake_img``) and ``seg/real/mIoU`` (``gt_img``): the
    real images give the reference row of the paper's Table 1. One segmentor serves all keys.

    Args:
        segmentor_config: an mmsegmentation config file (any segmentor: UperNet, DeepLab...),
            or one shipped with mmsegmentation as ``'mmseg::upernet/upernet_r101_....py'``.
        segmentor_checkpoint: its trained weights, a local file.
        num_generator_classes: classes of the label maps.
        class_mapping: generator id -> segmentor id (see :func:`class_mapping_table`); map the
            don't-care class (and anything the segmentor does not know) to ``None``.
        keys: which images of the data samples to score.
        device: where the segmentor runs.
    """
    default_prefix = 'seg'

    def __init__(self, segmentor_config: str, segmentor_checkpoint: str,
                 num_generator_classes: int,
                 class_mapping: Union[None, dict, Sequence] = None,
                 keys: Sequence[str] = ('fake_img', 'gt_img'), device: str = 'cpu', collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        for path, what in ((segmentor_config, 'config'), (segmentor_checkpoint, 'checkpoint')):
            if what == 'config' and str(path).startswith('mmseg::'):
                continue  # a config shipped inside mmsegmentation
            if not path or not osp.isfile(path):
                raise FileNotFoundError(
                    f'segmentor {what} {path!r} not found: SegmentationScore needs an '
                    'mmsegmentation config and its trained weights as local files (e.g. an '
                    "UperNet for ADE20k from mmsegmentation's model zoo, downloaded beforehand).")
        self.segmentor_config = segmentor_config
        self.segmentor_checkpoint = segmentor_checkpoint
        self.table = torch.from_numpy(class_mapping_table(class_mapping, num_generator_classes))
        self.keys = (keys, ) if isinstance(keys, str) else tuple(keys)
        self.device = device
        self._segmentor = None

    @property
    def segmentor(self):
        """Built on first use, in mmseg's scope, restoring the caller's scope afterwards."""
        if self._segmentor is None:
            if self.segmentor_config.startswith('mmseg::'):
                from mmengine.hub import get_config
                cfg = get_config(self.segmentor_config)
            else:
                cfg = Config.fromfile(self.segmentor_config)
            with DefaultScope.overwrite_default_scope('mmseg'):
                import mmseg.models  # noqa: F401
                from mmseg.registry import MODELS
                model = MODELS.build(cfg.model)
            try:  # strictly: a partly loaded segmentor would score silently wrong
                load_checkpoint(model, self.segmentor_checkpoint, map_location='cpu',
                                strict=True, logger='silent')
            except RuntimeError as err:
                raise ValueError(
                    f'segmentor checkpoint {self.segmentor_checkpoint} does not fit the model '
                    f'of {self.segmentor_config}: give the checkpoint trained with that config '
                    f'(or the config it was trained with). {err}') from None
            self._segmentor = model.to(self.device).eval()
        return self._segmentor

    @torch.no_grad()
    def segment(self, images: List[torch.Tensor]) -> List[torch.Tensor]:
        """``(3, H, W)`` 0..255 BGR images -> ``(H, W)`` predicted segmentor ids."""
        from mmseg.structures import SegDataSample
        samples = []
        for image in images:
            sample = SegDataSample()
            shape = tuple(image.shape[-2:])
            sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                                     padding_size=[0, 0, 0, 0]))
            samples.append(sample)
        data = self.segmentor.data_preprocessor(
            dict(inputs=[img.to(self.device) for img in images], data_samples=samples), False)
        results = self.segmentor.predict(data['inputs'], data['data_samples'])
        return [r.pred_sem_seg.data[0].cpu() for r in results]

    def process(self, data_batch, data_samples: Sequence) -> None:
        num_classes = self.segmentor.decode_head.num_classes
        # One result per sample (mmengine trims the collected results to the dataset size).
        per_sample = [dict() for _ in data_samples]
        for key in self.keys:
            predictions = self.segment([torch.as_tensor(s[key]).float() for s in data_samples])
            for result, sample, prediction in zip(per_sample, data_samples, predictions):
                labels = torch.as_tensor(sample['label_map']).reshape(prediction.shape)
                result[key] = label_areas(prediction, labels, self.table, num_classes)
        self.results.extend(per_sample)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        scores = OrderedDict()
        for key in self.keys:
            name = IMAGE_NAMES.get(key, key)
            for metric, value in score_areas([r[key] for r in results]).items():
                scores[f'{name}/{metric}'] = value
        return scores
