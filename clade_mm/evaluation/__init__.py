from .segmentation_score import (SegmentationScore, class_mapping_table, label_areas,
                                 score_areas)

__all__ = ['SegmentationScore', 'class_mapping_table', 'label_areas', 'score_areas']
