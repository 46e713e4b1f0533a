from .discriminator_iou import DiscriminatorIoU
from .fid import SemanticFID
from .image_l1 import ImageL1
from .segmentation_score import (SegmentationScore, class_mapping_table, label_areas,
                                 score_areas)

__all__ = ['SegmentationScore', 'DiscriminatorIoU', 'SemanticFID', 'ImageL1',
           'class_mapping_table', 'label_areas', 'score_areas']
