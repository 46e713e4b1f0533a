"""Checkpoints that survive a killed run: verified when read, written atomically, and a resume
that takes the newest intact one.

clade-mm's own features (not fixes of an upstream bug), installed into mmengine by
:func:`install` when ``clade_mm`` is imported (configs import it through ``custom_imports``):

- **Verified loading.** Every local checkpoint mmengine loads (``load_from``, ``resume``,
  ``tools/test.py``) goes through :func:`load_from_local`: :func:`verify_checkpoint_file` first,
  then the unpickling of :func:`clade_mm.compat.load_checkpoint_file` (``weights_only=True``
  with mmengine's types, fix 1 there). An empty, truncated or damaged file (a zip member whose
  CRC fails: ``torch.load`` does not check them and reads wrong numbers), or one that is no
  checkpoint at all (a text file, an image), is a :class:`CheckpointFileError` naming the file,
  and an absent one a ``FileNotFoundError`` naming it.
- **Atomic writes.** mmengine writes checkpoints (``LocalBackend.put``) straight into their
  final path, so a run killed while saving leaves a truncated ``iter_N.pth``. Files go through
  :func:`atomic_write` instead: a temporary file beside the target
  (``.iter_N.pth.<8 hex digits>.clade-mm-partial``), synced and renamed over it. A killed run
  leaves only that temporary file, which :func:`remove_interrupted_writes` (run by the
  ``InterruptedWriteCleanupHook`` of the configs) removes when the next run starts; it removes
  nothing else, so a user's ``.notes.tmp`` stays.
- **Resume from the last complete checkpoint.** If ``work_dir/last_checkpoint`` names a file that
  is missing, empty or damaged (the run died between the two writes, a disk filled up), or a
  complete checkpoint newer than the one it names exists (the run died before updating it),
  ``--resume`` takes the newest intact ``*.pth`` of the work directory
  (:func:`newest_intact_checkpoint`) and logs which and why.
- **No resume over damaged checkpoints.** If the work directory holds checkpoints and none is
  intact, a resume stops with :class:`DamagedCheckpointsError` listing each file and why it was
  rejected; mmengine would start at iteration 1 and overwrite them. With
  ``--resume-or-restart`` (:data:`resume_or_restart`) it moves them into
  ``work_dir/damaged_checkpoints/`` instead, logs the moves and starts at iteration 1. A work
  directory without any checkpoint starts at iteration 1 as in mmengine, with a line saying so.
"""
import contextlib
import functools
import glob
import logging
import os
import os.path as osp
import re
import secrets
import zipfile
from typing import List, NamedTuple, Optional, Tuple
from zlib import error as zlib_error

from .. import compat

_FILE_SIGNATURES = {b'\x89PNG': 'a PNG image', b'\xff\xd8\xff': 'a JPEG image',
                    b'\x93NUMPY': 'a NumPy .npy array', b'\x1f\x8b': 'a gzip archive'}


class CheckpointFileError(ValueError):
    """A checkpoint file that is empty, damaged or not a PyTorch checkpoint at all; ``reason``
    says which in a few words (``'empty (0 bytes)'``), the message adds the file and what to
    do."""

    def __init__(self, message: str, reason: str = ''):
        super().__init__(message)
        self.reason = reason or message


def verify_checkpoint_file(filename: str) -> None:
    """Raise :class:`CheckpointFileError` naming ``filename`` unless it is a whole PyTorch
    checkpoint: every member of its zip archive passes its CRC check (``torch.load`` does not
    check them, so damaged tensor data would load as wrong numbers), or it is a legacy
    (pre-1.6) pickle."""
    with open(filename, 'rb') as f:
        head = f.read(64)
    if not head:
        reason = 'empty (0 bytes)'
        raise CheckpointFileError(
            f'checkpoint {filename} is {reason}: a run stopped while writing it, or a copy '
            'failed. Take an earlier checkpoint, or copy the file again.', reason)
    if zipfile.is_zipfile(filename):
        try:
            with zipfile.ZipFile(filename) as archive:
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, zlib_error) as err:
            damaged, detail = None, str(err)
        else:
            detail = None
        if damaged or detail:
            what = f'its member {damaged} fails its CRC check' if damaged else detail
            reason = f'damaged ({what})'
            raise CheckpointFileError(
                f'checkpoint {filename} is {reason}: copy it again, or take an earlier '
                'checkpoint.', reason)
    elif head.startswith(b'PK'):
        reason = 'truncated (a zip archive without its end)'
        raise CheckpointFileError(
            f'checkpoint {filename} is {reason}: a run stopped while writing it, or a copy '
            'failed. Take an earlier checkpoint.', reason)
    elif not head.startswith(b'\x80'):  # the legacy format starts with a pickle protocol
        kind = next((k for sig, k in _FILE_SIGNATURES.items() if head.startswith(sig)), None)
        if kind is None:
            try:
                kind = f'a text file starting {head.decode("utf-8")[:30]!r}'
            except UnicodeDecodeError:
                kind = f'a file starting with the bytes {head[:8].hex(" ")}'
        reason = f'not a PyTorch checkpoint (it is {kind})'
        raise CheckpointFileError(f'{filename} is {reason}: give the .pth file that training '
                                  '(or torch.save) wrote.', reason)


