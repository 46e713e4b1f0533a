"""The generator of the published CLADE code, built from a local copy of its repository, so
that the benchmarks can time it beside clade-mm's in one process.

Nothing of that code is shipped here: pass the folder of a checkout (the one that has
``models/networks/generator.py``) with ``--published-code``.
"""
import importlib
import os.path as osp
import sys
import types
from argparse import Namespace

import torch


def published_generator_class(path: str):
    """``SPADEGenerator`` of the published code at ``path``."""
    if not osp.isfile(osp.join(path, 'models', 'networks', 'generator.py')):
        raise SystemExit(f'--published-code {path}: no models/networks/generator.py there; give '
                         'the folder of a checkout of the published CLADE repository')
    path = osp.abspath(path)
    if path not in sys.path:
        sys.path.insert(0, path)
    # The packages' __init__ files import the training code (losses, options, util with its
    # extra dependencies); the generator's own modules need none of it, so the packages are
    # registered bare.
    for name, folder in (('models', 'models'), ('models.networks', 'models/networks')):
        package = types.ModuleType(name)
        package.__path__ = [osp.join(path, folder)]
        sys.modules[name] = package
    return importlib.import_module('models.networks.generator').SPADEGenerator


def build_published_generator(path: str, num_classes: int, size: int, icpe: bool = False,
                              ngf: int = 64):
    """The published CLADE (or CLADE-ICPE with ``icpe``) generator for ``num_classes`` classes
    (the last one the don't-care class, as ADE20k's 151), ``size`` x ``size`` images, no
    instance maps, ``ngf`` base channels, in eval mode; called as ``generator(one_hot, input_dist=positions)``."""
    opt = Namespace(norm_G='spectralspadesyncbatch3x3', norm_mode='clade', no_instance=True,
                    add_dist=icpe, label_nc=num_classes - 1, contain_dontcare_label=True,
                    semantic_nc=num_classes, ngf=ngf, use_vae=False, crop_size=size,
                    aspect_ratio=1.0, num_upsampling_layers='normal')
    generator = published_generator_class(path)(opt)
    generator.init_weights('xavier', 0.02)
    return generator.eval()


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The published pipeline's input: ``(N, num_classes, H, W)`` float one-hot maps."""
    n, h, w = labels.shape
    return torch.zeros(n, num_classes, h, w).scatter_(1, labels[:, None], 1.0)
