"""Named fixes that make the pinned OpenMMLab releases work with today's torch, in one place.

Each fix is applied once by :func:`apply_all` when ``clade_mm`` is imported (configs import it
through ``custom_imports``); 6 to 8 by :func:`apply_mmagic_model_fixes` when ``clade_mm.engine``
is. None edits site-packages and none flips a process-wide switch such
as ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``.

1. ``safe_mmengine_checkpoint_loading``: torch >= 2.6 loads with ``weights_only=True`` by
   default; mmengine 0.10.7 does not pass the argument, so ``load_from``/``resume`` fail on the
   Runner's own checkpoints, whose message hub holds ``HistoryBuffer`` objects and numpy values.
   We replace mmengine's local-file loader by one that still loads with ``weights_only=True``,
   allowing exactly those types. ``HistoryBuffer`` pickles its statistics functions as
   ``getattr(HistoryBuffer, 'mean')``; instead of allowing ``getattr`` (which would open the
   door to arbitrary code) we allow a ``getattr`` that only resolves statistics methods of
   ``HistoryBuffer``.
2. ``layout_aware_checkpointing``: gradient checkpointing recomputes a forward pass during
   backward, usually after the ``semantic_layout`` block has exited. We wrap
   ``torch.utils.checkpoint.checkpoint`` so that the recomputation re-enters the layout that was
   current in the original forward. Code calling it as ``torch.utils.checkpoint.checkpoint`` or
   ``cp.checkpoint`` (mmcv, mmseg, mmagic) gets the wrapper; a function imported by name before
   ``clade_mm`` was imported does not.
3. ``atomic_local_writes``: mmengine writes checkpoints (``LocalBackend.put``) straight into
   their final path, so a run killed while saving leaves a truncated ``iter_N.pth``. Files are
   now written to a temporary file beside the target, synced, and renamed over it; the
   ``InterruptedWriteCleanupHook`` of the configs removes those a killed run left behind.
4. ``resume_from_last_complete_checkpoint``: if ``work_dir/last_checkpoint`` names a file that
   is missing, empty or damaged (the run died between the two writes, a disk filled up),
   ``--resume`` takes the newest intact ``*.pth`` of the work directory and logs which and why.
   Every checkpoint is verified when read (zip CRCs; see :func:`verify_checkpoint_file`).
5. ``cpu_distributed_launch``: mmengine's ``pytorch`` launcher (``tools/dist_train.sh``) calls
   ``torch.cuda.set_device`` before joining the process group, which fails on a machine without
   a GPU. There the group is joined on the CPU with gloo (nccl is GPU-only), so the same
   command trains data-parallel on CPU processes.
6. ``mmagic_generation_init_weights``: mmagic 1.2's ``generation_init_weights`` (Pix2Pix and
   CycleGAN generators, PatchGAN discriminators) raises ``UnboundLocalError: cannot access
   local variable 'init_info'`` under the Runner, for every module it does not initialise
   (activations, dropout): the Runner gives all modules ``_params_init_info``. Those modules
   are kept out of the record while it runs; what it initialises is unchanged.
7. ``mmagic_indexable_batch_samples``: mmagic 1.2's translation models (``Pix2Pix.test_step``,
   ``val_step``, CycleGAN, SinGAN) index the batch ``DataSample`` their preprocessor returns
   (``data_samples[idx]``), which fails with ``'DataSample' object is not subscriptable``.
   A batch ``DataSample`` now gives its ``idx``-th sample (its ``split()``).
8. ``mmagic_loops_return_metrics``: mmagic's ``MultiTestLoop``/``MultiValLoop`` (the loops of
   its GAN configs) return nothing, so ``Runner.test()`` returned ``None`` instead of the
   metrics and ``tools/test.py`` failed with ``'NoneType' object has no attribute 'items'``.
   They now return the metrics they hand to ``after_test_epoch``/``after_val_epoch``.
"""
import contextlib
import functools
import glob
import logging
import os
import os.path as osp
import pickle
import tempfile
import zipfile
from typing import List, Optional, Tuple
from zlib import error as zlib_error

import numpy as np
import torch
import torch.utils.checkpoint

from .layers.layout import current_layout, restored_layout

_applied = set()


def _once(fix):
    @functools.wraps(fix)
    def apply():
        if fix.__name__ not in _applied:
            fix()
            _applied.add(fix.__name__)
    return apply


def _history_buffer_getattr(owner, name):
    """``getattr`` restricted to what mmengine's HistoryBuffer pickles: its statistics methods."""
    from mmengine.logging import HistoryBuffer
    if owner is HistoryBuffer and not name.startswith('_') and callable(
            getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({owner!r}, {name!r}) while loading a checkpoint: only '
        'HistoryBuffer statistics methods are allowed')


