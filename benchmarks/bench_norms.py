"""Time every conditional norm family against an affine BatchNorm2d on the generator's real shapes.

Every layer (``common.compared_norms()``: the baseline and each registered family) runs on the
feature shapes the norms of the SPADE-style generator see at 256x256 with ngf=64 (ADE20k: 151
classes; the layout ``common.scene``, 20 classes present and 28 instances, whose instance map
goes to the families that read one), batch 1, measured interleaved in one run so that machine
noise hits all of them alike. ``fwd`` is inference (eval mode, running statistics, no
gradients, weights frozen: the path ``SemanticSynthesizer`` takes), ``fwd+bwd`` a training
step's (batch statistics). Printed: the CPU capability, per-shape median times and ratios to
BatchNorm2d, then the ratio of the summed times, and the one-off cost of deriving the layout's
maps (resized labels and every input the families read), which a generator pays once per
forward for all its norms.

    python benchmarks/bench_norms.py [--repeats 15] [--classes 151] [--size 256]
"""
import argparse
import time

import torch

from clade_mm.apis.config import positive_int
from clade_mm.apis.precision import freeze_for_inference
from clade_mm.layers import SemanticLayout, semantic_layout
from clade_mm.layers.layout import unique_inputs
from common import (BASELINE, build_norm, compared_norms, cpu_line, interleaved_medians,
                    quiet_logs, required_inputs, scene)

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
MODES = ('fwd', 'fwd+bwd')


def derive_maps(layout, specs, shapes, image_size, num_classes):
    """Derive every resolution's maps once, as one generator forward would; returns the
    seconds the resized labels and the inputs ``specs`` took. One-hot maps are derived too,
    untimed, so that no layer pays for them in a timed call."""
    cpu = torch.device('cpu')
    sizes = [(image_size // factor, image_size // factor) for _, factor in shapes]
    start = time.perf_counter()
    for size in sizes:
        layout.labels_at(size, cpu)
        for spec in specs:
            layout.at(spec, size, cpu) if spec.spatial else layout.get(spec, cpu)
    derive = time.perf_counter() - start
    for size in sizes:
        layout.one_hot_at(size, num_classes, cpu, torch.float32)
    return derive


def layer_calls(layer, x):
    """``{mode: call}`` of one layer on ``x`` inside the current semantic layout."""
    def forward():
        layer.eval()
        with torch.no_grad():
            layer(x)

    def forward_backward():
        layer.train()
        layer(x.detach().requires_grad_()).sum().backward()

    return dict(zip(MODES, (forward, forward_backward)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=positive_int, default=15)
    parser.add_argument('--classes', type=positive_int, default=151)
    parser.add_argument('--size', type=positive_int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)

    names = compared_norms()
    families = names[1:]
    labels, given = scene(args.classes, args.size)
    probes = {name: build_norm(name, 8, args.classes) for name in names}
    specs = unique_inputs(spec for layer in probes.values()
                          for spec in getattr(layer, 'layout_inputs', tuple)())
    inputs = {}
    for layer in probes.values():
        inputs.update(required_inputs(layer, labels, given=given))
    layout = SemanticLayout(labels, **inputs)
    shapes = sorted(set(GENERATOR_NORMS), key=lambda s: (-s[1], -s[0]))
    derive = derive_maps(layout, specs, shapes, args.size, args.classes)

    median = {}
    with quiet_logs(), semantic_layout(layout):
        for shape in shapes:
            channels, factor = shape
            side = args.size // factor
            x = torch.randn(1, channels, side, side)
            # Frozen as SemanticSynthesizer freezes a generator: inference keeps folded tables.
            calls = {(name, shape, mode): call for name in names
                     for mode, call in layer_calls(freeze_for_inference(
                         build_norm(name, channels, args.classes)), x).items()}
            median.update(interleaved_medians(calls, args.repeats, warm_every_time=True))

    print(cpu_line())
    print(f'{args.classes} classes, {args.size}x{args.size} labels ({len(labels.unique())} '
          f'classes present, {len(given["instances"].unique())} instances), batch 1, float32 '
          f'NCHW, median of {args.repeats}\n')
    print(f'{"C x H x W":>16} {"mode":>8} {"BN ms":>8}' +
          ''.join(f'{name + " x":>14}' for name in families))
    for shape in shapes:
        channels, factor = shape
        side = args.size // factor
        for mode in MODES:
            bn = median[(BASELINE, shape, mode)]
            print(f'{f"{channels}x{side}x{side}":>16} {mode:>8} {bn * 1e3:8.3f}' +
                  ''.join(f'{median[(name, shape, mode)] / bn:14.2f}' for name in families))
    print('\nWhole generator (every norm of GENERATOR_NORMS, summed), time relative to '
          'BatchNorm2d:')
    for mode in MODES:
        total = {name: sum(median[(name, s, mode)] for s in GENERATOR_NORMS) for name in names}
        print(f'  {mode:>8}: ' + ', '.join(
            f'{name} {total[name] / total[BASELINE]:.2f}x' for name in families) +
            f'  (BatchNorm2d {total[BASELINE] * 1e3:.1f} ms)')
    read = ', '.join(spec.name for spec in specs) or 'none'
    print(f'\nOnce per forward: deriving resized labels and the inputs the norms read ({read}) '
          f'for all resolutions took {derive * 1e3:.1f} ms.')


if __name__ == '__main__':
    main()
