"""How class-wise SPADE's modulation is (the paper's Fig. 3 observation).

For every SPADE layer of a generator, the gamma and beta maps it computes for some label maps
are compared within and across semantic regions: ``within`` is the spread of the values inside
each class region (pixel-weighted), ``across`` the spread of the classes' mean values. A small
``within / across`` ratio means the modulation is, in effect, a per-class constant: CLADE's
premise.
"""
from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import torch

from ..layers.spade import SPADE
from ..layers.label_map import resize_nearest


@dataclass
class ModulationStats:
    name: str
    channels: int
    height: int
    width: int
    gamma_within: float
    gamma_across: float
    beta_within: float
    beta_across: float

    @property
    def gamma_ratio(self) -> float:
        return self.gamma_within / max(self.gamma_across, 1e-12)

    @property
    def beta_ratio(self) -> float:
        return self.beta_within / max(self.beta_across, 1e-12)


def class_spread(values: torch.Tensor, labels: torch.Tensor):
    """Within-class and across-class standard deviation of ``values`` (N, C, h, w) over the
    regions of ``labels`` (N, h, w), averaged over channels."""
    flat = values.permute(1, 0, 2, 3).reshape(values.shape[1], -1).double()  # (C, P)
    ids = labels.reshape(-1)
    within_sq, total, means = 0.0, 0, []
    for cls in ids.unique():
        region = flat[:, ids == cls]
        within_sq += region.var(dim=1, unbiased=False).mean().item() * region.shape[1]
        total += region.shape[1]
        means.append(region.mean(dim=1))
    means = torch.stack(means)  # (K, C)
    across = means.std(dim=0, unbiased=False).mean().item() if len(means) > 1 else 0.0
    return float(np.sqrt(within_sq / total)), float(across)


@torch.no_grad()
def spade_modulation(generator: torch.nn.Module, labels: torch.Tensor) -> Dict[str, object]:
    """Run ``generator(labels)`` and collect every SPADE layer's gamma and beta.

    Returns:
        ``dict(stats=[ModulationStats per layer], maps={name: (gamma, beta)})`` with the maps
        of the first label map, channel-averaged, for plotting.
    """
    captured, handles = {}, []
    for name, module in generator.named_modules():
        if isinstance(module, SPADE):
            for part in ('gamma', 'beta'):
                conv = getattr(module, f'mlp_{part}')
                handles.append(conv.register_forward_hook(
                    lambda m, i, out, key=(name, part): captured.__setitem__(key, out)))
    if not handles:
        raise ValueError('the generator has no SPADE layer: analyse a SPADE config')
    was_training = generator.training
    generator.eval()
    try:
        generator(labels)
    finally:
        generator.train(was_training)
        for handle in handles:
            handle.remove()
    stats: List[ModulationStats] = []
    maps = {}
    for name in dict.fromkeys(n for n, _ in captured):
        gamma, beta = captured[(name, 'gamma')], captured[(name, 'beta')]
        small = resize_nearest(labels[:, None], tuple(gamma.shape[-2:]))[:, 0]
        gw, ga = class_spread(gamma, small)
        bw, ba = class_spread(beta, small)
        stats.append(ModulationStats(name, gamma.shape[1], gamma.shape[2], gamma.shape[3],
                                     gw, ga, bw, ba))
        maps[name] = (gamma[0].mean(0).cpu().numpy(), beta[0].mean(0).cpu().numpy())
    return dict(stats=stats, maps=maps)


def format_table(stats: List[ModulationStats]) -> str:
    lines = [f'{"layer":<24} {"C":>5} {"h x w":>9} {"gamma within":>13} {"across":>8} '
             f'{"ratio":>6} {"beta within":>12} {"across":>8} {"ratio":>6}']
    for s in stats:
        lines.append(f'{s.name:<24} {s.channels:>5} {f"{s.height}x{s.width}":>9} '
                     f'{s.gamma_within:13.4f} {s.gamma_across:8.4f} {s.gamma_ratio:6.2f} '
                     f'{s.beta_within:12.4f} {s.beta_across:8.4f} {s.beta_ratio:6.2f}')
    return '\n'.join(lines)


def plot_maps(labels: np.ndarray, maps: Dict[str, tuple], palette: np.ndarray, path: str,
              title: str, max_layers: int = 6) -> None:
    """The label map, then gamma (top) and beta (bottom) of up to ``max_layers`` layers."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = list(maps)[-max_layers:]  # the high-resolution end, where the paper looks
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(2.6 * (len(names) + 1), 5.4))
    for row in range(2):
        axes[row, 0].imshow(palette[labels % len(palette)])
        axes[row, 0].set_title('label map' if row == 0 else '')
    for col, name in enumerate(names, 1):
        for row, part in enumerate(('gamma', 'beta')):
            axes[row, col].imshow(maps[name][row], cmap='viridis')
            axes[row, col].set_title(f'{name}\n{part}', fontsize=7)
    for ax in axes.flat:
        ax.axis('off')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
