"""The fixes of upstream libraries in clade_mm.compat: each one works, each one is still needed
(its kept upstream original still fails where the fix exists for), and each one is skipped
outside the versions it is declared for.

Runner checkpoints of models holding conditional norms load (``load_from``) and resume
(``resume``) with ``weights_only=True`` (fix 1). clade-mm's own checkpoint features (verified
loading, atomic writes, the resume choice) are tested in
tests/test_engine/test_checkpoint_integrity.py.
"""
import logging
import pickle
import re
import subprocess
import sys
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel, BaseModule
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

import mmagic.engine.runner.multi_loops  # noqa: F401  (fix 8 is applied as it is imported)
import mmagic.models  # noqa: F401  (fixes 6 and 7 are applied as it is imported)
from clade_mm import compat, semantic_layout

NUM_CLASSES = 4


class TinySynthesis(BaseModel):
    """Label-conditioned conv net, enough to exercise every norm's parameters."""

    def __init__(self):
        super().__init__()
        self.clade = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type='CLADE',
                                                                 num_classes=NUM_CLASSES))
        self.icpe = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='CLADE-ICPE',
                                                                num_classes=NUM_CLASSES))
        self.spade = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='SPADE',
                                                                 num_classes=NUM_CLASSES))
        self.out = nn.Conv2d(8, 3, 1)

    def forward(self, inputs, labels, mode='tensor'):
        with semantic_layout(labels):
            y = self.out(self.spade(self.icpe(self.clade(inputs))))
        if mode == 'loss':
            return dict(loss=(y - inputs).square().mean())
        return y


class RecordStart(Hook):
    def __init__(self):
        self.iter_at_start = None

    def before_train(self, runner):
        self.iter_at_start = runner.iter


def make_runner(work_dir, max_iters, **kwargs):
    g = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(3, 8, 8, generator=g),
                 labels=torch.randint(0, NUM_CLASSES, (8, 8), generator=g)) for _ in range(8)]
    return Runner(
        model=TinySynthesis(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-2, betas=(0.0, 0.9))),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        randomness=dict(seed=0), **kwargs)


def still_fails(fix, misbehaves):
    """Assert that ``fix``'s upstream original still misbehaves (``misbehaves(original)`` is
    true), so the fix is still needed; fail, saying to remove the fix, the day it does not."""
    if not misbehaves(fix.upstream()):
        pytest.fail(f'upstream fixed this in {fix.installed_versions()}: remove the fix '
                    f'{fix.name} from clade_mm/compat.py (and its tests)')
    if not fix.applied:
        versions = ', '.join(f'{p} {s}' for p, s in fix.applies_to.items())
        pytest.fail(f'{fix.name} is still needed at {fix.installed_versions()}, outside the '
                    f'versions it is declared for ({versions}): widen them')


def raises(exception, match, call, *args):
    """Whether ``call(*args)`` raises ``exception`` with a message matching ``match``; any
    other error propagates, so a changed upstream failure shows as itself."""
    try:
        call(*args)
    except exception as err:
        if re.search(match, str(err)):
            return True
        raise
    return False


# Every fix ----------------------------------------------------------------------------------

def test_the_day_upstream_is_fixed_its_test_says_to_remove_the_fix(monkeypatch):
    declared = compat.FIXES['mmagic_indexable_batch_samples']
    with pytest.raises(pytest.fail.Exception, match=r'^upstream fixed this in mmagic 1\.2\.\d+: '
                       'remove the fix mmagic_indexable_batch_samples'):
        still_fails(declared, lambda original: False)
    # Still broken at a version outside the fix's specifiers: it says to widen them.
    skipped = compat.Fix(declared.name, declared.applies_to, declared.why, declared.locate,
                         declared.patch)
    monkeypatch.setattr(compat, 'installed_version', lambda package: '1.3.0')
    skipped()
    with pytest.raises(pytest.fail.Exception, match=r'still needed at mmagic 1\.3\.0, outside '
                       r'the versions it is declared for \(mmagic <1\.3,>=1\.2\): widen them'):
        still_fails(skipped, lambda original: True)


