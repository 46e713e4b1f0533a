"""Mixed precision: bf16 autocast on the CPU through the optim wrapper config switch."""
import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import clade_mm.engine  # noqa: F401  (registers MixedPrecisionOptimWrapper)
from clade_mm.engine import MixedPrecisionOptimWrapper
from mmagic.registry import MODELS
from tests.test_models.conftest import tiny_gan_cfg
from tests.test_models.test_semantic_gan import scenes, set_iter


def mixed_precision_wrappers(model):
    """What ``tools/train.py --amp`` makes of the shipped optimizer config."""
    adam = dict(type='Adam', lr=2e-4, betas=(0.0, 0.9))
    return build_optim_wrapper(model, dict(
        constructor='MultiOptimWrapperConstructor',
        generator=dict(type='MixedPrecisionOptimWrapper', optimizer=adam),
        discriminator=dict(type='MixedPrecisionOptimWrapper', optimizer=dict(adam, lr=8e-4))))


def test_cpu_training_steps_run_in_bfloat16_and_stay_finite():
    init_default_scope('mmagic')
    torch.manual_seed(0)
    model = MODELS.build(tiny_gan_cfg())
    model.init_weights()
    wrappers = mixed_precision_wrappers(model)
    assert all(isinstance(w, MixedPrecisionOptimWrapper) for w in wrappers.values())

    seen = {}

    def record(name):
        return lambda module, inputs, output: seen.setdefault(name, set()).add(output.dtype)

    model.generator.head_0.conv_0.register_forward_hook(record('generator'))
    model.discriminator.scales[0].layers[1].register_forward_hook(record('discriminator'))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for step in range(3):
        set_iter(step)
        log = model.train_step(scenes(2, 64, seed=step), wrappers)
        assert all(np.isfinite(float(v)) for v in log.values()), log
    # The convolutions ran in bf16; the weights (and Adam's state) stay float32 and moved.
    assert seen == {'generator': {torch.bfloat16}, 'discriminator': {torch.bfloat16}}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    moved = [n for n, p in model.named_parameters()
             if 'class_affine' in n and not torch.equal(before[n], p)]
    assert moved
    # Checkpoints of the wrappers round-trip (no loss scaler is needed in bf16).
    state = wrappers['generator'].state_dict()
    mixed_precision_wrappers(model)['generator'].load_state_dict(state)


def test_oasis_training_steps_run_in_bfloat16_and_stay_finite():
    """The N+1 loss, LabelMix and the U-Net discriminator of the shipped synthetic OASIS config
    under the same switch."""
    from tests.test_models.test_oasis_gan import synthetic_oasis_cfg
    init_default_scope('mmagic')
    torch.manual_seed(0)
    model = MODELS.build(synthetic_oasis_cfg())
    model.init_weights()
    wrappers = mixed_precision_wrappers(model)
    seen = set()
    model.discriminator.body_down[1].conv1[1].register_forward_hook(
        lambda module, inputs, output: seen.add(output.dtype))
    before = {n: p.detach().clone() for n, p in model.discriminator.named_parameters()}
    for step in range(2):
        set_iter(step)
        log = model.train_step(scenes(2, 64, seed=step), wrappers)
        assert 'loss_disc_labelmix' in log
        assert all(np.isfinite(float(v)) for v in log.values()), log
    assert seen == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(not torch.equal(before[n], p) for n, p in model.discriminator.named_parameters())


def test_float16_on_the_cpu_is_refused_with_the_fix():
    with pytest.raises(ValueError, match='bfloat16'):
        MixedPrecisionOptimWrapper(optimizer=torch.optim.SGD([torch.zeros(1)], lr=1),
                                   dtype='float16')
