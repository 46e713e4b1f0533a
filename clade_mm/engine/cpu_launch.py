"""Distributed launch on CPU processes: ``tools/dist_train.sh`` on a machine without a GPU.

mmengine's ``pytorch`` launcher (``tools/dist_train.sh``, ``launcher='pytorch'``) selects a CUDA
device before it joins the process group, which fails on a machine without a GPU. There
:func:`install` (run when ``clade_mm`` is imported) makes it join the group on the CPU instead,
with gloo when nccl (GPU-only) was asked for, so the same command trains data-parallel on CPU
processes. With an accelerator, or another ``init_backend``, mmengine's launcher runs unchanged.
"""
import functools

import torch

_installed = False


def install() -> None:
    """Wrap mmengine's ``_init_dist_pytorch`` as described above. Once."""
    global _installed
    if _installed:
        return
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
    _installed = True
