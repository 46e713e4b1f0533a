from .semantic_folder import ADE20kOutdoorDataset, SemanticFolderDataset
from .synthetic import CLASSES as SYNTHETIC_CLASSES
from .synthetic import make_scene, write_synthetic_dataset
from .transforms import LoadSemanticSample, SemanticCrop, load_palette
from .validation import DatasetError

__all__ = [
    'SemanticFolderDataset', 'ADE20kOutdoorDataset', 'LoadSemanticSample', 'SemanticCrop',
    'DatasetError', 'load_palette', 'SYNTHETIC_CLASSES', 'make_scene', 'write_synthetic_dataset'
]
