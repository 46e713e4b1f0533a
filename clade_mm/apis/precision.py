"""How a generator runs for inference on this CPU: its precision and memory layout.

* Memory layout: channels-last on CPUs whose convolution kernels are vectorised (PyTorch's
  kernels are AVX2, AVX-512 or another vector set), where oneDNN's convolutions run it about
  twice as fast as NCHW; NCHW elsewhere.
* Precision (``precision=``): ``'float32'`` is the reference. ``'bfloat16'`` casts the
  convolutions and linear layers (what the norms declare in ``float32_modules``, their
  statistics and class-wise tables, stays float32: they are small, and rounding them would
  shift every pixel of a class); it halves the memory
  traffic and, on a CPU with bfloat16 instructions, runs the convolutions several times faster.
  Without those instructions it is emulated and slower than float32. ``'auto'`` (the default)
  takes bfloat16 only where the CPU computes it natively, every conditional norm keeps its
  fast path in it (``fuses_for_inference``), and on the first label
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

from ..layers import ConditionalNorm, SemanticLayout
from ..ops.cpu import CpuCapability, cpu_capability

PRECISIONS = ('auto', 'float32', 'bfloat16')
MAX_MEAN_GREY_LEVELS = 2.0
# Kept in float32 by the bfloat16 copy besides what conditional norms declare: statistics.
FLOAT32_MODULES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def channels_last_pays(capability: CpuCapability) -> bool:
    """Whether convolutions run faster channels-last: on CPUs with vectorised kernels."""
    return capability.isa not in ('DEFAULT', 'NO AVX')


def slow_norms_in(generator: nn.Module, dtype: torch.dtype) -> list:
    """The conditional norms of ``generator`` that would leave their fast path in ``dtype``
    (each family declares it: CLADE's bfloat16 kernel folds running statistics, so CLADE on
    instance norm would fall back to its slower eager formula)."""
    return [m for m in generator.modules()
            if isinstance(m, ConditionalNorm) and not m.fuses_for_inference(dtype)]


def float32_modules(model: nn.Module) -> list:
    """What a bfloat16 copy of ``model`` keeps in float32: statistics of torch's norms and
    what every conditional norm declares."""
    kept = [m for m in model.modules() if isinstance(m, FLOAT32_MODULES)]
    kept += [part for m in model.modules() if isinstance(m, ConditionalNorm)
             for part in m.float32_modules()]
    return kept


def bfloat16_copy(generator: nn.Module) -> nn.Module:
    """A copy of ``generator`` whose convolutions and linear layers compute in bfloat16 while
    its norms keep float32 statistics and tables (see the module docstring)."""
    fast = copy.deepcopy(generator)
    kept = {id(m) for module in float32_modules(fast) for m in module.modules()}
    for module in fast.modules():
        if id(module) not in kept:
            for name, param in module.named_parameters(recurse=False):
                param.data = param.data.to(torch.bfloat16)
            for name, buffer in module.named_buffers(recurse=False):
                if buffer.is_floating_point():
                    setattr(module, name, buffer.to(torch.bfloat16))
    return fast


def freeze_for_inference(generator: nn.Module) -> nn.Module:
    """Let the layers of ``generator`` that keep per-weight caches for inference (an
    ``inference_frozen`` attribute: spectral norm's sigma, folded norm tables) keep them: its
    weights are now only read."""
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

    Call it as the generator: ``runner(labels, **inputs)`` returns float32 ``(N, 3, H, W)``
    images in ``[-1, 1]``. :attr:`precision` is the precision in use, :attr:`channels_last`
    the memory layout, :attr:`reason` why.
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
        elif precision == 'auto' and (slow := slow_norms_in(generator, torch.bfloat16)):
            reason = (f'its {type(slow[0]).__name__} layers ({slow[0].extra_repr()}) keep their '
                      'fast path only in float32')
        else:
            self.bfloat16 = bfloat16_copy(self.float32)
            self._unchecked = precision == 'auto'
            reason = ('asked for' if precision == 'bfloat16' else
                      'native on this CPU; checked against float32 on the first label map')
        self.precision = 'float32' if self.bfloat16 is None else 'bfloat16'
        self.reason = reason
        self._log(f'{self.precision}, {"channels-last" if self.channels_last else "NCHW"} '
                  f'({reason})')

    def _log(self, choice: str) -> None:
        print_log(f'generator inference: {choice}; CPU: {self.capability}', logger='current')

    @torch.no_grad()
    def __call__(self, labels: Tensor, **inputs: Optional[Tensor]) -> Tensor:
        if self.bfloat16 is None:
            return self.float32(labels, **inputs)
        if self._unchecked:
            # One draw of every random input for both precisions, so that the check compares
            # like with like.
            layout = SemanticLayout(labels)
            for spec in self.float32.layout_inputs():
                if spec.random and inputs.get(spec.name) is None:
                    inputs[spec.name] = spec.default(layout, labels.device)
        image = self.bfloat16(labels, **inputs).float()
        if self._unchecked:
            self._unchecked = False
            reference = self.float32(labels, **inputs)
            difference = mean_grey_levels(image, reference)
            if difference > MAX_MEAN_GREY_LEVELS:
                self.bfloat16, self.precision = None, 'float32'
                self._log(f'float32: bfloat16 images differ by {difference:.2f} grey levels on '
                          f'average, more than {MAX_MEAN_GREY_LEVELS}')
                return reference
            self._log(f'bfloat16 kept: {difference:.2f} grey levels from float32 on average')
        return image