def load_from_local(filename, map_location=None):
    """Load an mmengine/clade-mm checkpoint after :func:`verify_checkpoint_file`, with
    ``weights_only=True`` and mmengine's types (:func:`clade_mm.compat.load_checkpoint_file`).
    The loader mmengine uses for local paths once :func:`install` ran.

    Raises:
        FileNotFoundError: naming the file, when it is absent.
        CheckpointFileError: naming the file, when it is empty, damaged or no checkpoint.
        pickle.UnpicklingError: naming the file and the refused type, when it holds objects
            beyond tensors, containers, numpy values and mmengine's log buffers.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint {filename} not found: check the path given to load_from/--resume '
            '(resume=True looks for work_dir/last_checkpoint).')
    verify_checkpoint_file(filename)
    return compat.load_checkpoint_file(filename, map_location)


# The temporary file of atomic_write: '.' + the target's name + '.' + 8 hex digits + this.
PARTIAL_SUFFIX = '.clade-mm-partial'
_PARTIAL_NAME = re.compile(r'\..+\.[0-9a-f]{8}' + re.escape(PARTIAL_SUFFIX))


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the whole new one.

    The data goes to ``.NAME.XXXXXXXX.clade-mm-partial`` beside ``path`` (``XXXXXXXX``: 8 hex
    digits), is synced, and the file is renamed over ``path``; on an error it is removed. Only a
    killed process leaves it behind: :func:`remove_interrupted_writes`."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    while True:
        temporary = osp.join(directory,
                             f'.{osp.basename(path)}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}')
        try:
            # 0o666 less the umask, like any new file (mkstemp's 0600 would outlive the rename)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_interrupted_writes(directory: str) -> List[Tuple[str, int]]:
    """Delete the temporary files that :func:`atomic_write` leaves in ``directory`` when its
    process is killed mid-write (``.NAME.XXXXXXXX.clade-mm-partial``, as large as a
    checkpoint), and no other file; returns ``(path, bytes)`` of each. Call it only when no
    write into ``directory`` is under way."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    removed = []
    for name in sorted(names):
        path = osp.join(directory, name)
        if not _PARTIAL_NAME.fullmatch(name) or osp.islink(path) or not osp.isfile(path):
            continue
        with contextlib.suppress(OSError):
            size = osp.getsize(path)
            os.unlink(path)
            removed.append((path, size))
    return removed


# What a resume does when the work directory holds checkpoints and none is intact: False stops
# with DamagedCheckpointsError, True moves them aside and starts at iteration 1.
# tools/train.py --resume-or-restart sets it.
resume_or_restart = False

# Where a restart over damaged checkpoints moves them, inside the work directory.
DAMAGED_CHECKPOINTS_DIR = 'damaged_checkpoints'


class CheckpointSurvey(NamedTuple):
    """The checkpoints of a work directory as a resume sees them."""
    newest_intact: Optional[str]  # None when no checkpoint is intact, or there is none
    # (file, reason) of each checkpoint newer than newest_intact that is missing or damaged:
    # all of them when newest_intact is None.
    rejected: List[Tuple[str, str]]


def survey_checkpoints(work_dir: str, named: Optional[str] = None) -> CheckpointSurvey:
    """Verify the ``*.pth`` files of ``work_dir`` and ``named`` (the file ``last_checkpoint``
    names, possibly elsewhere or missing) newest first, by modification time, up to the first
    intact one. The older ones are not read: a check reads the whole file."""
    candidates = [path for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
                  if osp.isfile(path)]
    rejected = []
    if named and not osp.isfile(named):
        rejected.append((named, 'missing (last_checkpoint names it)'))
    elif named and not any(osp.samefile(c, named) for c in candidates):
        candidates.append(named)
    candidates.sort(key=osp.getmtime, reverse=True)
    for candidate in candidates:
        try:
            verify_checkpoint_file(candidate)
        except CheckpointFileError as err:
            rejected.append((candidate, err.reason))
        else:
            return CheckpointSurvey(candidate, rejected)
    return CheckpointSurvey(None, rejected)


class DamagedCheckpointsError(CheckpointFileError):
    """A resume found checkpoints in its work directory and none of them intact; ``rejected``
    holds ``(file, reason)`` of each."""

    def __init__(self, work_dir: str, rejected: List[Tuple[str, str]]):
        self.work_dir, self.rejected = work_dir, rejected
        listing = ''.join(f'\n  {path}: {reason}' for path, reason in rejected)
        aside = osp.join(work_dir, DAMAGED_CHECKPOINTS_DIR)
        super().__init__(
            f'resume found no intact checkpoint in {work_dir}; it rejected:{listing}\n'
            f'Copy an intact checkpoint into {work_dir}, pass one with --resume PATH, or start '
            'again at iteration 1 with --resume-or-restart (the damaged files are then moved '
            f'into {aside}/, not deleted or overwritten). From Python: load_from=PATH with '
            'resume=True, or clade_mm.engine.checkpoint_integrity.resume_or_restart = True.',
            reason='no intact checkpoint')


