import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.families import FAMILIES, declared_inputs
from clade_mm.layers.clade import CLADE, CLADEICPE
from clade_mm.layers.spade import SPADE
from clade_mm.layers import LayoutError, semantic_layout
from clade_mm.ops.positional_map import icpe_map
from clade_mm.layers.label_map import instance_edges

NUM_CLASSES = 5


def batch_norm_by_hand(x, eps=1e-5):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def nearest_by_hand(maps, size):
    """Nearest resize by index arithmetic (floor(i * in / out)), independent of F.interpolate."""
    h, w = maps.shape[-2:]
    rows = (torch.arange(size[0]) * h // size[0])
    cols = (torch.arange(size[1]) * w // size[1])
    return maps[..., rows[:, None], cols[None, :]]


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, NUM_CLASSES, (2, 4, 6), generator=g)
    labels = labels.repeat_interleave(4, 1).repeat_interleave(4, 2)  # (2, 16, 24)
    x = torch.randn(2, 8, 8, 12, generator=g)  # features at half the label resolution
    return labels, x


def randomise(module):
    with torch.no_grad():
        for p in module.parameters():
            p.normal_()
    return module


def test_spade_formula(data):
    labels, x = data
    norm = randomise(SPADE(8, NUM_CLASSES, hidden_channels=16))
    with semantic_layout(labels):
        out = norm(x)
    segmap = nearest_by_hand(F.one_hot(labels, NUM_CLASSES).permute(0, 3, 1, 2).float(), (8, 12))
    shared = F.relu(F.conv2d(segmap, norm.mlp_shared[0].weight, norm.mlp_shared[0].bias,
                             padding=1))
    gamma = F.conv2d(shared, norm.mlp_gamma.weight, norm.mlp_gamma.bias, padding=1)
    beta = F.conv2d(shared, norm.mlp_beta.weight, norm.mlp_beta.bias, padding=1)
    expected = batch_norm_by_hand(x) * (1 + gamma) + beta
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_clade_formula(data):
    labels, x = data
    norm = randomise(CLADE(8, NUM_CLASSES))
    with semantic_layout(labels):
        out = norm(x)
    small = nearest_by_hand(labels, (8, 12))
    gamma = norm.class_affine.gamma[small].permute(0, 3, 1, 2)  # plain indexing, (N, C, h, w)
    beta = norm.class_affine.beta[small].permute(0, 3, 1, 2)
    expected = batch_norm_by_hand(x) * gamma + beta
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_clade_icpe_formula(data):
    labels, x = data
    norm = randomise(CLADEICPE(8, NUM_CLASSES))
    with semantic_layout(labels):
        out = norm(x)
    small = nearest_by_hand(labels, (8, 12))
    dist = nearest_by_hand(icpe_map(labels), (8, 12))
    affine = norm.class_affine

    def position_scale(conv):
        w, b = conv.weight.view(2), conv.bias.view(1)
        return 1 + (w[0] * dist[:, 0] + w[1] * dist[:, 1] + b)[:, None]

    gamma = affine.gamma[small].permute(0, 3, 1, 2) * position_scale(affine.position_gamma)
    beta = affine.beta[small].permute(0, 3, 1, 2) * position_scale(affine.position_beta)
    expected = batch_norm_by_hand(x) * gamma + beta
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in norm.parameters()) - \
        sum(p.numel() for p in CLADE(8, NUM_CLASSES).parameters()) == 6


def test_clade_icpe_starts_as_clade(data):
    labels, x = data
    clade, icpe = CLADE(8, NUM_CLASSES), CLADEICPE(8, NUM_CLASSES)
    icpe.class_affine.gamma.data.copy_(clade.class_affine.gamma.data)
    with semantic_layout(labels):
        torch.testing.assert_close(icpe(x), clade(x))


def test_clade_with_instance_edges_concatenates_modulated_edges(data):
    labels, x = data
    instances = labels * 10 + (torch.arange(24) >= 12)  # split every region in two instances
    norm = randomise(CLADE(8, NUM_CLASSES, with_instance_edge=True))
    assert norm.out_channels == 9
    with semantic_layout(labels, instances=instances):
        out = norm(x)
    with semantic_layout(labels):
        plain = CLADE(8, NUM_CLASSES)
        plain.class_affine.load_state_dict(norm.class_affine.state_dict())
        torch.testing.assert_close(out[:, :8], plain(x))
    edges = nearest_by_hand(instance_edges(instances), (8, 12))
    expected = edges * norm.edge_affine.weight.view(()) + norm.edge_affine.bias.view(())
    torch.testing.assert_close(out[:, 8:], expected)


