"""Training on the CPU without faulting in the same memory every iteration.

glibc's ``malloc`` serves a large block (above a threshold that grows to at most 32 MB) by
mapping fresh pages and gives them back to the kernel when the block is freed; it also returns
the top of its heap once more than twice that threshold is free there. A training iteration
frees and allocates the same large tensors each time (activations, gradients, a generator's
spectral-norm products), so each of its pages is faulted in and zeroed again: on the 2-core
benchmark machine about 330,000 page faults per SPADE or SEAN step at 128x128, 15 % to 20 % of
the step (``docs/training.md``, "Memory on the CPU").

:func:`keep_freed_memory` sets both thresholds once for the process (``mallopt``): blocks up to
1 GiB come from the heap, and up to 2 GiB of free memory stays at its top, so the next
iteration reuses pages already mapped. The first iterations settle it: PyTorch's aligned
requests cannot always take a freed block of their own size, so the heap grows by a few such
blocks before every request finds room (a training step's peak at 256x256 rose by 49 MB for
CLADE, 144 MB for SPADE; later steps fault in next to nothing). What changes is that the
process keeps its memory between iterations. :class:`KeepFreedMemoryHook` applies it when a
Runner trains on the CPU (``default_hooks.keep_freed_memory`` in the runtime config).
"""
import ctypes
import platform
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

# glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 2 ** 30  # blocks below it come from the heap
TRIM_THRESHOLD = 2 ** 31 - 1  # free memory kept at the heap's top (mallopt takes an int)

_applied: Optional[bool] = None


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse (see the module docstring). Once per process;
    ``True`` if it is in effect, ``False`` where the C library is not glibc or refuses."""
    global _applied
    if _applied is None:
        _applied = False
        if platform.libc_ver()[0] == 'glibc':
            libc = ctypes.CDLL(None)
            _applied = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied


@HOOKS.register_module()
class KeepFreedMemoryHook(Hook):
    """Before a run whose model is on the CPU, :func:`keep_freed_memory`; says in the log
    whether it took effect. A model on an accelerator keeps the allocator's defaults (its
    tensors are not the C library's).

    Args:
        enabled: ``False`` keeps glibc's defaults (``--cfg-options
            default_hooks.keep_freed_memory.enabled=False``; mmengine takes ``None`` only for
            its own default hooks).
    """
    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def before_run(self, runner) -> None:
        device = next((p.device for p in runner.model.parameters()), None)
        if device is None or device.type != 'cpu':
            return
        if not self.enabled:
            print_log('CPU training: the allocator keeps its defaults (KeepFreedMemoryHook '
                      'enabled=False)', logger='current')
            return
        if keep_freed_memory():
            print_log(f'CPU training: freed memory up to {TRIM_THRESHOLD / 2**30:.0f} GiB is '
                      'kept for reuse (blocks below '
                      f'{MMAP_THRESHOLD / 2**30:.0f} GiB from the heap)', logger='current')
        else:
            print_log(f'CPU training: the C library ({platform.libc_ver()[0] or "unknown"}) is '
                      'not glibc or refused mallopt; its allocator keeps its defaults',
                      logger='current')
