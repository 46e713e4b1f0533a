"""mmengine checkpoints of models holding conditional norms: save, load, resume, safely."""
import io
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner

from clade_mm import semantic_layout
from clade_mm.compat import CheckpointFileError, load_from_local

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


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    from mmengine.fileio.backends import LocalBackend
    path = tmp_path / 'iter_1.pth'
    LocalBackend().put(b'complete old checkpoint', str(path))
    assert path.read_bytes() == b'complete old checkpoint'

    def crash(fd):
        raise KeyboardInterrupt  # the process dies while the new file is being written
    monkeypatch.setattr('os.fsync', crash)
    with pytest.raises(KeyboardInterrupt):
        LocalBackend().put(b'half a new checkpo', str(path))
    assert path.read_bytes() == b'complete old checkpoint'
    assert os.listdir(tmp_path) == ['iter_1.pth']  # no temporary file left behind


def test_resume_skips_a_dangling_last_checkpoint(tmp_path):
    import mmengine.runner.runner as runner_module
    torch.save(dict(state_dict={}), tmp_path / 'iter_2.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))  # never written
    assert runner_module.find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')


def saved_checkpoint(path, seed=0):
    """A real mmengine-style checkpoint of a few MB (tensors big enough to compress)."""
    g = torch.Generator().manual_seed(seed)
    torch.save(dict(meta=dict(iter=seed), state_dict={
        f'generator.w{i}': torch.randn(256, 256, generator=g) for i in range(4)}), path)
    return path


def test_damaged_checkpoints_are_named_not_loaded(tmp_path):
    good = saved_checkpoint(tmp_path / 'iter_2.pth')
    data = good.read_bytes()
    cases = {
        'truncated.pth': (data[:len(data) // 2], 'is truncated'),
        'empty.pth': (b'', r'is empty \(0 bytes\)'),
        'notes.pth': (b'iteration 2: loss 0.3\n', "is not a PyTorch checkpoint .*a text file "
                                                   "starting 'iteration 2"),
    }
    # One byte of tensor data changed: torch.load alone reads it as a wrong number.
    with zipfile.ZipFile(good) as archive:
        member = next(i for i in archive.infolist() if i.filename.endswith('/data/1'))
    local_header = 30 + len(member.filename.encode()) + len(member.extra)
    flipped = bytearray(data)
    flipped[member.header_offset + local_header + 1000] ^= 0xFF
    cases['flipped.pth'] = (bytes(flipped), r'is damaged \(its member .* fails its CRC check')
    silently = torch.load(io.BytesIO(bytes(flipped)), weights_only=True)
    original = torch.load(io.BytesIO(data), weights_only=True)
    assert any(not torch.equal(silently['state_dict'][k], original['state_dict'][k])
               for k in original['state_dict'])
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointFileError, match=f'{name} {message}'):
            load_from_local(str(tmp_path / name))
    assert load_from_local(str(good))['meta'] == dict(iter=0)


def test_resume_takes_the_newest_intact_checkpoint_and_says_why(tmp_path, capsys):
    import mmengine.runner.runner as runner_module
    from mmengine.logging import MMLogger
    MMLogger.get_instance('compat_resume_test')
    saved_checkpoint(tmp_path / 'iter_2.pth')
    time.sleep(0.01)
    data = saved_checkpoint(tmp_path / 'iter_4.pth', seed=4).read_bytes()
    (tmp_path / 'iter_4.pth').write_bytes(data[:len(data) - 100])  # the disk filled up
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    assert runner_module.find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    said = capsys.readouterr()
    assert 'resuming from' in said.out + said.err and 'iter_4.pth is truncated' in \
        said.out + said.err


def test_resume_takes_a_complete_checkpoint_that_last_checkpoint_does_not_name_yet(tmp_path,
                                                                                   capsys):
    # Killed after iter_4.pth was renamed into place, before last_checkpoint was rewritten.
    import mmengine.runner.runner as runner_module
    from mmengine.logging import MMLogger
    MMLogger.get_instance('compat_resume_unnamed_test')
    saved_checkpoint(tmp_path / 'iter_2.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    time.sleep(0.01)
    saved_checkpoint(tmp_path / 'iter_4.pth', seed=4)
    assert runner_module.find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    said = capsys.readouterr()
    assert 'iter_4.pth, the newest intact checkpoint: it is newer than' in said.out + said.err
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    assert runner_module.find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    assert 'resuming from' not in ''.join(capsys.readouterr())


def test_the_runner_removes_what_an_interrupted_write_left(tmp_path):
    from clade_mm.engine import InterruptedWriteCleanupHook
    left = tmp_path / '.iter_16.pth.k2j3h4.tmp'
    left.write_bytes(b'half a checkpoint')
    (tmp_path / 'iter_12.pth').write_bytes(b'kept')

    class FakeRunner:
        work_dir = str(tmp_path)

    InterruptedWriteCleanupHook().before_run(FakeRunner())
    assert sorted(os.listdir(tmp_path)) == ['iter_12.pth']


def test_a_killed_training_resumes_from_its_last_complete_checkpoint(tmp_path):
    from clade_mm.datasets import write_synthetic_dataset
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    write_synthetic_dataset(str(tmp_path / 'data'), num_train=16, num_val=0, size=64)
    work = tmp_path / 'work'
    command = [sys.executable, 'tools/train.py', 'configs/clade_synthetic.py', '--work-dir',
               str(work), '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}/data',
               'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
               'train_cfg.max_iters=40', 'default_hooks.checkpoint.interval=4',
               'default_hooks.checkpoint.max_keep_ckpts=20', 'custom_hooks=[]']
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (work / 'iter_12.pth').exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # wherever it is: training, or writing iter_16
    process.wait()
    assert (work / 'iter_12.pth').exists()
    saved = sorted(int(p.stem.split('_')[1]) for p in work.glob('iter_*.pth'))
    resumed = subprocess.run(command + ['--resume'], cwd=root, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    log = resumed.stdout + resumed.stderr
    assert f'resumed epoch: 0, iter: {saved[-1]}' in log
    assert (work / 'iter_40.pth').exists()
