"""Inference precision and layout: chosen from the CPU, checked against float32, forced."""
import dataclasses

import numpy as np
import pytest
import torch

from clade_mm.apis import SemanticSynthesizer
from clade_mm.apis import precision as precision_module
from clade_mm.apis.precision import GeneratorInference, bfloat16_copy, mean_grey_levels
from clade_mm.ops.cpu import cpu_capability

from .test_synthesize import make_model


def capability(native_bfloat16, isa='AVX512'):
    flags = {'avx512f', 'avx512_bf16'} if native_bfloat16 else {'avx2'}
    return dataclasses.replace(cpu_capability(), isa=isa, flags=frozenset(flags))


def trained_like_generator(tmp_path):
    # Batch norm: the running statistics that inference folds into CLADE's kernel.
    synth = SemanticSynthesizer(*make_model(tmp_path, param_free_norm='BN'), precision='float32')
    labels = torch.zeros(1, 64, 64, dtype=torch.long)
    labels[:, 20:50, 10:40] = 3
    generator = synth.generator.train()
    with torch.no_grad():  # running statistics of these scenes, as training leaves them
        for module in generator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None
        for shift in range(4):
            generator(torch.cat([labels.roll(8 * shift, -1), (labels + 1) % 6]))
    return generator.eval(), labels


def test_the_cpu_report_names_its_bfloat16_support():
    assert 'native bfloat16: yes (avx512_bf16)' in str(capability(True))
    assert 'native bfloat16: no' in str(capability(False))
    assert str(cpu_capability())  # the real machine's, read from /proc/cpuinfo


def test_bfloat16_only_where_the_cpu_computes_it(tmp_path):
    generator, labels = trained_like_generator(tmp_path)
    emulated = GeneratorInference(generator, 'auto', capability(False))
    assert emulated.precision == 'float32' and emulated.bfloat16 is None
    assert emulated.channels_last
    assert not GeneratorInference(generator, 'auto', capability(False, 'DEFAULT')).channels_last
    native = GeneratorInference(generator, 'auto', capability(True))
    image = native(labels)
    with torch.no_grad():
        reference = generator(labels)
    assert native.precision == 'bfloat16'
    assert 0 < mean_grey_levels(image, reference) <= precision_module.MAX_MEAN_GREY_LEVELS
    forced = GeneratorInference(generator, 'float32', capability(True))
    assert forced.precision == 'float32'
    assert torch.equal(forced(labels), reference)


def test_instance_norm_clade_stays_float32_where_only_float32_fuses_it(tmp_path):
    synth = SemanticSynthesizer(*make_model(tmp_path), precision='float32')  # CLADE on IN
    runner = GeneratorInference(synth.generator, 'auto', capability(True))
    assert runner.precision == 'float32' and runner.bfloat16 is None


def test_auto_keeps_float32_when_bfloat16_is_not_exact_enough(tmp_path, monkeypatch):
    generator, labels = trained_like_generator(tmp_path)
    monkeypatch.setattr(precision_module, 'MAX_MEAN_GREY_LEVELS', 0.0)
    runner = GeneratorInference(generator, 'auto', capability(True))
    with torch.no_grad():
        reference = generator(labels)
    assert torch.equal(runner(labels), reference)
    assert runner.precision == 'float32' and runner.bfloat16 is None
    assert torch.equal(runner(labels), reference)


def test_the_bfloat16_copy_keeps_the_norms_in_float32(tmp_path):
    generator, _ = trained_like_generator(tmp_path)
    fast = bfloat16_copy(generator)
    dtypes = {name: p.dtype for name, p in fast.named_parameters()}
    assert dtypes['head_0.conv_0.weight_orig'] == torch.bfloat16
    assert dtypes['head_0.norm_0.class_affine.gamma'] == torch.float32
    assert generator.head_0.conv_0.weight_orig.dtype == torch.float32  # the original stays


def test_synthesizer_and_cli_take_the_precision(tmp_path):
    config, checkpoint = make_model(tmp_path)
    labels = np.zeros((64, 64), np.uint8)
    labels[10:40] = 2
    exact = SemanticSynthesizer(config, checkpoint, precision='float32')
    assert exact.inference.precision == 'float32'
    (a,) = exact(labels)
    (b,) = SemanticSynthesizer(config, checkpoint, precision='bfloat16')(labels)
    assert 0 < np.abs(a.astype(int) - b.astype(int)).mean() <= 2
    with pytest.raises(ValueError, match="precision='half'; choose one of auto, float32"):
        SemanticSynthesizer(config, checkpoint, precision='half')
