"""Fixes of upstream libraries (mmengine, mmagic) for the releases clade-mm pins, in one place.

Only fixes live here: each makes an upstream release behave as it was meant to, and goes away the
day upstream fixes it. Each one is declared (:func:`fix`) with its name, the versions of the
upstream packages it applies to (a :class:`~packaging.specifiers.SpecifierSet` per package), why
it exists, and how to find the upstream original it replaces; once applied it keeps that
original (``FIXES[name].original``). A fix is applied at most once; where an installed version is
outside its specifiers it is skipped instead (logged once, at debug level) and upstream's own
code runs. None edits site-packages and none flips a process-wide switch such as
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``.

:func:`apply_all` (run when ``clade_mm`` is imported; configs import it through
``custom_imports``) applies 1; :func:`apply_mmagic_model_fixes` (run when ``clade_mm.engine`` is
imported) applies 6 to 8, each when the mmagic module it patches is imported (at once if it
already is), so that importing clade-mm does not import ``mmagic.models`` (seconds) for them.
``tests/test_compat.py`` runs every kept original on the case its fix exists for: the day
upstream no longer fails there, that test fails and names the fix to remove.

The numbers are kept from earlier releases, when 2 to 5 were here too; those are clade-mm's own
features and live with the code they belong to: layout-aware gradient checkpointing in
:mod:`clade_mm.layers.context`; verified checkpoint loading, atomic checkpoint writes and the
choice of the checkpoint to resume in :mod:`clade_mm.engine.checkpoint_integrity`; distributed
launch on CPU processes in :mod:`clade_mm.engine.cpu_launch`.

1. ``safe_mmengine_checkpoint_loading``, for mmengine <= 0.10.7 with torch >= 2.6: the
   Runner's own checkpoints load (``load_from``, ``resume``) with ``weights_only=True``.
6. ``mmagic_generation_init_weights``, for mmagic >= 1.2, < 1.3: Pix2Pix/CycleGAN models
   initialise under the Runner (no ``UnboundLocalError ... 'init_info'``).
7. ``mmagic_indexable_batch_samples``, for mmagic >= 1.2, < 1.3: a batch ``DataSample`` can be
   indexed, as ``Pix2Pix.test_step`` does.
8. ``mmagic_loops_return_metrics``, for mmagic >= 1.2, < 1.3: ``MultiTestLoop``/``MultiValLoop``
   return their metrics.

Each fix's ``why`` (below, and ``FIXES[name].why``) says what fails without it.
"""
import functools
import importlib
import importlib.abc
import importlib.metadata
import logging
import pickle
import sys
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
import torch
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion

logger = logging.getLogger(__name__)

_NOT_KEPT = object()