def test_every_fix_is_declared_and_applied_at_the_pinned_versions():
    assert sorted(compat.FIXES) == ['mmagic_generation_init_weights',
                                    'mmagic_indexable_batch_samples',
                                    'mmagic_loops_return_metrics',
                                    'safe_mmengine_checkpoint_loading']
    for name, fix in compat.FIXES.items():
        assert fix.name == name and fix.why and fix.applies_to
        assert fix.outside_versions() is None, name
        assert fix.applied, name
        assert name in compat.__doc__
    assert compat.FIXES['safe_mmengine_checkpoint_loading'].original is \
        mmengine_checkpoint.load_from_local  # kept: mmengine's own loader


def test_mmagic_fixes_wait_for_their_modules():
    # A fresh interpreter: clade_mm.engine does not import mmagic.models (seconds) for fixes 6
    # to 8; each is applied when the mmagic module it patches is imported.
    probe = (
        'import sys, clade_mm.engine\n'
        'from clade_mm.compat import FIXES\n'
        'state = lambda: [FIXES[n].state for n in ("mmagic_generation_init_weights", '
        '"mmagic_indexable_batch_samples", "mmagic_loops_return_metrics")]\n'
        'print("mmagic.models" in sys.modules, state())\n'
        'import mmagic.models\n'
        'print(state())\n'
        'from mmagic.engine.runner import MultiTestLoop\n'
        'print(state(), hasattr(MultiTestLoop.run, "__wrapped__"))\n'
        'print(any(type(f).__module__ == "clade_mm.compat" for f in sys.meta_path))\n')
    done = subprocess.run([sys.executable, '-W', 'ignore', '-c', probe], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split('\n')[:4] == [
        'False [None, None, None]', "['applied', 'applied', None]",
        "['applied', 'applied', 'applied'] True", 'False']


@pytest.mark.parametrize('name', sorted(compat.FIXES))
def test_a_fix_is_skipped_outside_its_versions(name, monkeypatch, caplog):
    declared = compat.FIXES[name]
    patched = []
    fix = compat.Fix(declared.name, declared.applies_to, declared.why, declared.locate,
                     patched.append)
    monkeypatch.setattr(compat, 'installed_version', lambda package: '999.0')
    with caplog.at_level(logging.DEBUG, logger='clade_mm.compat'):
        assert fix() is False
        assert fix() is False  # tried once: not tried again, not logged again
    assert patched == [] and fix.state == 'skipped' and not fix.applied
    logged = [r for r in caplog.records if name in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.DEBUG
    assert re.search(r'is outside [<>=]', logged[0].getMessage())
    with pytest.raises(AttributeError, match='not applied'):
        fix.original


@pytest.mark.parametrize('versions, applied', [
    (dict(mmengine='0.10.7', torch='2.13.0'), True),
    (dict(mmengine='0.10.7', torch='2.6.0+cpu'), True),
    (dict(mmengine='0.10.5', torch='2.7.0.dev20250101'), True),
    (dict(mmengine='0.10.7', torch='2.5.1'), False),  # torch.load was not weights_only yet
    (dict(mmengine='0.10.8', torch='2.13.0'), False),
    (dict(mmengine=None, torch='2.13.0'), False),
    (dict(mmengine='unknown', torch='2.13.0'), False),
])
def test_the_version_guard_of_safe_checkpoint_loading(versions, applied, monkeypatch):
    declared = compat.FIXES['safe_mmengine_checkpoint_loading']
    patched = []
    fix = compat.Fix(declared.name, declared.applies_to, declared.why, declared.locate,
                     patched.append)
    monkeypatch.setattr(compat, 'installed_version', versions.get)
    assert fix() is applied
    assert patched == ([declared.locate()] if applied else [])


@pytest.mark.parametrize('version, applied', [('1.2.0', True), ('1.2.9', True),
                                              ('1.1.0', False), ('1.3.0', False)])
def test_the_version_guard_of_the_mmagic_fixes(version, applied, monkeypatch):
    monkeypatch.setattr(compat, 'installed_version', {'mmagic': version}.get)
    for name in ('mmagic_generation_init_weights', 'mmagic_indexable_batch_samples',
                 'mmagic_loops_return_metrics'):
        declared = compat.FIXES[name]
        fix = compat.Fix(name, declared.applies_to, declared.why, declared.locate, lambda o: None)
        assert fix() is applied, name


# 1. safe_mmengine_checkpoint_loading --------------------------------------------------------

def save_runner_checkpoint(path):
    """What an mmengine Runner checkpoint holds besides tensors: numpy values and HistoryBuffer
    objects in its message hub."""
    torch.save(dict(meta=dict(seed=np.int64(0), iter=4),
                    message_hub=dict(log_scalars={'train/loss': HistoryBuffer([0.5, 0.25], [1, 1])},
                                     runtime_info=dict(iter=4, lr=np.float64(0.01))),
                    state_dict=dict(weight=torch.ones(2))), path)
    return path


def test_upstream_still_fails_on_runner_checkpoints(tmp_path):
    path = str(save_runner_checkpoint(tmp_path / 'iter_4.pth'))
    still_fails(compat.FIXES['safe_mmengine_checkpoint_loading'],
                lambda load_from_local: raises(pickle.UnpicklingError, 'Weights only load failed',
                                               load_from_local, path, None))


def test_runner_checkpoints_load_weights_only(tmp_path):
    path = str(save_runner_checkpoint(tmp_path / 'iter_4.pth'))
    for load in (compat.safe_torch_load, compat.load_checkpoint_file, _load_checkpoint):
        loaded = load(path)
        assert loaded['meta'] == dict(seed=0, iter=4)
        assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 0.375


def test_save_resume_and_load(tmp_path):
    first = make_runner(tmp_path, max_iters=4)
    first.train()
    ckpt = tmp_path / 'iter_4.pth'
    saved = compat.safe_torch_load(str(ckpt))
    assert saved['meta']['iter'] == 4
    bank = saved['state_dict']['clade.clade.class_affine.gamma']
    assert torch.equal(bank, first.model.clade.norm.class_affine.gamma.detach())

    recorder = RecordStart()
    resumed = make_runner(tmp_path, max_iters=6, resume=True, custom_hooks=[recorder])
    resumed.train()
    assert recorder.iter_at_start == 4  # continued, not restarted
    assert resumed.iter == 6
    adam = resumed.optim_wrapper.optimizer
    steps = {int(s['step']) for s in adam.state.values()}
    assert steps == {6}  # optimizer moments came back with the checkpoint

    loaded = make_runner(tmp_path / 'other', max_iters=1, load_from=str(ckpt))
    loaded.load_or_resume()
    for key, value in saved['state_dict'].items():
        torch.testing.assert_close(loaded.model.state_dict()[key], value, rtol=0, atol=0)


def test_loading_stays_weights_only(tmp_path):
    class Sneaky:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, '__init__'))

    path = tmp_path / 'sneaky.pth'
    torch.save({'meta': Sneaky()}, path)
    for load in (compat.safe_torch_load, _load_checkpoint):
        with pytest.raises(pickle.UnpicklingError, match='sneaky.pth'):
            load(str(path))

    class Printer:
        def __reduce__(self):
            return (print, ('side effect',))

    torch.save({'meta': Printer()}, path)
    for load in (compat.safe_torch_load, _load_checkpoint):
        with pytest.raises(pickle.UnpicklingError, match='weights_only'):
            load(str(path))


