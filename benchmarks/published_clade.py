"""The generators of the published CLADE code (tzt101/CLADE), built from a local copy of its
repository, so that the benchmarks can run them beside clade-mm's in one process.

Nothing of that code is shipped here: pass the folder of a checkout (the one that has
``models/networks/generator.py``) with ``--published-code``. Each published generator is named
by the clade-mm norm family its weights hold, read from its keys by the checkpoint converter
(:class:`clade_mm.converters.GeneratorArchitecture`), so that it is compared with the family
that computes the same function. The benchmarks reach this module through ``common``
(``PUBLISHED_CODEBASES``); :mod:`published_inade` imports the published INADE code the same way.
"""
import importlib
import os.path as osp
import sys
import types
from argparse import Namespace
from typing import Dict, Optional

import torch
import torch.nn as nn

OPTION = '--published-code'  # the benchmarks' option that gives a checkout
REPOSITORY = 'tzt101/CLADE'
# The published code's norm options this module builds: its class-adaptive norm, without and
# with its positional map (``--add_dist``).
PUBLISHED_OPTIONS = (dict(norm_mode='clade', add_dist=False),
                     dict(norm_mode='clade', add_dist=True))


def published_generator_class(path: str, option: str = OPTION, repository: str = REPOSITORY):
    """``SPADEGenerator`` of the published code at ``path`` (a checkout of ``repository``,
    given with ``option``). The published SPADE-derived codebases all name their packages
    ``models``: whatever another checkout imported under that name is dropped first, so that
    one process can hold the generators of several (what is built keeps its own modules)."""
    return import_published(path, 'models.networks.generator', option,
                            repository).SPADEGenerator


def import_published(path: str, module: str, option: str, repository: str):
    """``module`` (``'models.networks.generator'``) of the published code at ``path``, its
    parent packages registered bare: their ``__init__`` files import the training code
    (losses, options, util with its extra dependencies), which the generator's own modules
    do not need. Whatever another checkout imported as ``models`` is dropped first."""
    parts = module.split('.')
    if not osp.isfile(osp.join(path, *parts) + '.py'):
        raise SystemExit(f'{option} {path}: no {"/".join(parts)}.py there; give the folder of '
                         f'a checkout of the published {repository} repository')
    path = osp.abspath(path)
    if path not in sys.path:
        sys.path.insert(0, path)
    for name in [name for name in sys.modules if name == 'models' or
                 name.startswith('models.')]:
        del sys.modules[name]
    for depth in range(1, len(parts)):
        package = types.ModuleType('.'.join(parts[:depth]))
        package.__path__ = [osp.join(path, *parts[:depth])]
        sys.modules[package.__name__] = package
    return importlib.import_module(module)


def published_family(generator: nn.Module) -> str:
    """The registered name of the clade-mm norm family whose weights ``generator`` holds."""
    from clade_mm.converters import GeneratorArchitecture
    shapes = {key: tuple(value.shape) for key, value in generator.state_dict().items()}
    family = GeneratorArchitecture.from_official_shapes(shapes).norm
    if family is None:
        raise SystemExit('the published generator holds norms of no family a registered '
                         'codebase publishes (clade_mm.converters)')
    return family


def published_generators(path: str, num_classes: int, size: int,
                         ngf: int = 64) -> Dict[str, nn.Module]:
    """``{clade-mm family name: published generator}`` for every option of
    :data:`PUBLISHED_OPTIONS`: ``num_classes`` classes (the last one the don't-care class, as
    ADE20k's 151), ``size`` x ``size`` images, no instance maps, ``ngf`` base channels, published
    initialisation, eval mode. Run one with :func:`published_inputs`."""
    generator_class = published_generator_class(path)
    generators = {}
    for options in PUBLISHED_OPTIONS:
        opt = Namespace(norm_G='spectralspadesyncbatch3x3', no_instance=True,
                        label_nc=num_classes - 1, contain_dontcare_label=True,
                        semantic_nc=num_classes, ngf=ngf, use_vae=False, crop_size=size,
                        aspect_ratio=1.0, num_upsampling_layers='normal', **options)
        generator = generator_class(opt)
        generator.init_weights('xavier', 0.02)
        generators[published_family(generator)] = generator.eval()
    return generators


def published_inputs(generator: nn.Module, labels: torch.Tensor,
                     given: Optional[Dict[str, torch.Tensor]] = None) -> dict:
    """The published generator's arguments for ``(N, H, W)`` ``labels``, as its pipeline makes
    them: the one-hot maps and, with ``--add_dist``, the positional maps (computed offline there,
    so computed here once, before any timing). ``given``, the layout's other inputs (an
    instance map), is not read: these generators take no instance maps."""
    inputs = dict(input=one_hot(labels, generator.opt.semantic_nc))
    if generator.opt.add_dist:
        from clade_mm.ops.positional_map import icpe_map
        inputs['input_dist'] = icpe_map(labels)
    return inputs


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The published pipeline's input: ``(N, num_classes, H, W)`` float one-hot maps."""
    n, h, w = labels.shape
    return torch.zeros(n, num_classes, h, w).scatter_(1, labels[:, None], 1.0)
