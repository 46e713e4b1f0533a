"""Checkpoints that survive a killed run (clade_mm.engine.checkpoint_integrity): verified when
read, written atomically, interrupted writes cleaned up (and nothing else), and a resume that
takes the newest intact checkpoint."""
import io
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest
import torch

import clade_mm  # noqa: F401  (installs the features into mmengine)
from clade_mm.engine.checkpoint_integrity import (PARTIAL_SUFFIX, CheckpointFileError,
                                                  atomic_write, load_from_local,
                                                  remove_interrupted_writes)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_import_clade_mm_installs_the_features_into_mmengine_without_mmagic_models():
    # A fresh interpreter: what `import clade_mm` alone does (configs import it first). Through
    # clade_mm.engine it imports mmagic's registry (a tenth of a second), not its models
    # (seconds), nor anything else of mmagic.
    probe = (
        'import sys, clade_mm\n'
        'from mmengine.fileio.backends import LocalBackend\n'
        'from mmengine.runner import runner\n'
        'from mmengine.runner.checkpoint import CheckpointLoader\n'
        'from clade_mm.engine import checkpoint_integrity as ci\n'
        "assert CheckpointLoader._get_checkpoint_loader('x.pth') is ci.load_from_local\n"
        "assert LocalBackend.put.__qualname__.startswith('install.')\n"
        "assert runner.find_latest_checkpoint.__code__.co_name == "
        "'find_latest_intact_checkpoint'\n"
        "print(sorted(m for m in sys.modules if m == 'mmagic' or m.startswith('mmagic.')))\n")
    done = subprocess.run([sys.executable, '-c', probe], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['mmagic', 'mmagic.registry', 'mmagic.version']"


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


def test_atomic_writes_keep_the_usual_file_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write(str(tmp_path / 'sub' / 'iter_2.pth'), b'data')
    finally:
        os.umask(umask)
    assert (tmp_path / 'sub' / 'iter_2.pth').stat().st_mode & 0o777 == 0o644


def interrupted_write(path, data, monkeypatch):
    """What an atomic_write killed before its rename leaves behind: its temporary file."""
    def killed(fd):
        raise KeyboardInterrupt

    with monkeypatch.context() as dying:
        dying.setattr(os, 'fsync', killed)
        dying.setattr(os, 'unlink', lambda path: None)  # a killed process cleans nothing up
        with pytest.raises(KeyboardInterrupt):
            atomic_write(str(path), data)
    left = [name for name in os.listdir(path.parent)
            if name.startswith(f'.{path.name}.') and name.endswith(PARTIAL_SUFFIX)]
    assert len(left) == 1 and not path.exists()
    return path.parent / left[0]


def test_only_interrupted_writes_are_removed(tmp_path, monkeypatch):
    users = {'.notes.tmp': b'my notes', '.x.tmp': b'x', '.iter_4.pth.k2j3h4ab.tmp': b'mine',
             '.iter_4.pth.0123abcd.clade-mm-partial.bak': b'a copy',
             'iter_4.pth.0123abcd.clade-mm-partial': b'not hidden',
             '.iter_4.pth.0123ABCD.clade-mm-partial': b'not hex', 'iter_4.pth': b'kept'}
    for name, data in users.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / '.iter_9.pth.0123abcd.clade-mm-partial').mkdir()  # a directory: not a write
    left = interrupted_write(tmp_path / 'iter_8.pth', b'half a checkpoint', monkeypatch)

    assert remove_interrupted_writes(str(tmp_path)) == [(str(left), len(b'half a checkpoint'))]
    assert sorted(os.listdir(tmp_path)) == sorted(
        list(users) + ['.iter_9.pth.0123abcd.clade-mm-partial'])
    for name, data in users.items():
        assert (tmp_path / name).read_bytes() == data
    assert remove_interrupted_writes(str(tmp_path / 'absent')) == []


def test_the_runner_removes_what_an_interrupted_write_left(tmp_path, monkeypatch):
    from clade_mm.engine import InterruptedWriteCleanupHook
    interrupted_write(tmp_path / 'iter_16.pth', b'half a checkpoint', monkeypatch)
    (tmp_path / 'iter_12.pth').write_bytes(b'kept')
    (tmp_path / '.notes.tmp').write_bytes(b'kept too')

    class FakeRunner:
        work_dir = str(tmp_path)

    InterruptedWriteCleanupHook().before_run(FakeRunner())
    assert sorted(os.listdir(tmp_path)) == ['.notes.tmp', 'iter_12.pth']


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
    MMLogger.get_instance('checkpoint_integrity_resume_test')
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
    MMLogger.get_instance('checkpoint_integrity_resume_unnamed_test')
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


def test_a_killed_training_resumes_from_its_last_complete_checkpoint(tmp_path):
    from clade_mm.datasets import write_synthetic_dataset
    write_synthetic_dataset(str(tmp_path / 'data'), num_train=16, num_val=0, size=64)
    work = tmp_path / 'work'
    command = [sys.executable, 'tools/train.py', 'configs/clade/clade_synthetic.py',
               '--work-dir', str(work), '--cfg-options',
               f'train_dataloader.dataset.data_root={tmp_path}/data',
               'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
               'train_cfg.max_iters=40', 'default_hooks.checkpoint.interval=4',
               'default_hooks.checkpoint.max_keep_ckpts=20', 'custom_hooks=[]']
    with open(tmp_path / 'stderr.txt', 'w') as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + 300
    while not (work / 'iter_12.pth').exists() and time.time() < deadline:
        if process.poll() is not None:
            pytest.fail('training stopped by itself: '
                        f'{(tmp_path / "stderr.txt").read_text()[-2000:]}')
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # wherever it is: training, or writing iter_16
    process.wait()
    assert (work / 'iter_12.pth').exists()
    saved = sorted(int(p.stem.split('_')[1]) for p in work.glob('iter_*.pth'))
    resumed = subprocess.run(command + ['--resume'], cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    log = resumed.stdout + resumed.stderr
    assert f'resumed epoch: 0, iter: {saved[-1]}' in log
    assert (work / 'iter_40.pth').exists()
    assert not [p for p in os.listdir(work) if p.endswith(PARTIAL_SUFFIX)]