def test_spade_with_instance_edges_takes_edge_channel(data):
    labels, x = data
    instances = labels * 10 + (torch.arange(24) >= 12)
    norm = randomise(SPADE(8, NUM_CLASSES, with_instance_edge=True, hidden_channels=4))
    assert norm.mlp_shared[0].in_channels == NUM_CLASSES + 1
    with semantic_layout(labels, instances=instances):
        with_edges = norm(x)
    # The edge channel must matter: zeroing its weights changes the output.
    with torch.no_grad():
        norm.mlp_shared[0].weight[:, NUM_CLASSES].zero_()
    with semantic_layout(labels, instances=instances):
        assert not torch.allclose(with_edges, norm(x))
    with pytest.raises(LayoutError, match='no instance map: give the instance map'):
        with semantic_layout(labels):
            norm(x)


def test_clade_with_shared_class_parameters_is_affine_batchnorm(data):
    labels, x = data
    bn = randomise(nn.BatchNorm2d(8))
    norm = CLADE(8, NUM_CLASSES)
    with torch.no_grad():
        norm.class_affine.gamma.copy_(bn.weight.expand(NUM_CLASSES, 8))
        norm.class_affine.beta.copy_(bn.bias.expand(NUM_CLASSES, 8))
    with semantic_layout(labels):
        torch.testing.assert_close(norm(x), bn(x), atol=1e-5, rtol=1e-5)
    norm.eval(), bn.eval()
    with semantic_layout(labels):
        torch.testing.assert_close(norm(x), bn(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('norm_type', FAMILIES + ['BN'])
def test_uniform_label_maps_are_not_washed_away(norm_type):
    """The paper's case: conv(one-hot of a flat map) then a norm.

    A flat map makes the conv output constant per channel, which any normalization turns into
    zero; only a norm that puts the class back can tell class 1 from class 3.
    """
    torch.manual_seed(0)
    conv = nn.Conv2d(NUM_CLASSES, 8, 3, padding=1, padding_mode='replicate')
    if norm_type == 'BN':
        norm = randomise(nn.BatchNorm2d(8))
    else:
        from mmengine.registry import MODELS
        norm = randomise(MODELS.build(dict(type=norm_type, num_features=8,
                                           num_classes=NUM_CLASSES)))

    def run(cls):
        labels = torch.full((1, 8, 8), cls)
        one_hot = F.one_hot(labels, NUM_CLASSES).permute(0, 3, 1, 2).float()
        inputs = {} if norm_type == 'BN' else declared_inputs(norm, labels)
        with semantic_layout(labels, **inputs):
            return norm(conv(one_hot))

    a, b = run(1), run(3)
    if norm_type == 'BN':
        # Equal up to the rounding of a constant's mean, amplified by 1 / sqrt(eps).
        torch.testing.assert_close(a, b, atol=1e-3, rtol=0)
    else:
        assert (a - b).abs().mean() > 0.1


def test_explicit_layout_wins_over_the_context(data):
    labels, x = data
    norm = randomise(CLADE(8, NUM_CLASSES))
    other = (labels + 1) % NUM_CLASSES
    with semantic_layout(other):
        explicit = norm(x, layout=labels)
    with semantic_layout(labels):
        torch.testing.assert_close(explicit, norm(x))


@pytest.mark.parametrize('labels, message', [
    (torch.full((2, 16, 24), NUM_CLASSES), r'label id 5 found, but num_classes=5 \(ids 0..4\)'),
    (torch.full((2, 16, 24), -1), 'label id -1 found'),
    (torch.zeros(3, 16, 24, dtype=torch.long), 'batch size 2 but the label map has 3'),
    (torch.zeros(2, 16, 24), 'class ids must be integers'),
    (torch.zeros(2, 3, 16, 24, dtype=torch.long), 'RGB colour mask'),
])
def test_bad_layouts_raise_named_errors(data, labels, message):
    _, x = data
    for norm in (SPADE(8, NUM_CLASSES), CLADE(8, NUM_CLASSES), CLADEICPE(8, NUM_CLASSES)):
        with pytest.raises(LayoutError, match=message):
            norm(x, layout=labels)


def test_no_layout_is_a_clear_error(data):
    _, x = data
    with pytest.raises(LayoutError, match='semantic_layout'):
        CLADE(8, NUM_CLASSES)(x)


def test_param_free_norm_choices(data):
    labels, x = data
    norm = CLADE(8, NUM_CLASSES, param_free_norm='IN')
    assert isinstance(norm.param_free_norm, nn.InstanceNorm2d)
    with torch.no_grad():
        norm.class_affine.gamma.fill_(1)
    with semantic_layout(labels):
        out = norm(x)
    torch.testing.assert_close(out.mean(dim=(2, 3)), torch.zeros(2, 8), atol=1e-5, rtol=0)
    assert isinstance(CLADE(8, 3, param_free_norm='SyncBN').param_free_norm, nn.SyncBatchNorm)
    with pytest.raises(ValueError, match="param_free_norm='GN'"):
        CLADE(8, 3, param_free_norm='GN')
