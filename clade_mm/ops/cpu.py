"""What this CPU does fast, read once from what it reports: the vector instruction set PyTorch
dispatches to, and whether it computes bfloat16 natively.

Machines of one kind differ here (AVX-512 with bfloat16 instructions on one, AVX2 alone on
another, where bfloat16 is emulated and several times slower than float32), so fast paths are
chosen from this, never assumed.
"""
import functools
import platform
from dataclasses import dataclass
from typing import FrozenSet

import torch

# cpuinfo flags of instructions that compute on bfloat16 (x86: AVX512-BF16, AMX; Arm: BF16).
BFLOAT16_FLAGS = ('avx512_bf16', 'amx_bf16', 'bf16')


@dataclass(frozen=True)
class CpuCapability:
    """``model``: the CPU's name; ``isa``: the kernels PyTorch picked (``'AVX512'``,
    ``'AVX2'``, ...); ``flags``: the CPU's feature flags; ``native_bfloat16``: it has
    instructions that compute on bfloat16."""
    model: str
    isa: str
    flags: FrozenSet[str]

    @property
    def native_bfloat16(self) -> bool:
        return any(flag in self.flags for flag in BFLOAT16_FLAGS)

    def __str__(self) -> str:
        bf16 = [flag for flag in BFLOAT16_FLAGS if flag in self.flags]
        return (f'{self.model}; PyTorch kernels: {self.isa}; native bfloat16: '
                f'{"yes (" + ", ".join(bf16) + ")" if bf16 else "no"}; '
                f'{torch.get_num_threads()} threads')


def _cpuinfo() -> dict:
    fields = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                fields.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux: no flags, so no assumed fast path
        pass
    return fields


@functools.lru_cache(maxsize=None)
def cpu_capability() -> CpuCapability:
    info = _cpuinfo()
    flags = frozenset((info.get('flags') or info.get('Features') or '').split())
    model = info.get('model name') or platform.processor() or platform.machine()
    return CpuCapability(model=model, isa=torch.backends.cpu.get_cpu_capability(), flags=flags)
