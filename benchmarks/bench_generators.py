"""Each conditional norm family's generator vs a plain-BN one: speed and peak memory, side by side.

The generators: the SPADE-style generator of the training configs with each norm of
``common.compared_norms()`` (plain BatchNorm, then every registered conditional norm family).

1. Generator inference at 256x256, 151 classes, batch 1, ngf 64, every generator in float32
   NCHW and in each configuration ``GeneratorInference`` runs on this CPU (float32, and the
   precision it picks itself, in the memory layout it picks); ``default`` is the one it picks
   with ``precision='auto'``, which ``SemanticSynthesizer`` runs
   (:mod:`clade_mm.apis.precision`). With ``--published-code DIR`` (a checkout of the
   published CLADE repository) its generators run too, as that code runs them (float32 NCHW,
   one-hot input, positional maps precomputed). All are timed interleaved in one process, so
   machine noise hits all alike, and the ratios of every two generators are printed at the
   end, with the targets the project holds itself to (``targets.json``).
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
import os.path as osp
import subprocess
import sys

import torch

from clade_mm.apis.config import positive_int
from clade_mm.apis.precision import GeneratorInference, freeze_for_inference
from common import (BASELINE, HERE, ROOT, blocky_labels, build_gan, build_generator,
                    compared_norms, cpu_line, interleaved_medians, pairs, published_generators,
                    published_inputs, quiet_logs, required_inputs)

TARGETS = osp.join(HERE, 'targets.json')


def train_step_fn(norm, num_classes, size):
    """One training step of ``norm``'s GAN (built with its optimizers), as a call."""
    from mmengine.logging import MessageHub
    model, wrappers = build_gan(norm, num_classes)
    labels = blocky_labels(num_classes, size)
    image = torch.randint(0, 256, (3, size, size), dtype=torch.uint8)

    def step():
        MessageHub.get_current_instance().update_info('iter', 0)
        model.train_step(dict(inputs=dict(img=[image], label=[labels]), data_samples=None),
                         wrappers)
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
    step = train_step_fn(norm, num_classes, size)
    step()
    before = _status_kb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as refs:
        refs.write('5')  # reset VmHWM, the peak resident set size, to the current one
    step()
    peak = _status_kb('VmHWM')
    return (peak - baseline) / 1024, (peak - before) / 1024


