import pytest
import torch
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.registry import DefaultScope

import clade_mm  # noqa: F401  (registers the layers)
from clade_mm.layers import norm_families, semantic_layout
from tests.families import FAMILIES


@pytest.mark.parametrize('scope', [None, 'mmagic', 'mmseg', 'mmdet'])
@pytest.mark.parametrize('type_', FAMILIES)
def test_build_norm_layer_from_every_scope(scope, type_):
    cls = norm_families()[type_]
    abbr = getattr(cls, '_abbr_', None)
    # 'mmdet' is not installed here: mmengine then falls back to the root registry, which is
    # where an mmdet model would find these layers too.
    with DefaultScope.overwrite_default_scope(scope):
        name, layer = build_norm_layer(dict(type=type_, num_classes=151), 64, postfix=1)
    assert isinstance(layer, cls)
    assert abbr and name == f'{abbr}1'  # a family names its layers as mmcv's norms do
    assert layer.num_features == 64 and layer.num_classes == 151


def test_requires_grad_false_freezes_the_layer():
    _, layer = build_norm_layer(dict(type='CLADE', num_classes=3, requires_grad=False), 8)
    assert not any(p.requires_grad for p in layer.parameters())


@pytest.mark.parametrize('type_', ['CLADE', 'CLADE-ICPE'])
def test_class_parameters_survive_convmodule_init_weights(type_):
    conv = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type=type_, num_classes=5))
    bank = conv.norm.class_affine
    with torch.no_grad():
        bank.gamma.normal_()
        bank.beta.normal_()
    gamma, beta = bank.gamma.clone(), bank.beta.clone()
    conv.init_weights()
    assert torch.equal(bank.gamma, gamma) and torch.equal(bank.beta, beta)
    # ConvModule drops the conv bias before a norm, as with any norm layer.
    assert conv.conv.bias is None
    with semantic_layout(torch.randint(0, 5, (2, 6, 6))):
        assert conv(torch.randn(2, 3, 6, 6)).shape == (2, 8, 6, 6)


def test_gamma_initialisation_matches_the_paper():
    from clade_mm.layers.clade import CLADE
    layer = CLADE(64, 151)
    gamma, beta = layer.class_affine.gamma, layer.class_affine.beta
    assert gamma.shape == beta.shape == (151, 64)
    assert 0 <= gamma.min() and gamma.max() <= 1 and 0.4 < gamma.mean() < 0.6
    assert torch.count_nonzero(beta) == 0