def mmengine_checkpoint_globals():
    """The globals an mmengine Runner checkpoint may hold besides tensors and builtins."""
    from mmengine.logging import HistoryBuffer
    numpy_types = [np.core.multiarray._reconstruct, np.core.multiarray.scalar, np.ndarray,
                   np.dtype]
    numpy_types += [getattr(np.dtypes, name) for name in np.dtypes.__all__]
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')] + numpy_types


_FILE_SIGNATURES = {b'\x89PNG': 'a PNG image', b'\xff\xd8\xff': 'a JPEG image',
                    b'\x93NUMPY': 'a NumPy .npy array', b'\x1f\x8b': 'a gzip archive'}


class CheckpointFileError(ValueError):
    """A checkpoint file that is empty, damaged or not a PyTorch checkpoint at all."""


def verify_checkpoint_file(filename: str) -> None:
    """Raise :class:`CheckpointFileError` naming ``filename`` unless it is a whole PyTorch
    checkpoint: every member of its zip archive passes its CRC check (``torch.load`` does not
    check them, so damaged tensor data would load as wrong numbers), or it is a legacy
    (pre-1.6) pickle."""
    with open(filename, 'rb') as f:
        head = f.read(64)
    if not head:
        raise CheckpointFileError(
            f'checkpoint {filename} is empty (0 bytes): a run stopped while writing it, or a '
            'copy failed. Take an earlier checkpoint, or copy the file again.')
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
            raise CheckpointFileError(
                f'checkpoint {filename} is damaged ({what}): copy it again, or take an '
                'earlier checkpoint.')
    elif head.startswith(b'PK'):
        raise CheckpointFileError(
            f'checkpoint {filename} is truncated (a zip archive without its end): a run stopped '
            'while writing it, or a copy failed. Take an earlier checkpoint.')
    elif not head.startswith(b'\x80'):  # the legacy format starts with a pickle protocol
        kind = next((k for sig, k in _FILE_SIGNATURES.items() if head.startswith(sig)), None)
        if kind is None:
            try:
                kind = f'a text file starting {head.decode("utf-8")[:30]!r}'
            except UnicodeDecodeError:
                kind = f'a file starting with the bytes {head[:8].hex(" ")}'
        found = f'it is {kind}'
        raise CheckpointFileError(f'{filename} is not a PyTorch checkpoint ({found}): give the '
                                  '.pth file that training (or torch.save) wrote.')


def load_from_local(filename, map_location=None):
    """Load an mmengine/clade-mm checkpoint with ``weights_only=True`` and mmengine's types,
    after :func:`verify_checkpoint_file`.

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
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            raise pickle.UnpicklingError(
                f'{filename} holds objects that clade-mm does not unpickle (loading stays '
                f'weights_only). If you trust the file, re-save its state dicts with '
                f'torch.save after torch.load(..., weights_only=False). Details: {err}') from err


@_once
def safe_mmengine_checkpoint_loading():
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


@_once
def layout_aware_checkpointing():
    original = torch.utils.checkpoint.checkpoint

    @functools.wraps(original)
    def checkpoint(function, *args, **kwargs):
        layout = current_layout()
        if layout is None:
            return original(function, *args, **kwargs)

        def run_in_layout(*inner_args, **inner_kwargs):
            with restored_layout(layout):
                return function(*inner_args, **inner_kwargs)

        return original(run_in_layout, *args, **kwargs)

    torch.utils.checkpoint.checkpoint = checkpoint


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the whole new one."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f'.{osp.basename(path)}.',
                                     suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp's 0600 would outlive the rename
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


_UMASK = os.umask(0)
os.umask(_UMASK)


def remove_interrupted_writes(directory: str) -> List[Tuple[str, int]]:
    """Delete the temporary files that :func:`atomic_write` leaves in ``directory`` when its
    process is killed mid-write (``.NAME.XXXX.tmp``, as large as a checkpoint); returns
    ``(path, bytes)`` of each. Call it only when no write into ``directory`` is under way."""
    removed = []
    for path in glob.glob(osp.join(glob.escape(directory), '.*.tmp')):
        with contextlib.suppress(OSError):
            size = osp.getsize(path)
            os.unlink(path)
            removed.append((path, size))
    return removed


@_once
def atomic_local_writes():
    from mmengine.fileio.backends import LocalBackend

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    LocalBackend.put = put


def newest_intact_checkpoint(work_dir: str, named: Optional[str] = None) -> Optional[str]:
    """The newest checkpoint of ``work_dir`` (by modification time) that
    :func:`verify_checkpoint_file` accepts; ``named`` is the one ``last_checkpoint`` names.

    Newer than ``named`` is possible: a run killed between writing ``iter_N.pth`` and updating
    ``last_checkpoint`` leaves a complete checkpoint that ``last_checkpoint`` does not know of.
    Whenever the choice is not ``named``, the reason is logged."""
    candidates = glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
    if named and osp.isfile(named) and not any(osp.samefile(c, named) for c in candidates):
        candidates.append(named)
    candidates.sort(key=osp.getmtime, reverse=True)
    skipped = []
    for candidate in candidates:
        try:
            verify_checkpoint_file(candidate)
        except CheckpointFileError as err:
            skipped.append(str(err))
            continue
        if named is None or not (osp.isfile(named) and osp.samefile(candidate, named)):
            if skipped:
                why = '; '.join(skipped)
            elif named is None:
                why = 'no last_checkpoint file names one'
            elif not osp.isfile(named):
                why = f'{named} (named by last_checkpoint) is missing'
            else:
                why = (f'it is newer than {named}, which last_checkpoint names (the run stopped '
                       'before recording it)')
            from mmengine.logging import print_log
            print_log(f'resuming from {candidate}, the newest intact checkpoint: {why}',
                      logger='current', level=logging.WARNING)
        return candidate
    return None


@_once
def resume_from_last_complete_checkpoint():
    import mmengine.runner.runner as runner_module
    original = runner_module.find_latest_checkpoint

    @functools.wraps(original)
    def find_latest_checkpoint(path):
        return newest_intact_checkpoint(path, original(path))

    runner_module.find_latest_checkpoint = find_latest_checkpoint


@_once
def cpu_distributed_launch():
    import mmengine.dist.utils as dist_utils
    from mmengine.logging import print_log
    original = dist_utils._init_dist_pytorch

    @functools.wraps(original)
    def init_dist_pytorch(backend, init_backend='torch', **kwargs):
        accelerator = dist_utils.is_mlu_available() or dist_utils.is_npu_available() or \
            dist_utils.is_musa_available() or torch.cuda.is_available()
        if accelerator or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            print_log('no GPU: joining the process group on the CPU with gloo instead of nccl',
                      logger='current')
            backend = 'gloo'
        torch.distributed.init_process_group(backend=backend, **kwargs)

    dist_utils._init_dist_pytorch = init_dist_pytorch


def _initialised_by_generation_init(module) -> bool:
    """Whether mmagic's ``generation_init_weights`` initialises ``module`` (its own test)."""
    name = type(module).__name__
    return (hasattr(module, 'weight') and ('Conv' in name or 'Linear' in name)) or \
        'BatchNorm2d' in name


