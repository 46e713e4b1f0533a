"""The fused CPU kernels against CLADE's eager formula, values and gradients."""
import pytest
import torch

from clade_mm.layers.clade import CLADE, CLADEICPE
from clade_mm.layers import semantic_layout
from clade_mm.ops import class_norm


def test_the_install_built_the_kernels():
    assert class_norm.fused_kernels_available(), \
        'clade_mm._ext is missing: reinstall with tools/setup_env.sh (needs torch at build time)'


def run(layer, x, labels, weights, fused):
    """Forward and backward through ``layer``, forcing or forbidding the fused path."""
    x = x.clone().requires_grad_()
    if fused:
        assert class_norm.supports(x, layer.class_affine.gamma, layer.param_free_norm)
    saved = class_norm._ext
    if not fused:
        class_norm._ext = None
    try:
        with semantic_layout(labels):
            out = layer(x)
    finally:
        class_norm._ext = saved
    (out * weights).sum().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters()]
    return out, grads


def twin_layers(param_free_norm, momentum=0.1, seed=0):
    torch.manual_seed(seed)
    a = CLADE(12, 6, param_free_norm=param_free_norm, momentum=momentum)
    with torch.no_grad():
        a.class_affine.gamma.normal_()
        a.class_affine.beta.normal_()
    b = CLADE(12, 6, param_free_norm=param_free_norm, momentum=momentum)
    b.load_state_dict(a.state_dict())
    return a, b


def blocky(n, h, w, classes, seed):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, classes, (n, h // 2, w // 3), generator=g)
    return coarse.repeat_interleave(2, 1).repeat_interleave(3, 2)


@pytest.mark.parametrize('param_free_norm, train, momentum', [
    ('BN', True, 0.1), ('BN', False, 0.1), ('BN', True, None), ('IN', True, 0.1),
    ('IN', False, 0.1)])
def test_fused_equals_eager(param_free_norm, train, momentum):
    fused, eager = twin_layers(param_free_norm, momentum)
    if param_free_norm == 'BN':  # running statistics away from their initial values
        for layer in (fused, eager):
            layer.param_free_norm.running_mean.fill_(0.3)
            layer.param_free_norm.running_var.fill_(2.0)
    fused.train(train), eager.train(train)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 12, 8, 9, generator=g) * 2 + 0.5
    labels = blocky(3, 8, 9, 6, seed=2)
    weights = torch.randn(3, 12, 8, 9, generator=g)
    for _ in range(2):  # twice: the running averages of step 1 feed step 2
        out_f, grads_f = run(fused, x, labels, weights, fused=True)
        out_e, grads_e = run(eager, x, labels, weights, fused=False)
        torch.testing.assert_close(out_f, out_e, atol=2e-5, rtol=1e-5)
        for gf, ge in zip(grads_f, grads_e):
            torch.testing.assert_close(gf, ge, atol=5e-5, rtol=1e-4)
        for layer in (fused, eager):
            layer.zero_grad()
    for key, value in eager.state_dict().items():
        torch.testing.assert_close(fused.state_dict()[key], value)


def test_fused_handles_non_contiguous_features_and_frozen_inputs():
    fused, eager = twin_layers('BN')
    x = torch.randn(2, 9, 8, 12).permute(0, 3, 1, 2)  # (2, 12, 9, 8), not contiguous
    labels = blocky(2, 18, 48, 6, seed=4)[:, :, :16]  # 18x16: the features' 9x8, twice
    with semantic_layout(labels):
        out = fused(x)  # x needs no gradient: only gamma and beta get one
    saved, class_norm._ext = class_norm._ext, None
    try:
        with semantic_layout(labels):
            expected = eager(x)
    finally:
        class_norm._ext = saved
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-5)
    out.sum().backward()
    assert fused.class_affine.gamma.grad is not None


def test_paths_outside_the_kernels_fall_back_to_eager():
    x = torch.randn(2, 4, 6, 6)
    gamma = torch.zeros(3, 4)
    assert class_norm.supports(x, gamma, torch.nn.BatchNorm2d(4, affine=False))
    assert not class_norm.supports(x.double(), gamma, torch.nn.BatchNorm2d(4, affine=False))
    assert not class_norm.supports(x, gamma, torch.nn.SyncBatchNorm(4, affine=False))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert not class_norm.supports(x, gamma, torch.nn.BatchNorm2d(4, affine=False))
    # float64 layers and CLADE-ICPE still compute (eagerly).
    layer = CLADE(4, 3).double()
    with semantic_layout(torch.randint(0, 3, (2, 6, 6))):
        assert layer(x.double()).dtype == torch.float64
        assert CLADEICPE(4, 3)(x).shape == x.shape


