"""How a generator runs for inference on this CPU: its precision and memory layout.

* Memory layout: channels-last on CPUs whose convolution kernels are vectorised (PyTorch's
  kernels are AVX2, AVX-512 or another vector set), where oneDNN's convolutions run it about
  twice as fast as NCHW; NCHW elsewhere.
* Precision (``precision=``): ``'float32'`` is the reference. ``'bfloat16'`` casts the
  convolutions and linear layers (the norms' statistics and class-wise tables stay float32:
  they are small, and rounding them would shift every pixel of a class); it halves the memory
  traffic and, on a CPU with bfloat16 instructions, runs the convolutions several times faster.
  Without those instructions it is emulated and slower than float32. ``'auto'`` (the default)
  takes bfloat16 only where both hold: the CPU computes it natively, and on the first label
  map the images differ from float32 ones by at most :data:`MAX_MEAN_GREY_LEVELS` grey levels
  on average (checked once per model by running both); otherwise float32.

``benchmarks/bench_precision.py`` checks the choice on a trained model over a whole validation
set, images and segmentation score; ``benchmarks/bench_generators.py`` times every layout and
precision side by side.
"""
import copy
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from ..layers.clade import CLADE, ClassAffine
from ..ops import class_norm
from ..ops.cpu import CpuCapability, cpu_capability

PRECISIONS = ('auto', 'float32', 'bfloat16')
MAX_MEAN_GREY_LEVELS = 2.0
# Kept in float32 by the bfloat16 copy: statistics and per-class tables of the norms.
FLOAT32_MODULES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, ClassAffine)


def channels_last_pays(capability: CpuCapability) -> bool:
    """Whether convolutions run faster channels-last: on CPUs with vectorised kernels."""
    return capability.isa not in ('DEFAULT', 'NO AVX')


def bfloat16_keeps_fused_norms(generator: nn.Module) -> bool:
    """Whether every CLADE layer of ``generator`` keeps a fused kernel in bfloat16: the
    inference kernel folds running statistics, so CLADE on instance norm (statistics per
    image) would fall back to the slower eager formula, which also refuses 1x1 maps."""
    return all(class_norm.folds_in_eval(m.param_free_norm) for m in generator.modules()
               if isinstance(m, CLADE))


def bfloat16_copy(generator: nn.Module) -> nn.Module:
    """A copy of ``generator`` whose convolutions and linear layers compute in bfloat16 while
    its norms keep float32 statistics and tables (see the module docstring)."""
    fast = copy.deepcopy(generator)
    kept = {id(m) for module in fast.modules() if isinstance(module, FLOAT32_MODULES)
            for m in module.modules()}
    for module in fast.modules():
        if id(module) not in kept:
            for name, param in module.named_parameters(recurse=False):
                param.data = param.data.to(torch.bfloat16)
            for name, buffer in module.named_buffers(recurse=False):
                if buffer.is_floating_point():
                    setattr(module, name, buffer.to(torch.bfloat16))
    return fast


def freeze_for_inference(generator: nn.Module) -> nn.Module:
    """Let the layers of ``generator`` that keep per-weight caches for inference (spectral
    norm's sigma, CLADE's folded tables) keep them: its weights are now only read."""
    for module in generator.modules():
        if hasattr(module, 'inference_frozen'):
            module.inference_frozen = True
    return generator


def mean_grey_levels(image: Tensor, reference: Tensor) -> float:
    """Mean absolute difference of two ``[-1, 1]`` images in 8-bit grey levels."""
    return float((image.detach().float() - reference.detach().float()).abs().mean()) * 127.5


class GeneratorInference:
    """Runs a generator for inference in the layout and precision chosen for this CPU.

    Args:
        generator: the float32 generator (put in eval mode and, where it pays, channels-last;
            it stays the reference).
        precision: ``'auto'``, ``'float32'`` or ``'bfloat16'`` (see the module docstring).
        capability: the CPU's, for tests; read from the machine when ``None``.

    Call it as the generator: ``runner(labels, instances, z, position)`` returns float32
    ``(N, 3, H, W)`` images in ``[-1, 1]``. :attr:`precision` is the precision in use.
    """

    def __init__(self, generator: nn.Module, precision: str = 'auto',
                 capability: Optional[CpuCapability] = None):
        if precision not in PRECISIONS:
            raise ValueError(f'precision={precision!r}; choose one of {", ".join(PRECISIONS)}')
        self.capability = capability or cpu_capability()
        self.float32 = freeze_for_inference(generator.eval())
        on_cpu = next(generator.parameters()).device.type == 'cpu'
        self.channels_last = on_cpu and channels_last_pays(self.capability)
        if self.channels_last:
            self.float32.to(memory_format=torch.channels_last)
        self.bfloat16 = None
        self._unchecked = False
        if precision == 'float32':
            reason = 'asked for'
        elif not on_cpu:
            reason = 'the bfloat16 path is for CPUs'
        elif precision == 'auto' and not self.capability.native_bfloat16:
            reason = 'this CPU has no bfloat16 instructions (emulated, it is slower)'
        elif precision == 'auto' and not bfloat16_keeps_fused_norms(generator):
            reason = ('its CLADE layers normalise per image (instance norm), which only the '
                      'float32 kernels fuse')
        else:
            self.bfloat16 = bfloat16_copy(self.float32)
            self._unchecked = precision == 'auto'
            reason = ('asked for' if precision == 'bfloat16' else
                      'native on this CPU; checked against float32 on the first label map')
        self.precision = 'float32' if self.bfloat16 is None else 'bfloat16'
        self._log(f'{self.precision}, {"channels-last" if self.channels_last else "NCHW"} '
                  f'({reason})')

    def _log(self, choice: str) -> None:
        print_log(f'generator inference: {choice}; CPU: {self.capability}', logger='current')

    @torch.no_grad()
    def __call__(self, labels: Tensor, instances: Optional[Tensor] = None,
                 z: Optional[Tensor] = None, position: Optional[Tensor] = None) -> Tensor:
        if z is None and getattr(self.float32, 'z_channels', None) is not None:
            # One code for both precisions, so that the check compares like with like.
            z = torch.randn(labels.shape[0], self.float32.z_channels, device=labels.device)
        if self.bfloat16 is None:
            return self.float32(labels, instances, z, position)
        image = self.bfloat16(labels, instances, z, position).float()
        if self._unchecked:
            self._unchecked = False
            reference = self.float32(labels, instances, z, position)
            difference = mean_grey_levels(image, reference)
            if difference > MAX_MEAN_GREY_LEVELS:
                self.bfloat16, self.precision = None, 'float32'
                self._log(f'float32: bfloat16 images differ by {difference:.2f} grey levels on '
                          f'average, more than {MAX_MEAN_GREY_LEVELS}')
                return reference
            self._log(f'bfloat16 kept: {difference:.2f} grey levels from float32 on average')
        return image
