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
        """Page faults of allocating and filling 64 MiB again after freeing the same."""
        torch.empty(2 ** 24).fill_(1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(2 ** 24).fill_(1)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    default = faults_of_reallocation()
    hook = HOOKS.build(dict(type='KeepFreedMemoryHook'))
    hook.before_run(SimpleNamespace(model=torch.nn.Linear(2, 2)))
    print(default, faults_of_reallocation(), clade_mm.engine.keep_freed_memory())
''')


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason='mallopt is glibc\'s')
def test_hook_makes_a_reallocation_reuse_mapped_pages():
    out = subprocess.run([sys.executable, '-c', MEASURE], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    default, kept, applied = out.stdout.split()[-3:]
    # 64 MiB is 16384 pages of 4 KiB: glibc maps a block that large afresh each time
    assert int(default) > 8000
    assert applied == 'True'
    assert int(kept) < int(default) // 20, out.stdout


def test_every_shipped_config_trains_with_it():
    configs = glob.glob(f'{ROOT}/configs/*/*.py')
    assert len(configs) > 20
    for path in configs:
        assert Config.fromfile(path).default_hooks.keep_freed_memory.type == \
            'KeepFreedMemoryHook', path