def test_a_syncbn_the_runner_reverted_keeps_the_fused_path(monkeypatch):
    """On one process mmengine turns SyncBN into its _BatchNormXd: still the fused kernels."""
    from mmengine.model import revert_sync_batchnorm
    fused, eager = (revert_sync_batchnorm(layer) for layer in twin_layers('SyncBN'))
    assert type(fused.param_free_norm).__name__ == '_BatchNormXd'
    calls = []
    kernel = class_norm.class_adaptive_norm
    monkeypatch.setattr(class_norm, 'class_adaptive_norm',
                        lambda *args: calls.append(1) or kernel(*args))
    x, labels = torch.randn(2, 12, 8, 12), blocky(2, 8, 12, 6, seed=1)
    weights = torch.randn(2, 12, 8, 12)
    out, grads = run(fused, x, labels, weights, fused=True)
    assert calls, 'the reverted SyncBN took the eager path'
    expected, expected_grads = run(eager, x, labels, weights, fused=False)
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-5)
    for a, b in zip(grads, expected_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def eval_twins(layer_type, with_instance_edge=False, seed=0):
    """Two identical eval-mode layers with running statistics and (ICPE) positional convs away
    from their initial values, so that every term of the inference formula matters."""
    torch.manual_seed(seed)
    a = layer_type(12, 6, with_instance_edge=with_instance_edge)
    with torch.no_grad():
        a.class_affine.gamma.normal_()
        a.class_affine.beta.normal_()
        a.param_free_norm.running_mean.normal_()
        a.param_free_norm.running_var.uniform_(0.5, 2.0)
        for conv in (getattr(a.class_affine, 'position_gamma', None),
                     getattr(a.class_affine, 'position_beta', None)):
            if conv is not None:
                conv.weight.normal_(0, 0.5)
                conv.bias.normal_(0, 0.2)
    b = layer_type(12, 6, with_instance_edge=with_instance_edge)
    b.load_state_dict(a.state_dict())
    return a.eval(), b.eval()


@pytest.mark.parametrize('layer_type', [CLADE, CLADEICPE])
@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('with_instance_edge', [False, True])
def test_inference_path_equals_eager(layer_type, channels_last, with_instance_edge, monkeypatch):
    fused, eager = eval_twins(layer_type, with_instance_edge)
    x = torch.randn(2, 12, 8, 9) * 2 + 0.5
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    labels, instances = blocky(2, 16, 18, 6, seed=3), blocky(2, 16, 18, 40, seed=4)
    calls = []
    kernel = class_norm.class_affine_eval
    monkeypatch.setattr(class_norm, 'class_affine_eval',
                        lambda *args: calls.append(1) or kernel(*args))
    with torch.no_grad(), semantic_layout(labels, instances=instances):
        out = fused(x)
        assert calls, 'inference took the eager path'
        saved, class_norm._ext = class_norm._ext, None
        try:
            expected = eager(x)
        finally:
            class_norm._ext = saved
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-5)
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last
    # bfloat16 features (as in apis/precision.py's bfloat16 copy, whose edge conv is bfloat16
    # too): the same formula in float32, rounded once when stored.
    if with_instance_edge:
        fused.edge_affine.bfloat16()
    with torch.no_grad(), semantic_layout(labels, instances=instances):
        out_bf16 = fused(x.bfloat16())
        expected_bf16 = eager(x.bfloat16().float())
    assert out_bf16.dtype == torch.bfloat16
    torch.testing.assert_close(out_bf16[:, :12].float(), expected_bf16[:, :12], atol=1e-5,
                               rtol=2 ** -8)


def test_inference_path_only_without_gradients_and_with_running_statistics():
    x = torch.randn(2, 4, 6, 6)
    norm = torch.nn.BatchNorm2d(4, affine=False).eval()
    with torch.no_grad():
        assert class_norm.supports_eval(x, norm)
        assert class_norm.supports_eval(x.bfloat16(), norm)
        assert not class_norm.supports_eval(x, norm.train())
        assert not class_norm.supports_eval(x, torch.nn.InstanceNorm2d(4).eval())
        assert not class_norm.supports_eval(x.permute(0, 1, 3, 2), norm.eval())
    assert not class_norm.supports_eval(x, norm)  # gradients are recorded


def test_inference_tables_follow_the_weights_unless_frozen():
    layer, twin = eval_twins(CLADE)
    x, labels = torch.randn(2, 12, 8, 9), blocky(2, 8, 9, 6, seed=5)
    with torch.no_grad(), semantic_layout(labels):
        before = layer(x)
        layer.class_affine.gamma.data.mul_(2)  # as an EMA update edits its copy
        twin.class_affine.gamma.data.mul_(2)
        changed = layer(x)
        assert not torch.allclose(changed, before)
        layer.inference_frozen = True
        torch.testing.assert_close(layer(x), changed)
        twin.class_affine.gamma.mul_(0.5)
        layer.load_state_dict(twin.state_dict())  # a checkpoint: the tables follow
        torch.testing.assert_close(layer(x), before)
