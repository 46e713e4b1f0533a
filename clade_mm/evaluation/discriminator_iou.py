"""How well an OASIS discriminator segments the real photos: its mIoU against their label maps."""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmseg.evaluation.metrics import IoUMetric

from mmagic.registry import METRICS

from .segmentation_score import score_areas


@METRICS.register_module()
class DiscriminatorIoU(BaseMetric):
    """The mIoU (and mean class and pixel accuracy), in percent, of the discriminator's
    segmentation of the real images (``disc_label_map``, which an OASIS-style model such as
    :class:`~clade_mm.models.OASISGAN` adds to its test outputs) against their label maps
    (``label_map``), reported as ``disc/real/mIoU``, ``disc/real/mAcc``, ``disc/real/aAcc``.

    It tells whether the discriminator has become the segmenter the generator learns from
    (OASIS's adversarial supervision); mmseg's ``IoUMetric`` computes the histograms and the
    scores, as for :class:`SegmentationScore`. Classes absent from every label map do not
    count in the means.

    Args:
        num_classes: semantic classes of the label maps; ``None``: the largest id seen + 1.
        dont_care_class: a class whose pixels are not scored (the one the N+1 loss weighs 0),
            ``None`` for none. A scored pixel the discriminator assigns to it counts as wrong.
    """
    default_prefix = 'disc'

    def __init__(self, num_classes: Optional[int] = None,
                 dont_care_class: Optional[int] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.dont_care_class = dont_care_class

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            if 'disc_label_map' not in sample:
                raise KeyError(
                    f"{type(self).__name__} scores the discriminator's segmentation of the "
                    "real images ('disc_label_map'), which the model's test outputs do not "
                    f'have (they have {sorted(sample)}): it needs an OASIS-style model '
                    '(OASISGAN, whose discriminator segments) tested on real images.')
            prediction = torch.as_tensor(sample['disc_label_map']).long().cpu()
            labels = torch.as_tensor(sample['label_map']).long().cpu().reshape(prediction.shape)
            if self.num_classes is not None and int(labels.max()) >= self.num_classes:
                raise ValueError(f'a label map holds class {int(labels.max())}, but '
                                 f'{type(self).__name__} has num_classes={self.num_classes}')
            num_classes = self.num_classes or int(max(labels.max(), prediction.max())) + 1
            # -1 matches no pixel: nothing ignored without a don't-care class
            ignore = -1 if self.dont_care_class is None else self.dont_care_class
            self.results.append(IoUMetric.intersect_and_union(prediction, labels, num_classes,
                                                              ignore))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        length = max(len(areas[0]) for areas in results)  # the class count inferred per image
        padded = [tuple(F.pad(area, (0, length - len(area))) for area in areas)
                  for areas in results]
        return OrderedDict((f'real/{metric}', value)
                           for metric, value in score_areas(padded).items())