def move_damaged_checkpoints_aside(work_dir: str,
                                   rejected: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """Move the ``rejected`` files that lie in ``work_dir``, and its ``last_checkpoint`` (which
    names one of them), into ``work_dir/damaged_checkpoints/``, so that a run starting again
    neither overwrites them nor resumes from them. A name taken there gets a suffix (``.1``,
    ``.2``...): nothing is overwritten. Returns ``(from, to)`` of each move. From one process
    only: a name is checked, then taken."""
    in_work_dir = [path for path, _ in rejected if osp.lexists(path)
                   and osp.samefile(osp.dirname(osp.abspath(path)), work_dir)]
    last_checkpoint = osp.join(work_dir, 'last_checkpoint')
    if osp.lexists(last_checkpoint):
        in_work_dir.append(last_checkpoint)
    aside = osp.join(work_dir, DAMAGED_CHECKPOINTS_DIR)
    moves = []
    for path in in_work_dir:
        os.makedirs(aside, exist_ok=True)
        target, copies = osp.join(aside, osp.basename(path)), 0
        while osp.lexists(target):
            copies += 1
            target = osp.join(aside, f'{osp.basename(path)}.{copies}')
        os.rename(path, target)
        moves.append((path, target))
    return moves


def newest_intact_checkpoint(work_dir: str, named: Optional[str] = None,
                             restart_if_damaged: bool = False) -> Optional[str]:
    """The checkpoint a resume in ``work_dir`` takes: the newest intact one
    (:func:`survey_checkpoints`); ``named`` is the one ``last_checkpoint`` names. None, with a
    log line, when ``work_dir`` holds no checkpoint: training starts at iteration 1.

    Newer than ``named`` is possible: a run killed between writing ``iter_N.pth`` and updating
    ``last_checkpoint`` leaves a complete checkpoint that ``last_checkpoint`` does not know of.
    Whenever the choice is not ``named``, the reason is logged.

    Raises:
        DamagedCheckpointsError: listing each file and why it was rejected, when ``work_dir``
            holds checkpoints and none is intact; with ``restart_if_damaged`` they are moved
            aside instead (:func:`move_damaged_checkpoints_aside`, logged) and the answer is
            None. Resuming would otherwise start at iteration 1 and overwrite them.
    """
    from mmengine.logging import print_log
    chosen, rejected = survey_checkpoints(work_dir, named)
    if chosen is None and rejected:
        if not restart_if_damaged:
            raise DamagedCheckpointsError(work_dir, rejected)
        reasons = dict(rejected)
        moved = ''.join(f'\n  {source} -> {target}'
                        + (f': {reasons[source]}' if source in reasons else '')
                        for source, target in move_damaged_checkpoints_aside(work_dir, rejected))
        print_log(f'resume found no intact checkpoint in {work_dir}: training starts at '
                  'iteration 1; the damaged files are moved aside, not deleted or '
                  f'overwritten:{moved}', logger='current', level=logging.WARNING)
        return None
    if chosen is None:
        print_log(f'resume found no checkpoint in {work_dir} (no *.pth file, and '
                  'last_checkpoint names none): training starts at iteration 1', logger='current')
        return None
    if named is None or not (osp.isfile(named) and osp.samefile(chosen, named)):
        if rejected:
            why = '; '.join(f'{path} is {reason}' for path, reason in rejected)
        elif named is None:
            why = 'no last_checkpoint file names one'
        else:
            why = (f'it is newer than {named}, which last_checkpoint names (the run stopped '
                   'before recording it)')
        print_log(f'resuming from {chosen}, the newest intact checkpoint: {why}',
                  logger='current', level=logging.WARNING)
    return chosen


_installed = False


def install() -> None:
    """Make mmengine load local checkpoints with :func:`load_from_local`, write files with
    :func:`atomic_write` (``LocalBackend.put``) and resume from
    :func:`newest_intact_checkpoint` (``find_latest_checkpoint``). Once; run when ``clade_mm`` is
    imported."""
    global _installed
    if _installed:
        return
    from mmengine.fileio.backends import LocalBackend
    from mmengine.runner import runner as runner_module
    from mmengine.runner.checkpoint import CheckpointLoader

    # The one registration of mmengine's local loader: verification (here) and unpickling
    # (clade_mm.compat, fix 1 where it applies) in one function.
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    LocalBackend.put = put

    find_latest_checkpoint = runner_module.find_latest_checkpoint

    @functools.wraps(find_latest_checkpoint)
    def find_latest_intact_checkpoint(path):
        if not resume_or_restart:
            return newest_intact_checkpoint(path, find_latest_checkpoint(path))
        # One process moves damaged checkpoints aside; the others look once it has.
        from mmengine.dist import barrier, is_main_process
        chosen = None
        if is_main_process():
            chosen = newest_intact_checkpoint(path, find_latest_checkpoint(path),
                                              restart_if_damaged=True)
        barrier()
        if not is_main_process():
            chosen = newest_intact_checkpoint(path, find_latest_checkpoint(path))
        return chosen

    runner_module.find_latest_checkpoint = find_latest_intact_checkpoint
    _installed = True
