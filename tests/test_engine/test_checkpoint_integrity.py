"""Checkpoints that survive a killed run (clade_mm.engine.checkpoint_integrity): verified when
read, written atomically, interrupted writes cleaned up (and nothing else), and a resume that
takes the newest intact checkpoint, or stops (or, if asked, restarts with the damaged files moved
aside) when every checkpoint is damaged."""
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
from clade_mm.engine import checkpoint_integrity
from clade_mm.engine.checkpoint_integrity import (PARTIAL_SUFFIX, CheckpointFileError,
                                                  DamagedCheckpointsError, atomic_write,
                                                  load_from_local, remove_interrupted_writes)

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


def train_command(tmp_path, work, max_iters, checkpoint_interval, num_train=16):
    """tools/train.py on the synthetic CLADE config, with a dataset written into tmp_path."""
    from clade_mm.datasets import write_synthetic_dataset
    write_synthetic_dataset(str(tmp_path / 'data'), num_train=num_train, num_val=0, size=64)
    return [sys.executable, 'tools/train.py', 'configs/clade/clade_synthetic.py',
            '--work-dir', str(work), '--cfg-options',
            f'train_dataloader.dataset.data_root={tmp_path}/data',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            f'train_cfg.max_iters={max_iters}',
            f'default_hooks.checkpoint.interval={checkpoint_interval}',
            'default_hooks.checkpoint.max_keep_ckpts=20', 'custom_hooks=[]']


def test_a_killed_training_resumes_from_its_last_complete_checkpoint(tmp_path):
    work = tmp_path / 'work'
    command = train_command(tmp_path, work, max_iters=40, checkpoint_interval=4)
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


def only_damaged_checkpoints(work):
    """A work directory whose checkpoints are all damaged: iter_2.pth cut short, iter_4.pth
    empty and named by last_checkpoint (a disk that filled up). Returns their bytes."""
    work.mkdir(parents=True, exist_ok=True)
    data = saved_checkpoint(work / 'iter_2.pth').read_bytes()
    (work / 'iter_2.pth').write_bytes(data[:len(data) // 3])
    (work / 'iter_4.pth').write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    os.utime(work / 'iter_2.pth', (1e9, 1e9))  # older than iter_4.pth, whatever the clock
    return {name: (work / name).read_bytes()
            for name in ('iter_2.pth', 'iter_4.pth', 'last_checkpoint')}


REJECTED = {'iter_4.pth': 'empty (0 bytes)',
            'iter_2.pth': 'truncated (a zip archive without its end)'}


def test_resume_stops_when_every_checkpoint_is_damaged_and_says_why_for_each(tmp_path):
    import mmengine.runner.runner as runner_module
    files = only_damaged_checkpoints(tmp_path)
    with pytest.raises(DamagedCheckpointsError) as stop:
        runner_module.find_latest_checkpoint(str(tmp_path))  # what Runner(resume=True) asks
    assert stop.value.rejected == [(str(tmp_path / name), why) for name, why in REJECTED.items()]
    for name, why in REJECTED.items():
        assert f'{tmp_path / name}: {why}' in str(stop.value)
    assert '--resume-or-restart' in str(stop.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files  # nothing else


def test_a_last_checkpoint_naming_a_missing_file_is_a_checkpoint_to_stop_for(tmp_path):
    import mmengine.runner.runner as runner_module
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))  # deleted since
    with pytest.raises(DamagedCheckpointsError, match='iter_6.pth: missing'):
        runner_module.find_latest_checkpoint(str(tmp_path))


def test_resume_without_any_checkpoint_starts_at_iteration_1_and_says_so(tmp_path, capsys):
    import mmengine.runner.runner as runner_module
    from mmengine.logging import MMLogger
    MMLogger.get_instance('checkpoint_integrity_no_checkpoint_test')
    (tmp_path / 'notes.txt').write_text('not a checkpoint')
    assert runner_module.find_latest_checkpoint(str(tmp_path)) is None
    assert f'no checkpoint in {tmp_path}' in ''.join(capsys.readouterr())


def test_resume_or_restart_moves_damaged_checkpoints_aside_without_overwriting(
        tmp_path, monkeypatch, capsys):
    import mmengine.runner.runner as runner_module
    from mmengine.logging import MMLogger
    MMLogger.get_instance('checkpoint_integrity_restart_test')
    monkeypatch.setattr(checkpoint_integrity, 'resume_or_restart', True)
    aside = tmp_path / 'damaged_checkpoints'
    aside.mkdir()
    (aside / 'iter_2.pth').write_bytes(b'moved aside by an earlier restart')
    files = only_damaged_checkpoints(tmp_path)
    assert runner_module.find_latest_checkpoint(str(tmp_path)) is None  # start at iteration 1
    assert sorted(os.listdir(tmp_path)) == ['damaged_checkpoints']
    assert {p.name: p.read_bytes() for p in aside.iterdir()} == {
        'iter_2.pth': b'moved aside by an earlier restart', 'iter_2.pth.1': files['iter_2.pth'],
        'iter_4.pth': files['iter_4.pth'], 'last_checkpoint': files['last_checkpoint']}
    said = ''.join(capsys.readouterr())
    assert f'{tmp_path / "iter_2.pth"} -> {aside / "iter_2.pth.1"}: truncated' in said
    # With an intact checkpoint it resumes, and moves nothing.
    saved_checkpoint(tmp_path / 'iter_6.pth')
    (tmp_path / 'iter_8.pth').write_bytes(b'')
    assert runner_module.find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_6.pth')
    assert (tmp_path / 'iter_8.pth').exists()


def test_train_stops_on_damaged_checkpoints_and_restarts_only_when_told(tmp_path):
    work = tmp_path / 'work'
    files = only_damaged_checkpoints(work)
    command = train_command(tmp_path, work, max_iters=2, checkpoint_interval=2, num_train=2)
    stopped = subprocess.run(command + ['--resume'], cwd=ROOT, capture_output=True, text=True)
    assert stopped.returncode == 1
    assert 'Traceback' not in stopped.stderr
    error = stopped.stderr[stopped.stderr.index('error: '):]
    assert error.startswith(f'error: resume found no intact checkpoint in {work}; it rejected:')
    for name, why in REJECTED.items():
        assert f'{work / name}: {why}' in error
    assert 'Iter(train)' not in stopped.stdout
    assert {name: (work / name).read_bytes() for name in files} == files

    restarted = subprocess.run(command + ['--resume-or-restart'], cwd=ROOT, capture_output=True,
                               text=True)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert 'Iter(train) [1/2]' in restarted.stdout
    aside = work / 'damaged_checkpoints'
    assert {p.name: p.read_bytes() for p in aside.iterdir()} == files
    assert torch.load(work / 'iter_2.pth', weights_only=False)['meta']['iter'] == 2
