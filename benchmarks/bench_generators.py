"""SPADE vs CLADE vs CLADE-ICPE vs a plain-BN generator: speed and peak memory, side by side.

1. Generator inference at 256x256, 151 classes, batch 1, ngf 64, every generator in each
   layout and precision this CPU offers: float32 NCHW, float32 channels-last, and bfloat16
   channels-last where the CPU computes bfloat16 natively; ``default`` is the one
   ``SemanticSynthesizer`` runs (:mod:`clade_mm.apis.precision`, chosen from the CPU). With
   ``--published-code DIR`` (a checkout of the published CLADE repository) its CLADE and
   CLADE-ICPE generators run too, as that code runs them (float32 NCHW, one-hot input, ICPE
   maps precomputed). All are timed interleaved in one process, so machine noise hits all
   alike, and the ratios the project holds itself to are printed at the end.
2. One training step (D step + G step of SemanticGAN) at a smaller size (default 128x128).
3. Peak training memory: each generator in a fresh child process, the peak resident set size
   of a steady-state training step above what the imported libraries hold (model, gradients,
   optimizer state, activations), and the growth over the step itself.

    python benchmarks/bench_generators.py [--repeats 5] [--published-code DIR]
                                          [--train-size 128] [--memory-size 256]
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from clade_mm.ops.cpu import cpu_capability

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # benchmarks.published_clade, when run as a script

FUSED_ADAM = True  # as configs/_base_/schedules/two_time_scale_adam.py
NORMS = {'SPADE': dict(type='SPADE'), 'CLADE': dict(type='CLADE'),
         'CLADE-ICPE': dict(type='CLADE-ICPE'), 'BN': dict(type='BN')}


def blocky_labels(num_classes, height, width, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, num_classes, (1, height // 16, width // 16), generator=g)
    return coarse.repeat_interleave(16, 1).repeat_interleave(16, 2)


def quiet_logs():
    """Keep mmengine's per-parameter initialisation report out of the measurements' output."""
    import logging
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmengine', log_level='WARNING').setLevel(logging.WARNING)


def build_gan(norm, num_classes, base_channels=64):
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')
    import clade_mm.models  # noqa: F401
    from mmagic.registry import MODELS
    model = MODELS.build(dict(
        type='SemanticGAN',
        data_preprocessor=dict(type='DataPreprocessor', non_image_keys=['label', 'instance'],
                               data_keys=None),
        generator=dict(type='SemanticGenerator', num_classes=num_classes,
                       norm_cfg=NORMS[norm], base_channels=base_channels),
        discriminator=dict(type='MultiScaleDiscriminator', num_classes=num_classes),
        perceptual_loss=None))
    model.init_weights()
    return model


def train_step_fn(model, num_classes, size):
    from mmengine.logging import MessageHub
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    wrappers = OptimWrapperDict(
        generator=OptimWrapper(torch.optim.Adam(model.generator.parameters(), 1e-4,
                                                betas=(0.0, 0.9), fused=FUSED_ADAM)),
        discriminator=OptimWrapper(torch.optim.Adam(model.discriminator.parameters(), 4e-4,
                                                    betas=(0.0, 0.9), fused=FUSED_ADAM)))
    labels = blocky_labels(num_classes, size, size)
    data = dict(inputs=dict(img=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8)],
                            label=[labels]), data_samples=None)

    def step():
        MessageHub.get_current_instance().update_info('iter', 0)
        model.train_step(dict(inputs={k: list(v) for k, v in data['inputs'].items()},
                              data_samples=None), wrappers)
    return step


def _status_kb(field):
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def step_peak_memory(norm, num_classes, size):
    """Training memory (MB): peak RSS of a steady-state step above the RSS the imported
    libraries hold before any model exists (weights, gradients, optimizer state and
    activations: what ``torch.cuda.max_memory_allocated`` reports on a GPU), and the growth
    over the step alone.

    Runs in a child process of its own (see ``measure_memory``): one warm-up step creates
    the optimizer state, then the kernel's peak counter is reset (``/proc/self/clear_refs``)
    and a second step is measured.
    """
    import clade_mm.models  # noqa: F401  (the libraries, before any tensor of the model)
    baseline = _status_kb('VmRSS')
    model = build_gan(norm, num_classes)
    step = train_step_fn(model, num_classes, size)
    step()
    before = _status_kb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as refs:
        refs.write('5')  # reset VmHWM, the peak resident set size, to the current one
    step()
    peak = _status_kb('VmHWM')
    return (peak - baseline) / 1024, (peak - before) / 1024


def measure_memory(norm, num_classes, size):
    """:func:`step_peak_memory` in a fresh process, so the generators do not share a heap."""
    code = ('import benchmarks.bench_generators as b\n'
            'b.quiet_logs()\n'
            f'print(*b.step_peak_memory({norm!r}, {num_classes}, {size}))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    peak, growth = out.stdout.strip().splitlines()[-1].split()
    return float(peak), float(growth)


def fastest(times, norm):
    return min(t for name, t in times.items() if name.startswith(norm + ' '))


def default_configuration(capability):
    """The configuration ``SemanticSynthesizer`` runs on this CPU (precision ``'auto'``) for a
    model whose bfloat16 images pass its float32 check, as trained ones do
    (``benchmarks/bench_precision.py``); random weights, timed here, need not."""
    from clade_mm.apis.precision import channels_last_pays
    precision = 'bfloat16' if capability.native_bfloat16 else 'float32'
    return f'{precision} {"channels-last" if channels_last_pays(capability) else "NCHW"}'


def inference_runners(norm, num_classes, capability):
    """``{'NORM configuration': callable(labels)}``: each layout and precision the CPU offers,
    through the same code as ``SemanticSynthesizer`` (weights frozen for inference)."""
    from clade_mm.apis.precision import GeneratorInference, freeze_for_inference
    generator = freeze_for_inference(build_gan(norm, num_classes).generator.eval())
    runners = {f'{norm} float32 NCHW': copy.deepcopy(generator)}
    runners[f'{norm} float32 channels-last'] = GeneratorInference(
        copy.deepcopy(generator), 'float32', capability)
    if capability.native_bfloat16:
        runners[f'{norm} bfloat16 channels-last'] = GeneratorInference(
            copy.deepcopy(generator), 'bfloat16', capability)
    return runners


def time_inference(args):
    """Median inference times of every configuration, interleaved; prints the table."""
    from clade_mm.layers import icpe_map
    capability = cpu_capability()
    labels = blocky_labels(args.classes, args.size, args.size)
    runners = {}
    for norm in ('BN', 'CLADE', 'CLADE-ICPE', 'SPADE'):
        runners.update(inference_runners(norm, args.classes, capability))
    if args.published_code:
        from benchmarks.published_clade import build_published_generator, one_hot
        positions = icpe_map(labels)  # the published pipeline computes them offline
        for name, icpe in (('published CLADE', False), ('published CLADE-ICPE', True)):
            published = build_published_generator(args.published_code, args.classes,
                                                   args.size, icpe)
            runners[name] = (lambda g, icpe: lambda labels: g(
                one_hot(labels, args.classes), input_dist=positions if icpe else None))(
                    published, icpe)
    times = {name: [] for name in runners}
    with torch.no_grad():
        for run in runners.values():
            run(labels)  # warm-up
        for _ in range(args.repeats):
            for name, run in runners.items():
                start = time.perf_counter()
                run(labels)
                times[name].append(time.perf_counter() - start)
    fwd = {name: statistics.median(t) for name, t in times.items()}
    default = default_configuration(capability)
    print(f'CPU: {capability}')
    print(f'Generator inference, {args.size}x{args.size}, {args.classes} classes, batch 1, '
          f'median of {args.repeats} (SemanticSynthesizer runs {default} on this CPU):')
    bn = fastest(fwd, 'BN')
    for name, t in fwd.items():
        print(f'  {name:<34} {t:7.3f} s   this/fastest BN {t / bn:5.2f}x')
    if not args.published_code:
        print('  (the published CLADE code was not timed: pass --published-code DIR, a '
              'checkout of its repository)')
    for norm in ('BN', 'CLADE', 'CLADE-ICPE', 'SPADE'):
        fwd[f'{norm} default'] = fwd[f'{norm} {default}']
    return fwd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--classes', type=int, default=151)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--published-code', metavar='DIR',
                        help='a checkout of the published CLADE repository, to time its '
                        'generators beside ours')
    parser.add_argument('--train-size', type=int, default=128)
    parser.add_argument('--memory-size', type=int, default=256,
                        help='image size of the memory measurement (at 128x128 weights and '
                        'optimizer state, 16 bytes a parameter, dominate the activations)')
    args = parser.parse_args()
    quiet_logs()
    torch.manual_seed(0)
    print(f'{torch.get_num_threads()} threads, {args.classes} classes, batch 1\n')

    # 1. inference, interleaved
    fwd = time_inference(args)
    # 2. one training step (G + D), interleaved
    steps = {name: train_step_fn(build_gan(name, args.classes), args.classes,
                                 args.train_size) for name in ('SPADE', 'CLADE', 'BN')}
    times = {name: [] for name in steps}
    for step in steps.values():
        step()  # warm-up
    for _ in range(args.repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    train = {name: statistics.median(t) for name, t in times.items()}
    print(f'\nTraining step (D + G), {args.train_size}x{args.train_size}:')
    for name, t in train.items():
        print(f'  {name:<11} {t:7.3f} s   SPADE/this {train["SPADE"] / t:5.2f}x')
    del steps

    # 3. peak memory of a training step, each generator in its own process
    memory = {name: measure_memory(name, args.classes, args.memory_size)
              for name in ('SPADE', 'CLADE', 'BN')}
    print(f'\nPeak training memory, {args.memory_size}x{args.memory_size} (model, gradients, '
          'optimizer state, activations; and the growth over one step):')
    for name, (peak, growth) in memory.items():
        print(f'  {name:<11} {peak:8.0f} MB  this/SPADE {peak / memory["SPADE"][0]:5.2f}x   '
              f'growth {growth:7.0f} MB  this/SPADE {growth / memory["SPADE"][1]:5.2f}x')

    ratios = [  # (what, value, target)
        ('inference, CLADE default / fastest BN', fwd['CLADE default'] / fastest(fwd, 'BN'),
         '<= 1.10'),
        ('inference, CLADE-ICPE default / CLADE default',
         fwd['CLADE-ICPE default'] / fwd['CLADE default'], '<= 1.10'),
        ('inference, SPADE / CLADE, default', fwd['SPADE default'] / fwd['CLADE default'],
         '>= 3.8'),
        ('inference, SPADE / CLADE, float32 NCHW',
         fwd['SPADE float32 NCHW'] / fwd['CLADE float32 NCHW'], '>= 3.8'),
        ('training step, SPADE / CLADE', train['SPADE'] / train['CLADE'], ''),
        ('peak training memory, CLADE / SPADE', memory['CLADE'][0] / memory['SPADE'][0], ''),
        ('step memory growth, CLADE / SPADE', memory['CLADE'][1] / memory['SPADE'][1], '')]
    if 'published CLADE' in fwd:
        ratios[2:2] = [
            ('inference, published CLADE / CLADE default',
             fwd['published CLADE'] / fwd['CLADE default'], '>= 2.5'),
            ('inference, published CLADE-ICPE / CLADE-ICPE default',
             fwd['published CLADE-ICPE'] / fwd['CLADE-ICPE default'], '')]
    print(f'\nRatios (CPU: {cpu_capability()}):')
    for what, value, target in ratios:
        print(f'  {what:<52} {value:6.2f}x' + (f'   target {target}' if target else ''))
    print('\n' + json.dumps({what: round(value, 3) for what, value, _ in ratios}))

if __name__ == '__main__':
    main()
