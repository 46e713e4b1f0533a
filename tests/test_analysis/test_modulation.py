"""The Fig. 3 analysis: class-wise spread of SPADE's gamma and beta."""
import numpy as np
import pytest
import torch

from clade_mm.analysis.modulation import class_spread, spade_modulation
from clade_mm.models.editors.spade import SemanticGenerator


def test_class_spread_by_hand():
    labels = torch.tensor([[[0, 0, 1, 1]]])
    values = torch.tensor([[[[1.0, 3.0, 10.0, 10.0]]]])  # class 0: 1 and 3; class 1: 10
    within, across = class_spread(values, labels)
    assert within == pytest.approx(np.sqrt((1.0 * 2 + 0.0 * 2) / 4))  # var 1 over half
    assert across == pytest.approx(np.std([2.0, 10.0]))


def test_pointwise_spade_is_exactly_class_wise_and_3x3_is_not():
    torch.manual_seed(0)
    labels = torch.randint(0, 4, (2, 8, 8)).repeat_interleave(4, 1).repeat_interleave(4, 2)
    for kernel, exact in ((1, True), (3, False)):
        gen = SemanticGenerator(4, dict(type='SPADE', kernel_size=kernel, hidden_channels=8),
                                base_channels=4)
        stats = spade_modulation(gen, labels)['stats']
        assert len(stats) == 18 and stats[-1].height == 32
        high_res = [s for s in stats if s.height >= 16]
        if exact:  # a 1x1 modulation network sees one pixel: gamma depends on the class only
            assert all(s.gamma_within < 1e-6 and s.beta_within < 1e-6 for s in high_res)
        else:  # a 3x3 one varies near region boundaries
            assert all(s.gamma_within > 1e-6 for s in high_res)
        assert all(s.gamma_across > 0 for s in high_res)


def test_needs_spade_layers():
    with pytest.raises(ValueError, match='no SPADE layer'):
        spade_modulation(SemanticGenerator(4, dict(type='CLADE'), base_channels=4),
                         torch.zeros(1, 32, 32, dtype=torch.long))
