"""mmengine checkpoints of models holding conditional norms: save, load, resume, safely."""
import pickle

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner

from clade_mm import semantic_layout
from clade_mm.compat import load_from_local

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


def test_save_resume_and_load(tmp_path):
    first = make_runner(tmp_path, max_iters=4)
    first.train()
    ckpt = tmp_path / 'iter_4.pth'
    saved = load_from_local(str(ckpt))
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
    with pytest.raises(pickle.UnpicklingError, match='sneaky.pth'):
        load_from_local(str(path))

    class Printer:
        def __reduce__(self):
            return (print, ('side effect',))

    torch.save({'meta': Printer()}, path)
    with pytest.raises(pickle.UnpicklingError, match='weights_only'):
        load_from_local(str(path))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_from_local(str(tmp_path / 'nowhere.pth'))