# 6. mmagic_generation_init_weights ----------------------------------------------------------

def init_weights_as_translation_models_do(generation_init_weights):
    """What mmagic's ``BaseTranslationModel.init_weights`` (Pix2Pix, CycleGAN; run by the
    Runner) does: give a generator its ``_params_init_info`` record, then call its
    ``init_weights``, which calls ``generation_init_weights``."""

    class Generator(BaseModule):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.Dropout(0.5), nn.Conv2d(64, 64, 3))

        def init_weights(self):
            generation_init_weights(self, init_type='normal', init_gain=0.02)

    generator = Generator()
    generator._params_init_info = defaultdict(dict)
    generator.init_weights()
    return generator


def test_upstream_generation_init_weights_still_fails_under_the_runner():
    still_fails(compat.FIXES['mmagic_generation_init_weights'],
                lambda original: raises(UnboundLocalError, 'init_info',
                                        init_weights_as_translation_models_do, original))


def test_generation_init_weights_works_under_the_runner():
    from mmagic.models.utils import model_utils
    torch.manual_seed(0)
    generator = init_weights_as_translation_models_do(model_utils.generation_init_weights)
    conv, norm = generator.body[4], generator.body[1]
    assert abs(conv.weight.std().item() - 0.02) < 0.002  # initialised as upstream does
    assert abs(norm.weight.mean().item() - 1.0) < 0.01 and not conv.bias.any()


