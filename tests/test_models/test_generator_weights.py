"""Weights load into a model strictly for the generator: a checkpoint that does not fit is an
error naming the first mismatch and its likely cause, before any tensor is copied."""
import pytest
import torch
from mmengine.runner import load_checkpoint

from clade_mm.models.generator_weights import GeneratorWeightsError, generator_state_dict
from mmagic.registry import MODELS

from .conftest import tiny_gan_cfg


def gan(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_gan_cfg(**kwargs))
    model.init_weights()
    return model


def saved(model, tmp_path, keep=lambda key: True, name='ckpt.pth'):
    state = {k: v for k, v in model.state_dict().items() if keep(k)}
    path = tmp_path / name
    torch.save(dict(meta={}, state_dict=state), path)
    return str(path)


@pytest.mark.parametrize('source, target, cause', [
    (dict(num_classes=6), dict(num_classes=8),
     r'class count: the checkpoint has 6 classes, the config 8: set '
     r'model.generator.num_classes=6'),
    (dict(norm='CLADE'), dict(norm='SPADE'),
     r"the checkpoint's norms are CLADE, the config's SPADE: set model.generator.norm_cfg="
     r"dict\(type='CLADE'\)"),
    (dict(norm='CLADE-ICPE'), dict(norm='CLADE'), r"the checkpoint's norms are CLADE-ICPE"),
    (dict(with_instance_edge=True), dict(with_instance_edge=False),
     r'the checkpoint is conditioned on instance edges: set '
     r'model.generator.with_instance_edge=True'),
    (dict(base=8), dict(base=16), r'base channels \(ngf\): checkpoint 8, config 16'),
])
def test_a_checkpoint_that_does_not_fit_names_the_first_mismatch_and_the_cause(
        tmp_path, source, target, cause):
    checkpoint = saved(gan(**source), tmp_path)
    model = gan(**target)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(GeneratorWeightsError, match=f'(?s)generator\\..*likely cause: {cause}'):
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing half-loaded


def test_a_missing_generator_key_is_named(tmp_path):
    model = gan()
    checkpoint = saved(model, tmp_path, keep=lambda k: k != 'generator.up_1.conv_0.bias')
    with pytest.raises(GeneratorWeightsError, match=r'generator.up_1.conv_0.bias of the '
                                                    r"config's generator is not in the checkpoint"):
        load_checkpoint(gan(), checkpoint, map_location='cpu', logger='silent')


def test_inference_checkpoints_need_no_discriminator_and_ema_is_filled(tmp_path):
    source = gan()
    with torch.no_grad():
        for p in source.generator.parameters():
            p.add_(0.01)
    checkpoint = saved(source, tmp_path, keep=lambda k: k.startswith('generator.'))
    target = gan(ema_config=dict(interval=1, momentum=0.999))
    load_checkpoint(target, checkpoint, map_location='cpu', logger='silent')
    for (name, a), b, c in zip(source.generator.state_dict().items(),
                               target.generator.state_dict().values(),
                               target.generator_ema.module.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, c), name


def test_ema_weights_of_another_shape_are_refused(tmp_path):
    ema6 = gan(num_classes=6, ema_config=dict(interval=1))
    state = gan(num_classes=8).state_dict()
    state.update({k: v for k, v in ema6.state_dict().items() if k.startswith('generator_ema.')})
    with pytest.raises(GeneratorWeightsError, match=r'(?s)generator_ema.module.*6 classes'):
        generator_state_dict(state, gan(num_classes=8).generator)


def test_the_ema_copy_is_preferred_for_inference(tmp_path):
    model = gan(ema_config=dict(interval=1))
    with torch.no_grad():
        for p in model.generator_ema.module.parameters():
            p.fill_(0.5)
    weights, is_ema = generator_state_dict(model.state_dict(), gan().generator)
    assert is_ema and all((v == 0.5).all() for k, v in weights.items() if 'gamma' in k)
    weights, is_ema = generator_state_dict(model.state_dict(), gan().generator, use_ema=False)
    assert not is_ema