def measure_memory(norm, num_classes, size):
    """:func:`step_peak_memory` in a fresh process, so the generators do not share a heap."""
    code = (f'import sys\nsys.path.insert(0, {HERE!r})\n'
            'import bench_generators as b\n'
            'with b.quiet_logs():\n'
            f'    print(*b.step_peak_memory({norm!r}, {num_classes}, {size}))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    peak, growth = out.stdout.strip().splitlines()[-1].split()
    return float(peak), float(growth)


def configuration(runner) -> str:
    """What a ``GeneratorInference`` runs: its precision and memory layout."""
    return f'{runner.precision} {"channels-last" if runner.channels_last else "NCHW"}'


def inference_calls(norm, labels, num_classes):
    """``{configuration: call}`` of ``norm``'s generator on ``labels`` (weights frozen for
    inference, as ``SemanticSynthesizer`` freezes them): float32 NCHW, float32 as
    ``GeneratorInference`` lays it out, and the precision ``GeneratorInference`` picks with
    ``'auto'`` (forced: its check of bfloat16 images against float32 ones is for trained
    weights, not these random ones); then that configuration of ``'auto'`` and its reason."""
    generator = freeze_for_inference(build_generator(norm, num_classes))
    inputs = required_inputs(generator, labels)
    auto = GeneratorInference(copy.deepcopy(generator), 'auto')
    runners = {'float32 NCHW': copy.deepcopy(generator)}
    for precision in dict.fromkeys(('float32', auto.precision)):
        runner = GeneratorInference(copy.deepcopy(generator), precision)
        runners.setdefault(configuration(runner), runner)
    calls = {config: (lambda run: lambda: run(labels, **inputs))(run)
             for config, run in runners.items()}
    return calls, configuration(auto), auto.reason


def time_inference(args):
    """Median inference seconds of every generator in every configuration, interleaved;
    prints the table. Returns ``{norm: {configuration: seconds}}`` (a published generator
    under ``'published ' + its family``) and ``{norm: default configuration}``."""
    labels = blocky_labels(args.classes, args.size)
    calls, defaults, reasons = {}, {}, {}
    for norm in compared_norms():
        configurations, defaults[norm], reason = inference_calls(norm, labels, args.classes)
        reasons.setdefault((defaults[norm], reason), []).append(norm)
        calls.update({(norm, config): call for config, call in configurations.items()})
    if args.published_code:
        for norm, published in published_generators(args.published_code, args.classes,
                                                     args.size).items():
            inputs = published_inputs(published, labels)
            calls[(f'published {norm}', 'float32 NCHW')] = (
                lambda g, inputs: lambda: g(**inputs))(published, inputs)
            defaults[f'published {norm}'] = 'float32 NCHW'
    with torch.no_grad():
        medians = interleaved_medians(calls, args.repeats)
    fwd = {}
    for (norm, config), t in medians.items():
        fwd.setdefault(norm, {})[config] = t
    print(cpu_line())
    print(f'Generator inference, {args.size}x{args.size}, {args.classes} classes, batch 1, '
          f'median of {args.repeats}; default: what GeneratorInference picks on this CPU, '
          'which SemanticSynthesizer runs:')
    for (default, reason), norms in reasons.items():
        print(f'  {", ".join(norms)}: {default}; {reason}')
    bn = min(fwd[BASELINE].values())
    for norm, times in fwd.items():
        for config, t in times.items():
            print(f'  {norm + " " + config:<38} {t:7.3f} s   this/fastest {BASELINE} '
                  f'{t / bn:5.2f}x')
    if not args.published_code:
        print('  (the published CLADE code was not timed: pass --published-code DIR, a '
              'checkout of its repository)')
    return fwd, defaults


def interleaved_steps(args):
    """Median seconds of one training step of each norm's GAN, interleaved."""
    steps = {norm: train_step_fn(norm, args.classes, args.train_size)
             for norm in compared_norms()}
    return interleaved_medians(steps, args.repeats)


def ratios(fwd, defaults, train, memory):
    """``[(what, value)]``: every two generators (later / earlier in ``compared_norms()``) by
    each measure, and each published generator over its family's default configuration."""
    norms = compared_norms()
    default = {norm: fwd[norm][config] for norm, config in defaults.items()}
    # The baseline's default is its fastest configuration: the bar the families are held to.
    default[BASELINE] = min(fwd[BASELINE].values())
    measures = {  # what: {norm: value}
        'inference, default': default,
        'inference, float32 NCHW': {norm: fwd[norm]['float32 NCHW'] for norm in norms},
        'training step': train,
        'peak training memory': {norm: peak for norm, (peak, _) in memory.items()},
        'step memory growth': {norm: growth for norm, (_, growth) in memory.items()}}
    rows = [(f'{what}, {later} / {earlier}', value[later] / value[earlier])
            for what, value in measures.items() for later, earlier in pairs(norms)]
    rows += [(f'inference, default, published {norm} / {norm}',
              default[f'published {norm}'] / default[norm])
             for norm in norms if f'published {norm}' in default]
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=positive_int, default=5)
    parser.add_argument('--classes', type=positive_int, default=151)
    parser.add_argument('--size', type=positive_int, default=256)
    parser.add_argument('--published-code', metavar='DIR',
                        help='a checkout of the published CLADE repository, to time its '
                        'generators beside ours')
    parser.add_argument('--train-size', type=positive_int, default=128)
    parser.add_argument('--memory-size', type=positive_int, default=256,
                        help='image size of the memory measurement (at 128x128 weights and '
                        'optimizer state, 16 bytes a parameter, dominate the activations)')
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f'{torch.get_num_threads()} threads, {args.classes} classes, batch 1\n')

    with quiet_logs():
        # 1. inference, interleaved
        fwd, defaults = time_inference(args)
        # 2. one training step (G + D), interleaved
        train = interleaved_steps(args)
    print(f'\nTraining step (D + G), {args.train_size}x{args.train_size}:')
    for norm, t in train.items():
        print(f'  {norm:<11} {t:7.3f} s   this/{BASELINE} {t / train[BASELINE]:5.2f}x')

    # 3. peak memory of a training step, each generator in its own process
    memory = {norm: measure_memory(norm, args.classes, args.memory_size)
              for norm in compared_norms()}
    print(f'\nPeak training memory, {args.memory_size}x{args.memory_size} (model, gradients, '
          'optimizer state, activations; and the growth over one step):')
    for norm, (peak, growth) in memory.items():
        print(f'  {norm:<11} {peak:8.0f} MB  this/{BASELINE} {peak / memory[BASELINE][0]:5.2f}x'
              f'   growth {growth:7.0f} MB  this/{BASELINE} '
              f'{growth / memory[BASELINE][1]:5.2f}x')

    with open(TARGETS) as f:
        targets = json.load(f)['targets']
    rows = ratios(fwd, defaults, train, memory)
    print(f'\nRatios ({cpu_line()}):')
    for what, value in rows:
        print(f'  {what:<56} {value:6.2f}x' +
              (f'   target {targets[what]}' if what in targets else ''))
    print('\n' + json.dumps({what: round(value, 3) for what, value in rows}))


if __name__ == '__main__':
    main()
