"""The house holds a new family: a toy norm family defined here, in the test file only, runs
through training, inference, export, complexity analysis and the painter with no edit to the
package. It is a class-wise affine plus a per-instance noise input: the two kinds of thing the
next families (INADE, SEAN, OASIS) add, a table gathered by class and conditioning that travels
in the layout by name."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS

from clade_mm.layers import INSTANCES, ConditionalNorm, LayoutInput, norm_families
from tests.paths import config_path

NOISE_CHANNELS = 4
NOISE_ROWS = 16  # instance k takes row k mod 16


def _draw_noise(layout, device):
    return torch.randn(layout.batch_size, NOISE_ROWS, NOISE_CHANNELS, device=device)


INSTANCE_NOISE = LayoutInput(
    'instance_noise', f'(N, {NOISE_ROWS}, {NOISE_CHANNELS}) float32: a noise row per instance',
    'drawn from N(0, 1) when not given', spatial=False, random=True, default=_draw_noise,
    sample=lambda labels, rng: torch.randn(labels.shape[0], NOISE_ROWS, NOISE_CHANNELS,
                                           generator=rng).to(labels.device))


class ToyNoiseNorm(ConditionalNorm):
    """``norm(x) * gamma[label] + beta[label] + fc(noise[instance])``."""

    def __init__(self, num_features, num_classes, param_free_norm='BN', eps=1e-5, momentum=0.1,
                 with_instance_edge=False):
        super().__init__(num_features, num_classes, param_free_norm, eps, momentum,
                         with_instance_edge)
        self.gamma = nn.Parameter(torch.ones(num_classes, num_features))
        self.beta = nn.Parameter(torch.randn(num_classes, num_features) * 0.3)
        self.fc_noise = nn.Linear(NOISE_CHANNELS, num_features)

    def layout_inputs(self):
        return super().layout_inputs() + (INSTANCES, INSTANCE_NOISE)

    def modulate(self, normalized, layout):
        size, device = normalized.shape[-2:], normalized.device
        labels = layout.labels_at(size, device)
        instances = layout.at(INSTANCES, size, device, self._owner()) % NOISE_ROWS
        noise = self.fc_noise(layout.get(INSTANCE_NOISE, device, self._owner()).to(
            normalized.dtype))  # (N, rows, C)
        n, c = noise.shape[0], noise.shape[2]
        per_pixel = torch.gather(noise, 1, instances.flatten(1)[..., None].expand(-1, -1, c))
        bias = per_pixel.transpose(1, 2).reshape(n, c, *size)
        gamma = F.embedding(labels, self.gamma).permute(0, 3, 1, 2).to(normalized.dtype)
        beta = F.embedding(labels, self.beta).permute(0, 3, 1, 2).to(normalized.dtype)
        return normalized * gamma + beta + bias


@pytest.fixture(scope='module')
def toy_family():
    MODELS.register_module(name='ToyNoise', module=ToyNoiseNorm, force=True)
    yield 'ToyNoise'
    MODELS.module_dict.pop('ToyNoise')


@pytest.fixture(scope='module')
def trained(toy_family, tmp_path_factory):
    """One training iteration of a small synthetic-scene generator with the toy norm, through
    tools/train.py's Runner, and the checkpoint it saved."""
    from mmengine.runner import Runner

    from clade_mm.datasets import write_synthetic_dataset
    root = tmp_path_factory.mktemp('toy')
    write_synthetic_dataset(str(root / 'data'), num_train=4, num_val=2)
    config = root / 'toy.py'
    instance_pipeline = lambda: [  # noqa: E731  (the synthetic pipeline with instance maps)
        dict(type='LoadSemanticSample', num_classes=6),
        dict(type='PackInputs', keys=['img', 'label', 'instance'])]
    config.write_text(
        f"_base_ = {config_path('clade_synthetic')!r}\n"
        "model = dict(generator=dict(base_channels=8, norm_cfg=dict(_delete_=True, "
        f"type={toy_family!r})), discriminator=dict(base_channels=8), perceptual_loss=None)\n"
        f"train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, "
        f"dataset=dict(data_root={str(root / 'data')!r}, data_prefix=dict(img='train/images', "
        f"label='train/labels', instance='train/instances'), pipeline={instance_pipeline()!r}))\n"
        f"test_dataloader = dict(dataset=dict(data_root={str(root / 'data')!r}, "
        f"data_prefix=dict(img='val/images', label='val/labels', instance='val/instances'), "
        f"pipeline={instance_pipeline()!r}))\n"
        "train_cfg = dict(max_iters=1)\n"
        "default_hooks = dict(checkpoint=dict(interval=1))\n"
        "custom_hooks = []\n")
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(root / 'work')
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    return str(config), osp.join(cfg.work_dir, 'iter_1.pth')


