from .fid import SemanticFID
from .segmentation_score import (SegmentationScore, class_mapping_table, label_areas,
                                 score_areas)

__all__ = ['SegmentationScore', 'SemanticFID', 'class_mapping_table', 'label_areas',
           'score_areas']
