"""ONNX export of the generator, checked with onnxruntime against PyTorch on small models."""
import os
import re
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from clade_mm.apis import SemanticSynthesizer
from clade_mm.apis.onnx_export import (export_generator, graph_input_names, random_inputs,
                                       verify_onnx)
from clade_mm.layers.clade import CLADE, ClassAffine
from clade_mm.models.editors.spade import SemanticGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = (64, 64)
NUM_CLASSES = 6  # configs/clade/clade_synthetic.py
TOLERANCE = 1e-4


def as_if_trained(generator, seed=0):
    """Weights whose images spread over [-1, 1] without saturating tanh, where any difference
    between ONNX and PyTorch would hide: class banks, ICPE convs and edge modulation away from
    their initial values, batch-norm statistics of a few batches, the last conv scaled to a
    spread of 0.5."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, CLADE) and module.with_instance_edge:
                module.edge_affine.weight.normal_(0, 1)
            if isinstance(module, ClassAffine):
                module.beta.normal_(0, 0.3)
                if module.with_position:
                    for conv in (module.position_gamma, module.position_beta):
                        conv.weight.normal_(0, 0.5)
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # running statistics: the plain mean over the batches
        rng = torch.Generator().manual_seed(seed)
        generator.train()
        for _ in range(2):
            generator(**random_inputs(generator, SIZE, 2, rng))
        generator.eval()
        pre_tanh = []
        hook = generator.conv_img.register_forward_hook(lambda m, i, out: pre_tanh.append(out))
        generator(**random_inputs(generator, SIZE, 2, rng))
        hook.remove()
        scale = 0.5 / pre_tanh[0].std()
        generator.conv_img.weight.mul_(scale)
        generator.conv_img.bias.mul_(scale)
    images = torch.tanh(pre_tanh[0] * scale)  # what the scaled conv now gives
    assert images.std() > 0.3 and (images.abs() > 0.99).float().mean() < 0.01
    return generator


def write_config(tmp_path):
    """configs/clade/clade_synthetic.py (BN, 6 classes, 64x64) with ngf 8."""
    config = tmp_path / 'clade.py'
    config.write_text(f"_base_ = {os.path.join(ROOT, 'configs/clade/clade_synthetic.py')!r}\n"
                      "model = dict(generator=dict(base_channels=8), "
                      "discriminator=dict(base_channels=8))\n")
    return str(config)


def save_checkpoint(tmp_path):
    """The model of :func:`write_config`, as if trained, saved as a checkpoint."""
    config = write_config(tmp_path)
    init_default_scope('mmagic')
    import clade_mm.models  # noqa: F401
    from mmagic.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    as_if_trained(model.generator)
    checkpoint = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return config, str(checkpoint)


def io_signature(path):
    """``{name: (element type, dims)}`` of the inputs and outputs of an ONNX file."""
    graph = onnx.load(path).graph
    return {v.name: (onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type),
                     [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in list(graph.input) + list(graph.output)}


def test_cli_exports_clade_that_onnxruntime_runs_like_pytorch(tmp_path):
    config, checkpoint = save_checkpoint(tmp_path)
    out = str(tmp_path / 'clade.onnx')
    run = subprocess.run([sys.executable, 'tools/export_onnx.py', config, checkpoint, out,
                          '--num-checks', '2'], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    difference = float(re.search(r'max abs difference (\S+)', run.stdout).group(1))
    assert difference < TOLERANCE
    assert io_signature(out) == {'labels': ('INT64', ['batch', 64, 64]),
                                 'image': ('FLOAT', ['batch', 3, 64, 64])}

    # Standard ops only, and CLADE's guided sampling is a Gather on each class bank, (C, N_c).
    model = onnx.load(out)
    assert {node.domain for node in model.graph.node} == {''} and not model.functions
    banks = {i.name for i in model.graph.initializer
             if len(i.dims) == 2 and i.dims[1] == NUM_CLASSES}
    bank_gathers = [n for n in model.graph.node if n.op_type == 'Gather' and n.input[0] in banks]
    synth = SemanticSynthesizer(config, checkpoint)
    num_clade_norms = sum(isinstance(m, ClassAffine) for m in synth.generator.modules())
    assert len(bank_gathers) == 2 * num_clade_norms  # gamma and beta of every norm

    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    sky, grass = (session.run(None, {'labels': np.full((1, *SIZE), k, np.int64)})[0]
                  for k in (0, 1))
    assert np.abs(sky - grass).mean() > 0.05  # the classes reach the image
    for bad_id in (NUM_CLASSES, -1):  # -1 would be the last class to a plain ONNX Gather
        labels = np.zeros((1, *SIZE), np.int64)
        labels[0, 5, 7] = bad_id
        with pytest.raises(Exception, match='out of data bounds'):
            session.run(None, {'labels': labels})

    # The check can fail: a generator that differs a little from the file is caught.
    with torch.no_grad():
        synth.generator.up_3.norm_1.class_affine.gamma[2] += 0.05
    assert max(verify_onnx(out, synth.generator, num_checks=2)) > TOLERANCE


def test_clade_icpe_with_edges_and_a_code_takes_them_as_inputs(tmp_path):
    generator = SemanticGenerator(5, dict(type='CLADE-ICPE'), base_channels=8,
                                  with_instance_edge=True, z_channels=8, out_size=SIZE)
    generator.init_weights()
    as_if_trained(generator)
    path = str(tmp_path / 'generator.onnx')
    names = export_generator(generator, path, SIZE, batch_size=1)
    assert names == graph_input_names(generator) == ('labels', 'instances', 'z', 'position')
    assert io_signature(path) == {'labels': ('INT64', [1, 64, 64]),
                                  'instances': ('INT64', [1, 64, 64]),
                                  'z': ('FLOAT', [1, 8]),
                                  'position': ('FLOAT', [1, 2, 64, 64]),
                                  'image': ('FLOAT', [1, 3, 64, 64])}
    # PyTorch computes the ICPE map itself, onnxruntime is given clade_mm.layers.icpe_map's.
    assert max(verify_onnx(path, generator, num_checks=2)) < TOLERANCE

    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    feeds = {name: tensor.numpy() for name, tensor in random_inputs(
        generator, SIZE, 1, torch.Generator().manual_seed(7)).items()}
    (image, ) = session.run(None, feeds)
    # Every input reaches the image.
    changed = dict(instances=np.zeros_like(feeds['instances']), z=feeds['z'] + 1,
                   position=np.zeros_like(feeds['position']))
    for name, value in changed.items():
        (other, ) = session.run(None, {**feeds, name: value})
        assert np.abs(image - other).mean() > 1e-3, name


def test_bad_requests_are_named(tmp_path):
    config = write_config(tmp_path)
    with pytest.raises(FileNotFoundError, match='missing.pth not found: pass a file that '
                                                'training wrote'):
        SemanticSynthesizer(config, str(tmp_path / 'missing.pth'))
    generator = SemanticGenerator(NUM_CLASSES, base_channels=8)
    with pytest.raises(ValueError, match=r'64x48 does not divide by 2\*\*5 = 32'):
        export_generator(generator, str(tmp_path / 'never.onnx'), (64, 48))
    assert not (tmp_path / 'never.onnx').exists()
    # A batch of 0 used to log "batch dynamic" and write a fixed batch of 2.
    with pytest.raises(ValueError, match='batch_size=0: a fixed batch size >= 1, or None'):
        export_generator(generator, str(tmp_path / 'never.onnx'), SIZE, batch_size=0)
    for batch, message in (('0', 'argument --batch: 0 is less than 1'),
                           ('-1', 'argument --batch: -1 is less than 1'),
                           ('two', "argument --batch: 'two' is not an integer")):
        run = subprocess.run([sys.executable, 'tools/export_onnx.py', config, 'none.pth',
                              str(tmp_path / 'never.onnx'), '--batch', batch],
                             capture_output=True, text=True, cwd=ROOT)
        assert run.returncode == 2 and message in run.stderr, run.stderr[-500:]
    assert not (tmp_path / 'never.onnx').exists()