def test_pix2pix_initialises():
    from mmagic.registry import MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(dict(
            type='Pix2Pix', data_preprocessor=dict(type='DataPreprocessor'),
            generator=dict(type='UnetGenerator', in_channels=3, out_channels=3, num_down=3,
                           base_channels=8),
            discriminator=dict(type='PatchDiscriminator', in_channels=6, base_channels=8,
                               num_conv=2),
            default_domain='photo', reachable_domains=['photo'],
            related_domains=['photo', 'mask']))
    torch.manual_seed(0)
    model.init_weights()
    weights = [m.weight for m in model.generators['photo'].modules() if isinstance(m, nn.Conv2d)]
    assert all(abs(w.std().item() - 0.02) < 0.01 for w in weights)


# 7. mmagic_indexable_batch_samples ----------------------------------------------------------

def index_a_batch():
    from mmagic.structures import DataSample
    batch = DataSample.stack([DataSample(gt_img=torch.zeros(3, 4, 4)),
                              DataSample(gt_img=torch.ones(3, 4, 4))])
    return batch[1]


def test_upstream_data_sample_is_still_not_subscriptable(monkeypatch):
    from mmagic.structures import DataSample

    def index_with(original):
        with monkeypatch.context() as upstream:
            upstream.delattr(DataSample, '__getitem__', raising=False)
            if original is not None:
                upstream.setattr(DataSample, '__getitem__', original)
            return raises(TypeError, 'not subscriptable', index_a_batch)

    still_fails(compat.FIXES['mmagic_indexable_batch_samples'], index_with)


def test_a_batch_data_sample_gives_its_samples():
    assert torch.equal(index_a_batch().gt_img, torch.ones(3, 4, 4))


# 8. mmagic_loops_return_metrics -------------------------------------------------------------

def run_multi_loop(loop_name, run):
    """``run`` of mmagic's ``loop_name`` over one (empty) dataset whose evaluator scores
    ``ImageL1: 0.5``; returns what it returned and the metrics its hooks were handed."""
    from mmagic.engine.runner import multi_loops

    class Evaluator:
        def prepare_metrics(self, module, dataloader):
            pass

        def prepare_samplers(self, module, dataloader):
            return []

        def evaluate(self):
            return {'ImageL1': 0.5}

    handed = {}

    class FakeRunner:
        model = nn.Linear(1, 1)
        visualizer = SimpleNamespace()

        def call_hook(self, name, **kwargs):
            if 'metrics' in kwargs:
                handed[name] = kwargs['metrics']

    loop = getattr(multi_loops, loop_name).__new__(getattr(multi_loops, loop_name))
    loop._runner, loop.fp16 = FakeRunner(), False
    loop.evaluators = [Evaluator()]
    loop.dataloaders = [SimpleNamespace(dataset=SimpleNamespace(metainfo=dict(classes=[])))]
    return run(loop), handed


@pytest.mark.parametrize('loop, event', [('MultiTestLoop', 'after_test_epoch'),
                                         ('MultiValLoop', 'after_val_epoch')])
def test_upstream_multi_loops_still_return_nothing(loop, event):
    def returns_nothing(original):
        returned, handed = run_multi_loop(loop, original[loop])
        assert handed == {event: {'ImageL1': 0.5}}
        return returned is None

    still_fails(compat.FIXES['mmagic_loops_return_metrics'], returns_nothing)


@pytest.mark.parametrize('loop', ['MultiTestLoop', 'MultiValLoop'])
def test_multi_loops_return_their_metrics(loop):
    from mmagic.engine.runner import multi_loops
    returned, handed = run_multi_loop(loop, getattr(multi_loops, loop).run)
    assert returned == {'ImageL1': 0.5} and list(handed.values()) == [returned]
