import pytest
import torch

from clade_mm.layers import LayoutError
from clade_mm.ops.positional_map import icpe_map
from clade_mm.models.editors.spade import SemanticGenerator
from tests.families import FAMILIES, declared_inputs


def make(norm, **kwargs):
    torch.manual_seed(0)
    gen = SemanticGenerator(6, dict(type=norm), base_channels=8, **kwargs)
    gen.init_weights()
    with torch.no_grad():  # as if trained: banks away from their initial values
        for module in gen.modules():
            if hasattr(module, 'class_affine'):
                module.class_affine.beta.normal_(0, 0.5)
    return gen.eval()


@pytest.mark.parametrize('norm', FAMILIES + ['BN', 'IN'])
def test_uniform_label_maps_wash_away_only_without_a_semantic_norm(norm):
    """Started from a code z, the generator sees the labels only through its norms: a plain
    BN/IN generator paints a flat sky and a flat grass map identically; SPADE/CLADE do not."""
    gen = make(norm, z_channels=16, out_size=(64, 64))  # eval: spectral norm stays put
    z = torch.randn(1, 16)
    with torch.no_grad():
        sky_map, grass_map = torch.full((1, 64, 64), 0), torch.full((1, 64, 64), 1)
        inputs = {**declared_inputs(gen, sky_map), 'z': z}
        sky, grass = gen(sky_map, **inputs), gen(grass_map, **inputs)
    difference = (sky - grass).abs().mean().item()
    if norm in ('BN', 'IN'):
        assert difference == 0
    else:
        assert difference > 1e-3


@pytest.mark.parametrize('norm', FAMILIES)
def test_flat_label_maps_give_class_dependent_images(norm):
    gen = make(norm)
    with torch.no_grad():
        sky_map, grass_map = torch.full((1, 64, 64), 0), torch.full((1, 64, 64), 1)
        inputs = declared_inputs(gen, sky_map)
        sky, grass = gen(sky_map, **inputs), gen(grass_map, **inputs)
    # in the middle of the image, away from the first conv's zero padding
    assert (sky - grass)[..., 16:48, 16:48].abs().mean() > 1e-3


@pytest.mark.parametrize('mode, size', [('normal', (32, 64)), ('more', (64, 128)),
                                        ('most', (128, 256))])
def test_upsampling_modes_and_aspect_ratios(mode, size):
    gen = make('CLADE', num_upsampling_layers=mode)
    labels = torch.randint(0, 6, (2, *size))
    out = gen(labels)
    assert out.shape == (2, 3, *size)
    assert out.abs().max() <= 1
    assert hasattr(gen, 'up_4') == (mode == 'most')


def test_sizes_that_do_not_divide_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r'48x40 does not divide by 2\*\*5 = 32'):
        make('CLADE')(torch.zeros(1, 48, 40, dtype=torch.long))


def test_label_ids_are_checked_before_any_work():
    with pytest.raises(LayoutError, match='label id 6 found, but num_classes=6'):
        make('CLADE')(torch.full((1, 32, 32), 6))


def test_instance_edges_change_the_image():
    # train mode (batch statistics) and no spectral norm: nothing else varies between calls
    gen = make('CLADE', with_instance_edge=True, spectral_norm=False).train()
    labels = torch.zeros(1, 32, 32, dtype=torch.long)
    one, two = labels.clone(), labels.clone()
    two[:, :, 16:] = 1  # same class, two instances: only the edge map differs

    def difference(edge_weight):
        with torch.no_grad():
            for module in gen.modules():
                if hasattr(module, 'edge_affine'):
                    module.edge_affine.weight.fill_(edge_weight)
                    module.edge_affine.bias.zero_()
            return (gen(labels, instances=one) - gen(labels, instances=two)).abs().max()

    assert difference(0.0) == 0
    assert difference(0.5) > 1e-4
    # CLADE hands C + 1 channels on: the following conv takes them.
    assert gen.head_0.conv_0.weight.shape[1] == gen.head_0.norm_0.num_features + 1


def test_a_given_icpe_map_gives_what_the_computed_one_does():
    gen = make('CLADE-ICPE')
    with torch.no_grad():
        for module in gen.modules():
            if hasattr(module, 'position_gamma'):
                module.position_gamma.weight.normal_(0, 1)
        labels = torch.randint(0, 6, (2, 1, 4, 4)).repeat_interleave(8, 2).repeat_interleave(
            8, 3)[:, 0]
        computed = gen(labels)
        assert torch.equal(gen(labels, position=icpe_map(labels)), computed)
        assert (gen(labels, position=torch.zeros(2, 2, 32, 32)) - computed).abs().max() > 1e-3


def test_style_codes_give_multimodal_outputs():
    gen = make('CLADE', z_channels=16, out_size=(32, 32),
               style_encoder=dict(type='StyleEncoder', base_channels=4, input_size=128))
    labels = torch.randint(0, 6, (1, 32, 32))
    torch.manual_seed(1)
    a = gen(labels)
    torch.manual_seed(2)
    b = gen(labels)
    assert (a - b).abs().mean() > 1e-4
    mu, logvar = gen.style_encoder(torch.rand(2, 3, 32, 32))
    assert mu.shape == logvar.shape == (2, 16)


def test_class_banks_keep_their_initialisation():
    gen = SemanticGenerator(6, dict(type='CLADE-ICPE'), base_channels=8)
    gen.init_weights()
    affine = gen.head_0.norm_0.class_affine
    assert 0.3 < affine.gamma.mean() < 0.7  # U(0, 1), not xavier(0.02)
    assert torch.count_nonzero(affine.beta) == 0
    assert torch.count_nonzero(affine.position_gamma.weight) == 0
    assert gen.fc.weight.std() < 0.01  # the convs did get xavier-normal(0.02)
