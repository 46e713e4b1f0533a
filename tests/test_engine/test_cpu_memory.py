"""KeepFreedMemoryHook: CPU training reuses freed memory instead of faulting it in again."""
import glob
import platform
import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config

from tests.paths import ROOT

# In a fresh interpreter each: the allocator setting is per process and stays set.
MEASURE = textwrap.dedent('''
    import resource, torch
    from types import SimpleNamespace
    import clade_mm.engine  # registers the hook
    from mmengine.registry import HOOKS

    def faults_of_reallocation():
        """Page faults of the last 10 of 20 allocations of 64 MiB, each filled and freed (the
        first few settle where the heap has room for such a block)."""
        for _ in range(10):
            torch.empty(2 ** 24).fill_(1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            torch.empty(2 ** 24).fill_(1)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    runner = SimpleNamespace(model=torch.nn.Linear(2, 2))
    HOOKS.build(dict(type='KeepFreedMemoryHook', enabled=False)).before_run(runner)
    default = faults_of_reallocation()
    HOOKS.build(dict(type='KeepFreedMemoryHook')).before_run(runner)
    print(default, faults_of_reallocation(), clade_mm.engine.keep_freed_memory())
''')


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='mallopt is glibc\'s')
def test_hook_makes_a_reallocation_reuse_mapped_pages():
    out = subprocess.run([sys.executable, '-c', MEASURE], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    default, kept, applied = out.stdout.split()[-3:]
    # 64 MiB is 16384 pages of 4 KiB: by default (and with the hook disabled) glibc maps a
    # block that large afresh each time
    assert int(default) > 10 * 8000
    assert applied == 'True'
    assert int(kept) < int(default) // 20, out.stdout


def test_every_shipped_config_trains_with_it():
    configs = glob.glob(f'{ROOT}/configs/*/*.py')
    assert len(configs) > 20
    for path in configs:
        assert Config.fromfile(path).default_hooks.keep_freed_memory.type == \
            'KeepFreedMemoryHook', path
