from .semantic_folder import SemanticFolderDataset
from .synthetic import CLASSES as SYNTHETIC_CLASSES
from .synthetic import make_scene, write_synthetic_dataset
from .transforms import RemapLabels

__all__ = [
    'SemanticFolderDataset', 'RemapLabels', 'SYNTHETIC_CLASSES', 'make_scene',
    'write_synthetic_dataset'
]