@_once
def mmagic_generation_init_weights():
    import sys

    import mmagic.models  # noqa: F401  (every module that imported the function by name)
    from mmagic.models.utils import model_utils
    original = model_utils.generation_init_weights

    @functools.wraps(original)
    def generation_init_weights(module, init_type='normal', init_gain=0.02):
        # mmagic records init info for every module carrying _params_init_info, also those it
        # does not initialise, and then reads a variable it never set for them. Those modules
        # are hidden from the record for the call.
        hidden = [(m, m.__dict__.pop('_params_init_info')) for m in module.modules()
                  if '_params_init_info' in m.__dict__ and not _initialised_by_generation_init(m)]
        try:
            return original(module, init_type, init_gain)
        finally:
            for m, info in hidden:
                m._params_init_info = info

    for name, loaded in list(sys.modules.items()):
        if name.startswith('mmagic.') and getattr(loaded, 'generation_init_weights',
                                                  None) is original:
            loaded.generation_init_weights = generation_init_weights


@_once
def mmagic_indexable_batch_samples():
    from mmagic.structures import DataSample

    def __getitem__(self, index):
        if not isinstance(index, int):
            raise TypeError(f'a batch DataSample is indexed by sample number, not {index!r}')
        return self.split(allow_nonseq_value=True)[index]

    DataSample.__getitem__ = __getitem__


def apply_all():
    safe_mmengine_checkpoint_loading()
    layout_aware_checkpointing()
    atomic_local_writes()
    resume_from_last_complete_checkpoint()
    cpu_distributed_launch()


@_once
def mmagic_loops_return_metrics():
    from mmagic.engine.runner import multi_loops

    def returning_metrics(run, event):
        @functools.wraps(run)
        def run_and_return(self):
            runner, captured = self._runner, {}
            own = runner.__dict__.get('call_hook')
            call_hook = runner.call_hook

            def capturing(name, **kwargs):
                if name == event:
                    captured['metrics'] = kwargs.get('metrics')
                return call_hook(name, **kwargs)

            runner.call_hook = capturing
            try:
                result = run(self)
            finally:
                if own is None:
                    del runner.call_hook
                else:
                    runner.call_hook = own
            return captured.get('metrics') if result is None else result
        return run_and_return

    for loop, event in ((multi_loops.MultiTestLoop, 'after_test_epoch'),
                        (multi_loops.MultiValLoop, 'after_val_epoch')):
        loop.run = returning_metrics(loop.run, event)


def apply_mmagic_model_fixes():
    """Fixes 6 to 8, which need ``mmagic.models`` (seconds to import): applied when
    ``clade_mm.engine`` is imported, as every config that trains an mmagic model does."""
    mmagic_generation_init_weights()
    mmagic_indexable_batch_samples()
    mmagic_loops_return_metrics()
