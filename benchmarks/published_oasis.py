"""The generator of the published OASIS code (boschresearch/OASIS), built from a local copy of
its repository, so that the benchmarks can run it beside clade-mm's in one process.

Nothing of that code is shipped here: pass the folder of a checkout (the one that has
``models/generator.py``; ``git archive HEAD models`` of the repository is enough) with
``--published-oasis-code``. Its ``models`` package is registered bare, as :mod:`published_clade`
registers the SPADE-derived ones (the generator needs neither the training code nor its
dataloaders). Run as its ``test.py`` runs it: CPU (``gpu_ids='-1'``), eval mode, the 3D noise
drawn inside the forward (``torch.randn``, one vector per image, expanded over the map), as
clade-mm's OASIS generator draws it inside the timed call too. Its generator is compared with
the clade-mm family that computes its function, :data:`FAMILY` (the norm of
``configs/oasis/oasis_<setting>.py``). The benchmarks reach this module through ``common``.
"""
from argparse import Namespace
from typing import Dict, Optional

import torch
import torch.nn as nn

from published_clade import import_published, one_hot

OPTION = '--published-oasis-code'  # the benchmarks' option that gives a checkout
REPOSITORY = 'boschresearch/OASIS'
FAMILY = 'NoiseSPADE'  # the registered clade-mm family of OASIS's generator
# The published models' options (config.py defaults: 6 blocks, 64 channels, 64 of 3D noise,
# synchronised batch norm before SPADE, 3x3 SPADE convolutions, spectral norm).
Z_DIM = 64


def published_generators(path: str, num_classes: int, size: int,
                         ngf: int = 64) -> Dict[str, nn.Module]:
    """``{FAMILY: published generator}``: ``num_classes`` classes, ``size`` x ``size`` images,
    ``ngf`` base channels, the published initialisation (Xavier-normal, gain 0.02), eval
    mode."""
    opt = Namespace(semantic_nc=num_classes, z_dim=Z_DIM, channels_G=ngf, num_res_blocks=6,
                    crop_size=size, aspect_ratio=1.0, param_free_norm='syncbatch', spade_ks=3,
                    no_3dnoise=False, no_spectral_norm=False, gpu_ids='-1')
    generator = import_published(path, 'models.generator', OPTION,
                                 REPOSITORY).OASIS_Generator(opt)
    for module in generator.modules():  # models.OASIS_model.init_networks
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            weight = getattr(module, 'weight_orig', module.weight)
            nn.init.xavier_normal_(weight.data, gain=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias.data)
    return {FAMILY: generator.eval()}


def published_inputs(generator: nn.Module, labels: torch.Tensor,
                     given: Optional[Dict[str, torch.Tensor]] = None) -> dict:
    """The published generator's argument for ``(N, H, W)`` ``labels``: the one-hot map (its
    ``preprocess_input``), made before any timing. ``given`` is not read."""
    return dict(input=one_hot(labels, generator.opt.semantic_nc))
