"""Parameters and multiply-accumulates of a generator, and its norms' overhead (paper Table 3, Fig. 5).

Counts come from the modules themselves, measured with forward hooks on one label map:
a convolution or linear layer costs one MAC per weight per output position plus one per bias
(the paper's "FLOPs"); a conditional norm costs what its family declares
(:meth:`~clade_mm.layers.ConditionalNorm.macs`: by default the convolutions inside it; CLADE's
guided sampling, one operation per output element, the paper's value-assignment convention).

The overhead of a conditional norm is taken relative to the convolution it feeds (``norm_0 ->
conv_0``, ``norm_1 -> conv_1``, ``norm_s -> conv_s`` in a residual block) and summed over the
generator, twice: as measured, and with the paper's formulas (2), (4), (5) (each family's
``paper_params``/``paper_macs``), which assume ``k_c = k_m = 3`` for every convolution (the 1x1
shortcut included) and count no biases. The latter reproduces the paper's 39.21 % / 234.73 %
(SPADE) and 4.57 % / 0.07 % (CLADE).
"""
from dataclasses import dataclass, field
from typing import Dict, List

import torch
import torch.nn as nn

from ..layers import ConditionalNorm
from ..models.spectral_norm import raw_weight


@dataclass
class LayerCost:
    name: str
    kind: str  # 'conv', 'linear' or the norm's class name
    in_channels: int
    out_channels: int
    kernel_size: int
    height: int
    width: int
    params: int
    macs: int


@dataclass
class NormOverhead:
    """One conditional norm and the convolution it feeds."""
    norm: LayerCost
    conv: LayerCost
    paper_norm_params: int
    paper_norm_macs: int
    paper_conv_params: int

    @property
    def param_ratio(self) -> float:
        return self.norm.params / self.conv.params

    @property
    def mac_ratio(self) -> float:
        return self.norm.macs / self.conv.macs


@dataclass
class Complexity:
    params: int
    macs: int
    norm_params: int
    layers: List[LayerCost] = field(default_factory=list)
    overheads: List[NormOverhead] = field(default_factory=list)

    def overhead(self, convention: str = 'measured') -> Dict[str, float]:
        """Summed norm cost over summed cost of the convolutions the norms feed, in percent."""
        if not self.overheads:
            return dict(params=0.0, macs=0.0)
        if convention == 'measured':
            norm_p = sum(o.norm.params for o in self.overheads)
            conv_p = sum(o.conv.params for o in self.overheads)
            norm_m = sum(o.norm.macs for o in self.overheads)
            conv_m = sum(o.conv.macs for o in self.overheads)
        elif convention == 'paper':
            norm_p = sum(o.paper_norm_params for o in self.overheads)
            conv_p = sum(o.paper_conv_params for o in self.overheads)
            norm_m = sum(o.paper_norm_macs for o in self.overheads)
            conv_m = sum(o.paper_conv_params * o.conv.height * o.conv.width
                         for o in self.overheads)
        else:
            raise ValueError(f"convention must be 'measured' or 'paper', got {convention!r}")
        return dict(params=100.0 * norm_p / conv_p, macs=100.0 * norm_m / conv_m)


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def measure_complexity(generator: nn.Module, labels: torch.Tensor,
                       **inputs: torch.Tensor) -> Complexity:
    """Run ``generator(labels, **inputs)`` once and count every layer's parameters and MACs.

    Args:
        generator: a SPADE-style generator (any module whose norms are named ``norm_<k>``
            beside the ``conv_<k>`` they feed can be analysed the same way).
        labels: ``(1, H, W)`` label map of the size to analyse.
        inputs: the generator's named layout inputs (``instances=``...).
    """
    layers: Dict[str, LayerCost] = {}
    norms: Dict[str, ConditionalNorm] = {}
    handles = []
    inside_norm = {id(m) for n in generator.modules() if isinstance(n, ConditionalNorm)
                   for m in n.modules() if m is not n}

    def conv_hook(name):
        def hook(module, inputs, output):
            weight = raw_weight(module)
            per_output = weight[0].numel()
            macs = output.numel() * per_output
            if module.bias is not None:
                macs += output.numel()
            k = module.kernel_size[0] if isinstance(module, nn.Conv2d) else 1
            h, w = output.shape[-2:] if output.dim() == 4 else (1, 1)
            layers[name] = LayerCost(name, 'conv' if isinstance(module, nn.Conv2d) else 'linear',
                                     weight.shape[1], weight.shape[0], k, h, w,
                                     _own_params(module), macs)
        return hook

    def norm_hook(name):
        def hook(module, inputs, output):
            x = inputs[0]
            h, w = x.shape[-2:]
            inside = sum(layers[f'{name}.{sub}'].macs for sub, m in module.named_modules()
                         if isinstance(m, (nn.Conv2d, nn.Linear)) and f'{name}.{sub}' in layers)
            macs = module.macs(x, output, inside)
            layers[name] = LayerCost(name, type(module).__name__, x.shape[1], output.shape[1],
                                     0, h, w, _own_params(module), macs)
        return hook

    for name, module in generator.named_modules():
        if isinstance(module, ConditionalNorm):
            norms[name] = module
            handles.append(module.register_forward_hook(norm_hook(name)))
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            handles.append(module.register_forward_hook(conv_hook(name)))
    try:
        was_training = generator.training
        generator.eval()
        generator(labels, **inputs)
        generator.train(was_training)
    finally:
        for handle in handles:
            handle.remove()

    overheads = []
    for name, norm in norms.items():
        conv_name = name.rsplit('.', 1)[0] + '.conv_' + name.rsplit('_', 1)[1]
        if conv_name not in layers or name not in layers:
            continue
        conv = layers[conv_name]
        cost = layers[name]
        overheads.append(NormOverhead(cost, conv, norm.paper_params(),
                                      norm.paper_macs(cost.height, cost.width),
                                      9 * conv.in_channels * conv.out_channels))
    top_level = [c for n, c in layers.items()
                 if c.kind in ('conv', 'linear') and id(generator.get_submodule(n)) not in
                 inside_norm]
    macs = sum(c.macs for c in top_level) + sum(c.macs for c in layers.values()
                                                if c.kind not in ('conv', 'linear'))
    return Complexity(params=_own_params(generator), macs=macs,
                      norm_params=sum(_own_params(n) for n in norms.values()),
                      layers=list(layers.values()), overheads=overheads)


