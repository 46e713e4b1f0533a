"""The registered norm families, for tests that hold for every family: parametrise over
:data:`FAMILIES` (the registry), never over a hand list, and feed each its declared inputs."""
from typing import Dict

import torch
from torch import Tensor

from clade_mm.layers import norm_families
from clade_mm.layers.layout import sample_inputs

FAMILIES = sorted(norm_families())


def declared_inputs(module, labels: Tensor, seed: int = 0) -> Dict[str, Tensor]:
    """A value of every layout input ``module`` reads that it would not compute itself the
    same way each time (required inputs and random ones), sampled as each declaration says."""
    return sample_inputs(module, labels, torch.Generator().manual_seed(seed),
                         lambda spec: spec.default is None or spec.random)
