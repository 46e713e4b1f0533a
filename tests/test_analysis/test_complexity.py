"""Table 3 and Fig. 5 of the paper, from our generators."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from clade_mm.analysis import measure_complexity
from tests.paths import config_path

# (config, SPADE/CLADE params in M, GMACs) of the published generators (no instance edges).
TABLE3 = [
    ('ade20k', 96.5, 71.4, 181.3, 42.2),
    ('coco_stuff', 97.5, 72.4, 191.0, 42.2),
    ('cityscapes', 93.0, 67.8, 280.7, 75.2),
]


def complexity_of(config):
    cfg = Config.fromfile(config_path(config))
    init_default_scope('mmagic')
    from mmagic.registry import MODELS
    gen_cfg = cfg.model.generator
    gen_cfg.with_instance_edge = False  # as the paper counts
    generator = MODELS.build(gen_cfg)
    labels = torch.zeros(1, *cfg.image_size, dtype=torch.long)
    return measure_complexity(generator, labels)


@pytest.mark.parametrize('dataset, spade_params, clade_params, spade_macs, clade_macs', TABLE3)
def test_parameters_and_macs_of_the_dataset_configs(dataset, spade_params, clade_params,
                                                    spade_macs, clade_macs):
    spade, clade = complexity_of(f'spade_{dataset}'), complexity_of(f'clade_{dataset}')
    assert round(spade.params / 1e6, 1) == spade_params
    assert round(clade.params / 1e6, 1) == clade_params
    assert spade.macs / 1e9 == pytest.approx(spade_macs, rel=0.005)
    assert clade.macs / 1e9 == pytest.approx(clade_macs, rel=0.005)


def test_norm_parameters_and_the_papers_overhead_percentages():
    spade, clade = complexity_of('spade_ade20k'), complexity_of('clade_ade20k')
    assert spade.norm_params / 1e6 == pytest.approx(28.4, abs=0.05)
    assert clade.norm_params == 151 * 21888  # the paper: 151 x 21,888
    paper_spade, paper_clade = spade.overhead('paper'), clade.overhead('paper')
    assert paper_spade['params'] == pytest.approx(39.21, abs=0.1)
    assert paper_spade['macs'] == pytest.approx(234.73, abs=0.1)
    assert paper_clade['params'] == pytest.approx(4.57, abs=0.1)
    assert paper_clade['macs'] == pytest.approx(0.07, abs=0.1)
    # measured on the real modules (1x1 shortcut, biases) the overheads are larger
    assert spade.overhead('measured')['params'] > paper_spade['params']
    # per layer, CLADE's bank is 2 * N_c * C parameters
    for o in clade.overheads:
        assert o.norm.params == 2 * 151 * o.norm.in_channels