def format_report(c: Complexity, title: str) -> str:
    """The totals and the per-norm overheads (the paper's Fig. 5) as text."""
    measured, paper = c.overhead('measured'), c.overhead('paper')
    lines = [
        title,
        f'  parameters  {c.params / 1e6:8.2f} M   of which in conditional norms '
        f'{c.norm_params / 1e6:.2f} M ({100 * c.norm_params / c.params:.1f} %)',
        f'  MACs        {c.macs / 1e9:8.2f} G',
        f'  norm overhead vs the conv each norm feeds, summed:',
        f'    measured                   params {measured["params"]:7.2f} %   MACs '
        f'{measured["macs"]:7.2f} %',
        f'    paper formulas (k_c = 3)   params {paper["params"]:7.2f} %   MACs '
        f'{paper["macs"]:7.2f} %',
    ]
    if c.overheads:
        lines.append(f'  {"norm":<22} {"C":>5} {"HxW":>9} {"params":>10} {"conv params":>12} '
                     f'{"ratio":>8} {"MAC ratio":>10}')
        for o in c.overheads:
            lines.append(f'  {o.norm.name:<22} {o.norm.in_channels:>5} '
                         f'{f"{o.norm.height}x{o.norm.width}":>9} {o.norm.params:>10,} '
                         f'{o.conv.params:>12,} {100 * o.param_ratio:7.1f}% '
                         f'{100 * o.mac_ratio:9.1f}%')
    return '\n'.join(lines)


def plot_overheads(c: Complexity, path: str, title: str) -> None:
    """Fig. 5 of the paper for this generator: ratio per layer, absolute params and MACs."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    index = list(range(1, len(c.overheads) + 1))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].bar(index, [100 * o.param_ratio for o in c.overheads], color='tab:orange')
    axes[0].set(title='norm / conv it feeds (params = MACs per layer)', xlabel='layer',
                ylabel='%')
    for ax, key, unit, scale in ((axes[1], 'params', 'M', 1e6), (axes[2], 'macs', 'G', 1e9)):
        width = 0.4
        ax.bar([i - width / 2 for i in index], [getattr(o.conv, key) / scale
                                                for o in c.overheads], width, label='conv')
        ax.bar([i + width / 2 for i in index], [getattr(o.norm, key) / scale
                                                for o in c.overheads], width, label='norm')
        ax.set(title=f'absolute {key}', xlabel='layer', ylabel=unit)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
