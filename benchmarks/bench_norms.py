"""Time SPADE, CLADE and CLADE-ICPE against an affine BatchNorm2d on the generator's real shapes.

Every layer runs on the feature shapes the norms of the SPADE/CLADE generator see at 256x256
with ngf=64 (ADE20k: 151 classes), batch 1, measured interleaved in one run so that machine
noise hits all of them alike. ``fwd`` is inference (eval mode, running statistics, no
gradients, weights frozen: the path ``SemanticSynthesizer`` takes), ``fwd+bwd`` a training
step's (batch statistics). Printed: the CPU capability, per-shape median times and ratios to BatchNorm2d,
then the ratio of the summed times, and the one-off cost of deriving the layout's maps, which
a generator pays once per forward for all its norms.

    python benchmarks/bench_norms.py [--repeats 15] [--classes 151] [--size 256]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn

from clade_mm.apis.precision import freeze_for_inference
from clade_mm.layers import CLADE, CLADEICPE, SPADE, SemanticLayout
from clade_mm.ops.cpu import cpu_capability

# (channels, downsampling factor from the image size) of every conditional norm in the
# generator ('normal' upsampling, ngf 64): head_0, middle_0/1, then up_0..up_3 with their
# shortcut norms (norm_s on fin when fin != fout).
GENERATOR_NORMS = [
    (1024, 32), (1024, 32),                        # head_0
    (1024, 16), (1024, 16), (1024, 16), (1024, 16),  # middle_0, middle_1
    (1024, 8), (512, 8), (1024, 8),                # up_0 (+ norm_s)
    (512, 4), (256, 4), (512, 4),                  # up_1
    (256, 2), (128, 2), (256, 2),                  # up_2
    (128, 1), (64, 1), (128, 1),                   # up_3
]


def blocky_labels(num_classes: int, size: int, seed: int = 0) -> torch.Tensor:
    """A label map of square regions of many classes, like a scene parsing map."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, num_classes, (1, size // 16, size // 16), generator=g)
    return coarse.repeat_interleave(16, 1).repeat_interleave(16, 2)


def time_call(fn, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--classes', type=int, default=151)
    parser.add_argument('--size', type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)

    labels = blocky_labels(args.classes, args.size)
    layout = SemanticLayout(labels)
    shapes = sorted(set(GENERATOR_NORMS), key=lambda s: (-s[1], -s[0]))
    makers = {
        'BatchNorm2d': lambda c: nn.BatchNorm2d(c),
        'CLADE': lambda c: CLADE(c, args.classes),
        'CLADE-ICPE': lambda c: CLADEICPE(c, args.classes),
        'SPADE': lambda c: SPADE(c, args.classes),
    }
    # Derive every resolution's maps once, as one generator forward would.
    cpu = torch.device('cpu')
    derive_start = time.perf_counter()
    for _, factor in shapes:
        size = (args.size // factor, args.size // factor)
        layout.labels_at(size, cpu)
        layout.icpe_at(size, cpu)
    derive = time.perf_counter() - derive_start
    for _, factor in shapes:
        size = (args.size // factor, args.size // factor)
        layout.one_hot_at(size, args.classes, cpu, torch.float32)

    times = {(name, shape, mode): [] for name in makers for shape in shapes
             for mode in ('fwd', 'fwd+bwd')}
    for shape in shapes:
        channels, factor = shape
        side = args.size // factor
        x = torch.randn(1, channels, side, side)
        # Frozen as SemanticSynthesizer freezes a generator: inference keeps folded tables.
        layers = {name: freeze_for_inference(make(channels)) for name, make in makers.items()}
        for _ in range(args.repeats):
            for name, layer in layers.items():  # interleaved: noise hits all alike
                def forward():
                    layer.eval()
                    with torch.no_grad():
                        layer(x) if name == 'BatchNorm2d' else layer(x, layout=layout)

                def forward_backward():
                    layer.train()
                    xg = x.detach().requires_grad_()
                    out = layer(xg) if name == 'BatchNorm2d' else layer(xg, layout=layout)
                    out.sum().backward()

                times[(name, shape, 'fwd')].append(time_call(forward, warmup=1))
                times[(name, shape, 'fwd+bwd')].append(time_call(forward_backward, warmup=1))

    median = {k: statistics.median(v) for k, v in times.items()}
    print(f'CPU: {cpu_capability()}')
    print(f'{args.classes} classes, {args.size}x{args.size} labels, batch 1, float32 NCHW, '
          f'median of {args.repeats}\n')
    header = f'{"C x H x W":>16} {"mode":>8} {"BN ms":>8}' + ''.join(
        f'{name + " x":>14}' for name in makers if name != 'BatchNorm2d')
    print(header)
    for shape in shapes:
        channels, factor = shape
        side = args.size // factor
        for mode in ('fwd', 'fwd+bwd'):
            bn = median[('BatchNorm2d', shape, mode)]
            row = f'{f"{channels}x{side}x{side}":>16} {mode:>8} {bn * 1e3:8.3f}'
            row += ''.join(f'{median[(name, shape, mode)] / bn:14.2f}' for name in makers
                           if name != 'BatchNorm2d')
            print(row)
    print('\nWhole generator (every norm of GENERATOR_NORMS, summed), time relative to '
          'BatchNorm2d:')
    for mode in ('fwd', 'fwd+bwd'):
        total = {name: sum(median[(name, s, mode)] for s in GENERATOR_NORMS) for name in makers}
        print(f'  {mode:>8}: ' + ', '.join(
            f'{name} {total[name] / total["BatchNorm2d"]:.2f}x' for name in makers
            if name != 'BatchNorm2d') + f'  (BatchNorm2d {total["BatchNorm2d"] * 1e3:.1f} ms)')
    print(f'\nOnce per forward: deriving resized labels and ICPE maps for all resolutions took '
          f'{derive * 1e3:.1f} ms.')


if __name__ == '__main__':
    main()