def test_the_toy_family_is_registered_and_listed(toy_family):
    assert norm_families()[toy_family] is ToyNoiseNorm
    layer = MODELS.build(dict(type=toy_family, num_features=8, num_classes=3))
    assert {spec.name for spec in layer.layout_inputs()} == {'instances', 'instance_noise'}


def test_synthesis_api_with_auto_precision(trained):
    from clade_mm.apis import SemanticSynthesizer
    config, checkpoint = trained
    synth = SemanticSynthesizer(config, checkpoint, precision='auto')
    labels = np.zeros((64, 64), np.uint8)
    labels[32:] = 1
    instances = (labels * 2).astype(np.uint8)
    with pytest.raises(ValueError, match=r'reads instances .*give the instance map'):
        synth.synthesize(labels)
    first, = synth.synthesize(labels, instances)
    second, = synth.synthesize(labels, instances)
    assert first.shape == (64, 64, 3)
    # The noise is drawn per call: a new draw, a new image.
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 0
    assert synth.inference.precision in ('float32', 'bfloat16')


def test_onnx_export_checked_with_onnxruntime(trained, tmp_path):
    from clade_mm.apis import SemanticSynthesizer
    from clade_mm.apis.onnx_export import export_generator, verify_onnx
    config, checkpoint = trained
    generator = SemanticSynthesizer(config, checkpoint, precision='float32').generator
    path = str(tmp_path / 'toy.onnx')
    names = export_generator(generator, path, (64, 64))
    assert names == ('labels', 'instances', 'instance_noise')
    assert max(verify_onnx(path, generator)) < 1e-4


def test_complexity_counts_the_toy_norms(toy_family):
    from mmagic.registry import MODELS as MMAGIC_MODELS
    from mmengine.registry import init_default_scope

    from clade_mm.analysis import measure_complexity
    init_default_scope('mmagic')
    generator = MMAGIC_MODELS.build(dict(type='SemanticGenerator', num_classes=6, base_channels=8,
                                         norm_cfg=dict(type=toy_family)))
    labels = torch.zeros(1, 64, 64, dtype=torch.long)
    complexity = measure_complexity(generator, labels, instances=labels)
    toy = [layer for layer in complexity.layers if layer.kind == 'ToyNoiseNorm']
    assert toy and all(layer.params == 2 * 6 * layer.in_channels + (NOISE_CHANNELS + 1) *
                       layer.in_channels for layer in toy)
    # Its MACs are those of the linear layer inside it (the default declaration).
    assert all(layer.macs > 0 for layer in toy)
    assert complexity.overhead()['params'] > 0


def test_a_painter_request(trained):
    from clade_mm.apps.paint import load_models
    from clade_mm.apps.paint.server import create_app
    from tests.test_apps.paint_helpers import decode_image, wire
    config, checkpoint = trained
    client = create_app(load_models([(config, checkpoint)])).test_client()
    labels = np.zeros((64, 64), np.uint8)
    labels[:, 32:] = 2
    response = client.post('/api/synthesize', json=dict(client='toy', seq=1, labels=wire(labels)))
    assert response.status_code == 200, response.get_json()
    assert decode_image(response.get_json()['image']).shape[:2] == (64, 64)


def test_no_package_file_names_the_toy():
    package = osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'clade_mm')
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith('.py'):
                with open(osp.join(folder, name)) as f:
                    assert 'ToyNoise' not in f.read(), osp.join(folder, name)
