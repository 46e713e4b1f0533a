"""The layers inside unmodified OpenMMLab models, conditioned through semantic_layout."""
import copy

import pytest
import torch

import clade_mm
from clade_mm.layers.clade import CLADE
from clade_mm.layers import ConditionalNorm, semantic_layout

NUM_CLASSES = 4


def labels_pair(size, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, NUM_CLASSES, (2, size // 8, size // 8), generator=g)
    a = a.repeat_interleave(8, 1).repeat_interleave(8, 2)
    return a, (a + 1) % NUM_CLASSES


def randomise_banks(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, CLADE):
                m.class_affine.gamma.normal_(1, 0.5)
                m.class_affine.beta.normal_(0, 0.5)
    return model


def norms_of(model):
    return [m for m in model.modules() if isinstance(m, ConditionalNorm)]


def resnet(with_cp=False):
    from mmseg.models.backbones import ResNetV1c
    torch.manual_seed(0)
    model = ResNetV1c(depth=18, stem_channels=16, base_channels=8, with_cp=with_cp,
                      norm_cfg=dict(type='CLADE', num_classes=NUM_CLASSES))
    model.init_weights()
    return randomise_banks(model)


def test_mmseg_resnet_is_conditioned_on_the_layout():
    model = resnet()
    assert len(norms_of(model)) > 10
    x = torch.randn(2, 3, 32, 32)
    labels, other = labels_pair(32)
    with semantic_layout(labels):
        out = model(x)
    with semantic_layout(other):
        out_other = model(x)
    assert len(out) == 4
    assert (out[-1] - out_other[-1]).abs().mean() > 1e-3
    out[-1].square().mean().backward()
    for norm in norms_of(model):
        assert norm.class_affine.gamma.grad is not None
        assert norm.class_affine.gamma.grad.abs().sum() > 0


def test_gradient_checkpointing_recomputes_inside_the_layout():
    plain, checkpointed = resnet(with_cp=False), resnet(with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    labels, _ = labels_pair(32)
    grads = []
    for model in (plain, checkpointed):
        xg = x.clone().requires_grad_()
        with semantic_layout(labels):
            out = model(xg)[-1]
        # backward after the block has exited: recomputation must still see the labels
        out.square().mean().backward()
        grads.append([p.grad.clone() for p in model.parameters()] + [xg.grad])
    for g_plain, g_cp in zip(*grads):
        torch.testing.assert_close(g_cp, g_plain, atol=1e-5, rtol=1e-4)


def test_mmagic_generator_with_clade():
    from mmagic.models.editors.cyclegan import ResnetGenerator
    torch.manual_seed(0)
    gen = ResnetGenerator(3, 3, base_channels=8, num_blocks=2,
                          norm_cfg=dict(type='CLADE', num_classes=NUM_CLASSES),
                          init_cfg=dict(type='normal', gain=0.02))
    gen.init_weights()
    norms = norms_of(gen)
    assert len(norms) >= 5
    randomise_banks(gen)
    x = torch.randn(2, 3, 32, 32)
    labels, other = labels_pair(32, seed=1)
    with semantic_layout(labels):
        out = gen(x)
    with semantic_layout(other):
        out_other = gen(x)
    assert (out - out_other).abs().mean() > 1e-3
    out.mean().backward()
    assert all(n.class_affine.gamma.grad.abs().sum() > 0 for n in norms)


def test_layout_missing_in_a_model_names_the_fix():
    model = resnet()
    with pytest.raises(clade_mm.LayoutError, match='semantic_layout'):
        model(torch.randn(1, 3, 32, 32))
