from .image_files import read_image, read_map
from .metainfo import class_metainfo
from .semantic_folder import ADE20kOutdoorDataset, SemanticFolderDataset
from .synthetic import CLASSES as SYNTHETIC_CLASSES
from .synthetic import make_scene, write_synthetic_dataset
from .transforms import (ConstantImage, LoadSemanticSample, SemanticCrop, SemanticResize,
                         load_palette, resize_image, resize_map)
from .validation import DatasetError

__all__ = [
    'SemanticFolderDataset', 'ADE20kOutdoorDataset', 'ConstantImage', 'LoadSemanticSample',
    'SemanticCrop', 'SemanticResize', 'DatasetError', 'load_palette', 'read_image', 'read_map',
    'resize_image', 'resize_map', 'SYNTHETIC_CLASSES', 'make_scene', 'write_synthetic_dataset',
    'class_metainfo'
]
