"""Published checkpoints as clade-mm checkpoints: one file per published codebase, each
registering its key rules (:class:`~clade_mm.converters.base.PublishedCodebase`); the shared
machinery in :mod:`.base` and :mod:`.architecture`. Every module of this folder is imported
here, so a new codebase's file registers itself with no other edit."""
import importlib
import pkgutil

from .architecture import GeneratorArchitecture
from .base import (CODEBASES, OfficialCheckpointError, PublishedCodebase,
                   convert_official_checkpoint, convert_official_state_dict,
                   load_official_state_dict, official_generator_key, register_codebase)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f'{__name__}.{_module.name}')

__all__ = [
    'CODEBASES', 'GeneratorArchitecture', 'OfficialCheckpointError', 'PublishedCodebase',
    'convert_official_checkpoint', 'convert_official_state_dict', 'load_official_state_dict',
    'official_generator_key', 'register_codebase'
]
