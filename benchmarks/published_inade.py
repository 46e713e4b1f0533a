"""The generator of the published INADE code (tzt101/INADE), built from a local copy of its
repository, so that the benchmarks can run it beside clade-mm's in one process.

Nothing of that code is shipped here: pass the folder of a checkout (the one that has
``models/networks/generator.py``; ``git archive HEAD data models options util`` of the
repository is enough) with ``--published-inade-code``. It is imported as
:mod:`published_clade` imports the published CLADE code (its packages registered bare: the
generator needs neither the training code nor ``dill``). Its generator is compared with the
clade-mm family that computes its function, :data:`FAMILY` (no checkpoint converter reads
INADE's keys yet, so the name is declared here rather than read from the weights). The
benchmarks reach this module through ``common``.
"""
from argparse import Namespace
from typing import Dict, Optional

import torch
import torch.nn as nn

from published_clade import one_hot, published_generator_class

OPTION = '--published-inade-code'  # the benchmarks' option that gives a checkout
REPOSITORY = 'tzt101/INADE'
FAMILY = 'INADE'  # the registered clade-mm family that computes what the published ILADE does
# The published models' options (its README and option defaults: 64 noise channels except for
# DeepFashion, a code of 256, ``noise_ins``, as the generator's input; no sketch). ``use_vae``
# is off: the generator then takes every instance's noise from N(0, 1) as it is, as clade-mm's
# inference does without a reference photo (with one, the instance encoder's posterior moves
# it).
PUBLISHED_OPTIONS = dict(norm_mode='inade', noise_nc=64, z_dim=256, add_sketch=False,
                         use_vae=False)


def published_generators(path: str, num_classes: int, size: int,
                         ngf: int = 64) -> Dict[str, nn.Module]:
    """``{FAMILY: published generator}``: ``num_classes`` classes (the last one the don't-care
    class, as ADE20k's 151) plus the instance-edge channel its label input carries (the
    published ``--no_instance`` off), ``size`` x ``size`` images, ``ngf`` base channels,
    published initialisation, eval mode. Run it with :func:`published_inputs`."""
    from clade_mm.layers import norm_families
    if FAMILY not in norm_families():
        raise SystemExit(f'the published INADE code computes the {FAMILY} family, which is not '
                         'registered here')
    generator_class = published_generator_class(path, OPTION, REPOSITORY)
    import models.networks.normalization as normalization
    if not hasattr(normalization, 'ILADE'):
        raise SystemExit(f'{OPTION} {path}: its models/networks/normalization.py has no ILADE '
                         f'(the INADE norm): give a checkout of the published {REPOSITORY} '
                         'repository')
    opt = Namespace(norm_G='spectralspadesyncbatch3x3', no_instance=False,
                    label_nc=num_classes - 1, contain_dontcare_label=True,
                    semantic_nc=num_classes + 1, ngf=ngf, crop_size=size, aspect_ratio=1.0,
                    num_upsampling_layers='normal', **PUBLISHED_OPTIONS)
    generator = generator_class(opt)
    generator.init_weights('xavier', 0.02)
    return {FAMILY: generator.eval()}


def published_inputs(generator: nn.Module, labels: torch.Tensor,
                     given: Optional[Dict[str, torch.Tensor]] = None, seed: int = 0) -> dict:
    """The published generator's arguments for ``(N, H, W)`` ``labels`` and ``given`` (the
    layout's other inputs: ``instances``, ``(N, H, W)`` ids), as its
    ``Pix2PixModel.preprocess_input`` makes them: the one-hot label map with the instance edge
    map as its last channel, the one-hot instance map (``max id + 1`` channels), and the
    instance noise ``(N, K, 2, noise_nc)`` and code ``(N, z_dim)`` that its forward would draw
    itself on a GPU (on the CPU it cannot: it asks ``input.get_device()``, -1 there), drawn
    here from ``seed``. All made once, before any timing."""
    instances = (given or {}).get('instances')
    if instances is None:
        raise SystemExit('the published INADE generator needs an instance map (given='
                         "{'instances': ...})")
    opt = generator.opt
    rows = int(instances.max()) + 1
    semantics = torch.cat([one_hot(labels, opt.semantic_nc - 1), edges(instances)], 1)
    rng = torch.Generator().manual_seed(seed)
    return dict(input=semantics, input_instances=one_hot(instances, rows),
                noise=torch.randn(labels.shape[0], rows, 2, opt.noise_nc, generator=rng),
                noise_ins=torch.randn(labels.shape[0], opt.z_dim, generator=rng))


def edges(instances: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` float instance edges of ``(N, H, W)`` ids, as the published
    ``Pix2PixModel.get_edges``: a pixel whose right, left, lower or upper neighbour differs."""
    t = instances[:, None]
    edge = torch.zeros_like(t, dtype=torch.bool)
    horizontal = t[..., 1:] != t[..., :-1]
    vertical = t[..., 1:, :] != t[..., :-1, :]
    edge[..., 1:] |= horizontal
    edge[..., :-1] |= horizontal
    edge[..., 1:, :] |= vertical
    edge[..., :-1, :] |= vertical
    return edge.float()