def installed_version(package: str) -> Optional[str]:
    """The installed version of the distribution ``package``, or None if it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


class Fix:
    """A fix of an upstream library, applied by calling it (at most once).

    Args:
        name: what the fix is called (its function's name).
        applies_to: ``{distribution: specifier}`` (str or :class:`SpecifierSet`): the fix is
            applied only when every one of them is installed at a version the specifier holds.
        why: one paragraph: what fails upstream without the fix, and what the fix does.
        locate: ``() -> original``: finds the upstream object the fix replaces, as upstream has it.
        patch: ``(original) -> None``: puts the replacement in place.
        module: the upstream module the fix patches, if it is applied when that module is
            imported (:func:`apply_mmagic_model_fixes`).
    """

    def __init__(self, name: str, applies_to: Dict[str, Union[str, SpecifierSet]], why: str,
                 locate: Callable[[], Any], patch: Callable[[Any], None],
                 module: Optional[str] = None):
        self.name = name
        self.module = module
        self.applies_to = {package: SpecifierSet(str(spec)) for package, spec in
                           applies_to.items()}
        self.why = ' '.join(why.split())
        self.locate = locate
        self.patch = patch
        self.state: Optional[str] = None  # 'applied' or 'skipped' once tried
        self._original = _NOT_KEPT

    def __repr__(self) -> str:
        versions = ', '.join(f'{p} {s}' for p, s in self.applies_to.items())
        return f'<Fix {self.name} ({versions}): {self.state or "not tried"}>'

    @property
    def applied(self) -> bool:
        return self.state == 'applied'

    @property
    def original(self) -> Any:
        """The upstream original the fix replaced (None: upstream had none), once applied."""
        if self._original is _NOT_KEPT:
            raise AttributeError(f'{self.name} is not applied ({self.state or "not tried"}): '
                                 'it keeps no original; upstream() finds it')
        return self._original

    def upstream(self) -> Any:
        """The upstream original: the one kept when the fix was applied, else found now."""
        return self._original if self.applied else self.locate()

    def installed_versions(self) -> str:
        return ', '.join(f'{p} {installed_version(p)}' for p in self.applies_to)

    def outside_versions(self) -> Optional[str]:
        """Why the installed versions are outside those the fix applies to; None if inside."""
        for package, spec in self.applies_to.items():
            version = installed_version(package)
            if version is None:
                return f'{package} is not installed'
            try:
                inside = spec.contains(version, prereleases=True)
            except InvalidVersion:
                inside = False
            if not inside:
                return f'{package} {version} is outside {spec}'
        return None

    def __call__(self) -> bool:
        """Apply the fix unless tried already; whether it is applied."""
        if self.state is None:
            reason = self.outside_versions()
            if reason is not None:
                self.state = 'skipped'
                logger.debug('clade_mm.compat: %s is not applied: %s', self.name, reason)
            else:
                original = self.locate()
                self.patch(original)
                self._original = original
                self.state = 'applied'
        return self.applied


FIXES: Dict[str, Fix] = {}


def fix(applies_to: Dict[str, str], why: str, locate: Callable[[], Any],
        module: Optional[str] = None):
    """Declare the decorated ``patch(original)`` as the :class:`Fix` of its name."""
    def declare(patch):
        declared = Fix(patch.__name__, applies_to, why, locate, patch, module)
        FIXES[declared.name] = declared
        return declared
    return declare


# 1. Safe loading of mmengine Runner checkpoints ---------------------------------------------

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


def safe_torch_load(filename, map_location=None):
    """``torch.load`` of an mmengine Runner checkpoint with ``weights_only=True``, allowing its
    message hub's types (:func:`mmengine_checkpoint_globals`) and nothing more.

    Raises:
        pickle.UnpicklingError: naming the file and the refused type, when it holds objects
            beyond tensors, containers, numpy values and mmengine's log buffers.
    """
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            raise pickle.UnpicklingError(
                f'{filename} holds objects that clade-mm does not unpickle (loading stays '
                f'weights_only). If you trust the file, re-save its state dicts with '
                f'torch.save after torch.load(..., weights_only=False). Details: {err}') from err


def _mmengine_load_from_local():
    from mmengine.runner import checkpoint
    return checkpoint.load_from_local


@fix(applies_to={'mmengine': '<=0.10.7', 'torch': '>=2.6'}, locate=_mmengine_load_from_local,
     why="""torch >= 2.6 loads with ``weights_only=True`` by default; mmengine's local loader
     (``load_from_local``) calls ``torch.load`` without the argument and allows none of the
     types its own Runner saves, so ``load_from``/``resume`` fail on the Runner's checkpoints
     (``HistoryBuffer`` objects and numpy values in the message hub) with "Weights only load
     failed". The fix unpickles them with :func:`safe_torch_load` instead: still
     ``weights_only=True``, allowing exactly those types. ``HistoryBuffer`` pickles its
     statistics functions as ``getattr(HistoryBuffer, 'mean')``; rather than allowing
     ``getattr`` (arbitrary code) it allows a ``getattr`` that only resolves statistics methods
     of ``HistoryBuffer``. The loader mmengine calls is registered in one place,
     :func:`clade_mm.engine.checkpoint_integrity.install`: it verifies the file, then unpickles
     it with :func:`load_checkpoint_file`.""")
def safe_mmengine_checkpoint_loading(original):
    # Nothing to patch here: load_checkpoint_file, the unpickling step of the loader that
    # clade_mm.engine.checkpoint_integrity registers with mmengine, uses safe_torch_load
    # instead of ``original`` while the fix is applied.
    pass


def load_checkpoint_file(filename, map_location=None):
    """Unpickle the local checkpoint ``filename`` for mmengine: with :func:`safe_torch_load`
    where fix 1 is applied, else with mmengine's own loader."""
    loading = FIXES['safe_mmengine_checkpoint_loading']
    if loading.applied:
        return safe_torch_load(filename, map_location)
    return loading.upstream()(filename, map_location)


# 6. to 8. mmagic 1.2 ------------------------------------------------------------------------

def _mmagic_generation_init_weights():
    import mmagic.models  # noqa: F401  (every module that imports the function by name)
    from mmagic.models.utils import model_utils
    return model_utils.generation_init_weights


def _initialised_by_generation_init(module) -> bool:
    """Whether mmagic's ``generation_init_weights`` initialises ``module`` (its own test)."""
    name = type(module).__name__
    return (hasattr(module, 'weight') and ('Conv' in name or 'Linear' in name)) or \
        'BatchNorm2d' in name


@fix(applies_to={'mmagic': '>=1.2,<1.3'}, locate=_mmagic_generation_init_weights,
     module='mmagic.models',
     why="""mmagic 1.2's ``generation_init_weights`` (Pix2Pix and CycleGAN generators,
     PatchGAN discriminators) raises ``UnboundLocalError: cannot access local variable
     'init_info'`` under the Runner: the translation models' ``init_weights`` give the
     generator and discriminator an init-info record (``_params_init_info``), and for every
     module carrying one it records an ``init_info`` that it sets only for the modules it
     initialises (convolutions, linear layers, batch norms), not for the generator itself nor
     for activations or dropout. Records of the modules it does not initialise are hidden while
     it runs; what it initialises is unchanged.""")
def mmagic_generation_init_weights(original):
    @functools.wraps(original)
    def generation_init_weights(module, init_type='normal', init_gain=0.02):
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


def _data_sample_getitem():
    from mmagic.structures import DataSample
    return getattr(DataSample, '__getitem__', None)


@fix(applies_to={'mmagic': '>=1.2,<1.3'}, locate=_data_sample_getitem, module='mmagic.structures',
     why="""mmagic 1.2's translation models (``Pix2Pix.test_step``, ``val_step``, CycleGAN,
     SinGAN) index the batch ``DataSample`` their preprocessor returns (``data_samples[idx]``),
     but ``DataSample`` has no ``__getitem__``: they fail with ``'DataSample' object is not
     subscriptable``. A batch ``DataSample`` now gives its ``idx``-th sample (its
     ``split()``).""")
def mmagic_indexable_batch_samples(original):
    from mmagic.structures import DataSample

    def __getitem__(self, index):
        if not isinstance(index, int):
            raise TypeError(f'a batch DataSample is indexed by sample number, not {index!r}')
        return self.split(allow_nonseq_value=True)[index]

    DataSample.__getitem__ = __getitem__


_LOOP_EVENTS = (('MultiTestLoop', 'after_test_epoch'), ('MultiValLoop', 'after_val_epoch'))


def _mmagic_multi_loop_runs():
    multi_loops = importlib.import_module('mmagic.engine.runner.multi_loops')
    return {loop: getattr(multi_loops, loop).run for loop, _ in _LOOP_EVENTS}


@fix(applies_to={'mmagic': '>=1.2,<1.3'}, locate=_mmagic_multi_loop_runs,
     module='mmagic.engine.runner.multi_loops',
     why="""mmagic's ``MultiTestLoop``/``MultiValLoop`` (the loops of its GAN configs) return
     nothing from ``run()``, so ``Runner.test()`` returns ``None`` instead of the metrics and
     ``tools/test.py`` failed with ``'NoneType' object has no attribute 'items'``. They now
     return the metrics they hand to ``after_test_epoch``/``after_val_epoch``.""")
def mmagic_loops_return_metrics(original):
    multi_loops = importlib.import_module('mmagic.engine.runner.multi_loops')

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

    for loop, event in _LOOP_EVENTS:
        getattr(multi_loops, loop).run = returning_metrics(original[loop], event)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs callbacks right after a module's import has finished (its first import)."""

    def __init__(self):
        self.pending: Dict[str, List[Callable[[], Any]]] = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or isinstance(loader, type) or not hasattr(loader, '__dict__'):
            return spec  # builtin or frozen: not an upstream package module
        exec_module = loader.exec_module

        def exec_then_call_back(module):
            vars(loader).pop('exec_module', None)
            exec_module(module)
            if module.__name__ == fullname:
                for callback in self.pending.pop(fullname, []):
                    callback()
                if not self.pending and self in sys.meta_path:
                    sys.meta_path.remove(self)

        loader.exec_module = exec_then_call_back
        return spec


_after_import = _AfterImport()


def when_imported(module: str, callback: Callable[[], Any]) -> None:
    """Call ``callback`` now if ``module`` is imported, else right after it is."""
    if module in sys.modules:
        callback()
        return
    _after_import.pending.setdefault(module, []).append(callback)
    if _after_import not in sys.meta_path:
        sys.meta_path.insert(0, _after_import)


def apply_all():
    """The fixes that need no ``mmagic``: applied when ``clade_mm`` is imported."""
    safe_mmengine_checkpoint_loading()


def apply_mmagic_model_fixes():
    """Fixes 6 to 8, run when ``clade_mm.engine`` is imported: each is applied when the mmagic
    module it patches is imported (now, if it is already), so that importing ``clade_mm``
    and ``clade_mm.engine`` does not import ``mmagic.models`` (seconds) for them."""
    for name in ('mmagic_generation_init_weights', 'mmagic_indexable_batch_samples',
                 'mmagic_loops_return_metrics'):
        when_imported(FIXES[name].module, FIXES[name])
