"""The generator of the published SEAN code (ZPdesu/SEAN), built from a local copy of its
repository, so that the benchmarks can run it beside clade-mm's in one process.

Nothing of that code is shipped here: pass the folder of a checkout (the one that has
``models/networks/generator.py``; ``git archive HEAD models options util data`` of the
repository is enough) with ``--published-sean-code``. It is imported as :mod:`published_clade`
imports the published CLADE code. For the comparison only, and without editing its files:

* its ACE layers call ``.cuda()`` on their noise; while the published generator runs, a
  tensor's ``.cuda()`` returns the tensor itself (a GPU-less machine cannot run it otherwise);
* its ACE holds 19 ``fc_mu`` layers (CelebA-HQ's classes) and looks up ``fc_mu<j>`` for every
  class ``j`` of the map: for a scene of more classes the missing ``fc_mu<j>`` are added as the
  19 are made (``Linear(512, 512)``), so that it runs the benchmarks' ADE20k scene;
* both sides take the style codes as given: the published generator's ``Zencoder`` (which its
  forward always runs) answers with codes computed once from a photo before any timing, as
  clade-mm's generator is timed with codes given (``style_codes``). The encoders are the same
  convolutions on both sides; what is compared is the generator and its ACE norms.

Its generator is compared with the clade-mm family that computes its function, :data:`FAMILY`.
The benchmarks reach this module through ``common``.
"""
import contextlib
from argparse import Namespace
from typing import Dict, Optional

import torch
import torch.nn as nn

from published_clade import one_hot, published_family, published_generator_class

OPTION = '--published-sean-code'  # the benchmarks' option that gives a checkout
REPOSITORY = 'ZPdesu/SEAN'
FAMILY = 'SEAN'
# The published model's options (README, CelebA-HQ): its ACE's style length is fixed at 512.
STYLE_CHANNELS = 512


@contextlib.contextmanager
def cuda_is_the_cpu():
    """``Tensor.cuda()`` returns the tensor itself inside the block."""
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda = cuda


class _GivenCodes(nn.Module):
    """Stands in for the published ``Zencoder``: the codes given, whatever the photo."""

    def __init__(self):
        super().__init__()
        self.codes = None

    def forward(self, input, segmap):  # noqa: A002  (the published keyword)
        return self.codes


def published_generators(path: str, num_classes: int, size: int,
                         ngf: int = 64) -> Dict[str, nn.Module]:
    """``{FAMILY: published generator}``: ``num_classes`` classes (no don't-care class, no
    instance maps, as its CelebA-HQ setting), ``size`` x ``size`` images, ``ngf`` base
    channels, published initialisation, eval mode. Run it with :func:`published_inputs`."""
    generator_class = published_generator_class(path, OPTION, REPOSITORY)
    opt = Namespace(norm_G='spectralspadesyncbatch3x3', semantic_nc=num_classes,
                    label_nc=num_classes, contain_dontcare_label=False, no_instance=True,
                    ngf=ngf, crop_size=size, aspect_ratio=1.0, num_upsampling_layers='normal',
                    status='train')  # 'test' would write style codes to disk
    generator = generator_class(opt)
    for module in generator.modules():
        if hasattr(module, 'fc_mu0'):
            for j in range(19, num_classes):
                setattr(module, f'fc_mu{j}', nn.Linear(STYLE_CHANNELS, STYLE_CHANNELS))
    generator.init_weights('xavier', 0.02)
    if published_family(generator) != FAMILY:
        raise SystemExit(f'{OPTION} {path}: its generator holds no ACE norms; give a checkout '
                         f'of the published {REPOSITORY} repository')
    generator.eval()
    zencoder, generator.Zencoder = generator.Zencoder, _GivenCodes()
    generator.published_zencoder = [zencoder]  # kept out of the module tree: not timed
    forward = generator.forward

    def cpu_forward(*args, **kwargs):
        with cuda_is_the_cpu():
            return forward(*args, **kwargs)

    generator.forward = cpu_forward
    return {FAMILY: generator}


@torch.no_grad()
def published_inputs(generator: nn.Module, labels: torch.Tensor,
                     given: Optional[Dict[str, torch.Tensor]] = None, seed: int = 0) -> dict:
    """The published generator's arguments for ``(N, H, W)`` ``labels``: the one-hot map and a
    photo; the photo's style codes are computed here with the published ``Zencoder``, once,
    before any timing (see the module docstring). ``given`` is not read."""
    semantics = one_hot(labels, generator.opt.semantic_nc)
    rng = torch.Generator().manual_seed(seed)
    photo = torch.rand(labels.shape[0], 3, *labels.shape[-2:], generator=rng) * 2 - 1
    generator.Zencoder.codes = generator.published_zencoder[0](input=photo, segmap=semantics)
    return dict(input=semantics, rgb_img=photo)
