"""Each conditional norm family's generator vs a plain-BN one: speed and peak memory, side by side.

The generators: for each norm of ``common.compared_norms()`` (plain BatchNorm, then every
registered conditional norm family) the family's ADE20k config (``common.model_config``: its
generator as trained, with a code ``z`` and a style encoder where the config has them), or
for the plain baseline the SPADE-style generator of the training configs with that norm. The
layout: ``common.scene``, 16 x 16 squares (16 pixels each at 256x256) of 20 classes and an
instance map of 28 instances; each generator gets the layout inputs it declares without a
default from it (the others, ``z`` and instance noise, it draws itself inside the measured
call, as inference does).

1. Generator inference at 256x256, 151 classes, batch 1, ngf 64, every generator in float32
   NCHW and in each configuration ``GeneratorInference`` runs on this CPU (float32, and the
   precision it picks itself, in the memory layout it picks); ``default`` is the one it picks
   with ``precision='auto'``, which ``SemanticSynthesizer`` runs
   (:mod:`clade_mm.apis.precision`). With a checkout of a published codebase
   (``common.PUBLISHED_CODEBASES``: ``--published-code DIR`` the published CLADE repository,
   ``--published-inade-code DIR`` the published INADE one, ``--published-sean-code DIR`` the
   published SEAN one) its generators run too, as that code runs them (float32 NCHW, one-hot
   inputs, positional maps, noise and style codes made beforehand).
   All are timed interleaved in one process, so machine noise hits all alike, and the ratios
   of every two generators are printed at the end, with the targets the project holds itself
   to (``targets.json``).
2. One training step (D step + G step of SemanticGAN) at a smaller size (default 128x128),
   the photo also the style encoder's reference where a config has one.
3. Peak training memory: each generator in a fresh child process, the peak resident set size
   of a steady-state training step above what the imported libraries hold (model, gradients,
   optimizer state, activations), and the growth over the step itself.

    python benchmarks/bench_generators.py [--repeats 5] [--models NAME ...] [--published-code DIR]
                                          [--published-inade-code DIR]
                                          [--published-sean-code DIR]
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
from common import (BASELINE, HERE, PUBLISHED_CODEBASES, ROOT, build_gan, build_generator,
                    compared_norms, cpu_line, interleaved_medians, pairs, quiet_logs,
                    required_inputs, scene)

TARGETS = osp.join(HERE, 'targets.json')


def batch_inputs(model, labels, given):
    """The layout inputs of a training batch for ``model`` (a SemanticGAN) on ``labels``: every
    input its generator declares without a default (``given``'s where it has one), under the
    batch key ``model.layout_keys`` gives it, one ``(1, H, W)`` map per sample as a dataset's
    pipeline packs them."""
    keys = {name: key for key, name in model.layout_keys.items()}
    # what the generator's style encoder gives it from the photo (SEAN's style codes) is no
    # batch key: the GAN encodes the batch's photo
    encoder = getattr(model.generator, 'style_encoder', None)
    inputs = {}
    for name, value in required_inputs(model.generator, labels, given=given).items():
        if name not in keys and encoder is not None:
            continue
        if name not in keys:
            raise SystemExit(f'the generator needs the layout input {name!r}, which no batch key '
                             f'of the GAN carries (layout_keys: {model.layout_keys})')
        inputs[keys[name]] = [sample for sample in value]
    return inputs


def train_step_fn(norm, num_classes, size):
    """One training step of ``norm``'s GAN (built with its optimizers) on a :func:`scene` of
    ``size`` x ``size``, as a call; with the C library's allocator set as the runtime config's
    ``KeepFreedMemoryHook`` sets it for CPU training."""
    from mmengine.logging import MessageHub

    from clade_mm.engine import keep_freed_memory
    keep_freed_memory()
    model, wrappers = build_gan(norm, num_classes, size=size)
    labels, given = scene(num_classes, size)
    image = torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
    inputs = dict(img=[image], label=[labels], **batch_inputs(model, labels, given))

    def step():
        MessageHub.get_current_instance().update_info('iter', 0)
        model.train_step(dict(inputs=inputs, data_samples=None), wrappers)
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


def inference_calls(norm, labels, given, num_classes):
    """``{configuration: call}`` of ``norm``'s generator on ``labels`` and the inputs it
    requires (``given``'s, the scene's instance map) (weights frozen for inference, as
    ``SemanticSynthesizer`` freezes them): float32 NCHW, float32 as ``GeneratorInference``
    lays it out, and the precision ``GeneratorInference`` picks with ``'auto'`` (forced: its
    check of bfloat16 images against float32 ones is for trained weights, not these random
    ones); then that configuration of ``'auto'`` and its reason."""
    generator = freeze_for_inference(build_generator(norm, num_classes,
                                                     size=labels.shape[-1]))
    inputs = required_inputs(generator, labels, given=given)
    # 'auto' is built only for its choice; each configuration keeps one copy of the weights
    # (SEAN's ADE20k generator holds 2.4 GB of per-class projections)
    auto = GeneratorInference(copy.deepcopy(generator), 'auto')
    default, reason, precisions = configuration(auto), auto.reason, ('float32', auto.precision)
    del auto
    runners = {'float32 NCHW': generator}
    laid_out = copy.deepcopy(generator)  # the float32 weights in GeneratorInference's layout,
    for precision in dict.fromkeys(precisions):  # shared by its float32 and bfloat16 runners
        runner = GeneratorInference(laid_out, precision)
        runners.setdefault(configuration(runner), runner)
    calls = {config: (lambda run: lambda: run(labels, **inputs))(run)
             for config, run in runners.items()}
    return calls, default, reason


def time_inference(args):
    """Median inference seconds of every generator in every configuration, interleaved;
    prints the table. Returns ``{norm: {configuration: seconds}}`` (a published generator
    under ``'published ' + its family``) and ``{norm: default configuration}``."""
    labels, given = scene(args.classes, args.size)
    calls, defaults, reasons = {}, {}, {}
    for norm in args.models:
        configurations, defaults[norm], reason = inference_calls(norm, labels, given,
                                                                 args.classes)
        reasons.setdefault((defaults[norm], reason), []).append(norm)
        calls.update({(norm, config): call for config, call in configurations.items()})
    not_timed = []
    for codebase in PUBLISHED_CODEBASES:
        path = getattr(args, published_dest(codebase))
        if not path:
            not_timed.append(codebase)
            continue
        for norm, published in codebase.published_generators(path, args.classes,
                                                             args.size).items():
            inputs = codebase.published_inputs(published, labels, given)
            calls[(f'published {norm}', 'float32 NCHW')] = (
                lambda g, inputs: lambda: g(**inputs))(published, inputs)
            defaults[f'published {norm}'] = 'float32 NCHW'
    with torch.no_grad():
        medians = interleaved_medians(calls, args.repeats)
    fwd = {}
    for (norm, config), t in medians.items():
        fwd.setdefault(norm, {})[config] = t
    print(cpu_line())
    print(f'Generator inference, {args.size}x{args.size}, {args.classes} classes (the label '
          f'map: {describe_scene(labels, given)}), batch 1, median of {args.repeats}; '
          'default: what GeneratorInference picks on this CPU, which SemanticSynthesizer runs:')
    for (default, reason), norms in reasons.items():
        print(f'  {", ".join(norms)}: {default}; {reason}')
    bn = min(fwd[BASELINE].values())
    for norm, times in fwd.items():
        for config, t in times.items():
            print(f'  {norm + " " + config:<38} {t:7.3f} s   this/fastest {BASELINE} '
                  f'{t / bn:5.2f}x')
    for codebase in not_timed:
        print(f'  (the published {codebase.REPOSITORY} code was not timed: pass '
              f'{codebase.OPTION} DIR, a checkout of its repository)')
    return fwd, defaults


def describe_scene(labels, given):
    """``'20 classes present, 28 instances'``: what the label map and its inputs hold."""
    words = [f'{len(torch.unique(labels))} classes present']
    words += [f'{len(torch.unique(value))} {name}' for name, value in given.items()]
    return ', '.join(words)


def published_dest(codebase):
    """The ``args`` attribute of a published codebase's option."""
    return codebase.OPTION.lstrip('-').replace('-', '_')


def interleaved_steps(args):
    """Median seconds of one training step of each norm's GAN, interleaved."""
    steps = {norm: train_step_fn(norm, args.classes, args.train_size)
             for norm in args.models}
    return interleaved_medians(steps, args.repeats)


def ratios(norms, fwd, defaults, train, memory):
    """``[(what, value)]``: every two of ``norms`` (later / earlier in ``compared_norms()``)
    by each measure, and each published generator over its family's default configuration."""
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


def meets(value, target):
    """Whether ``value`` meets a target of ``targets.json`` (``'<= 1.15'``, ``'>= 5'``)."""
    op, bound = target.split()
    if op not in ('<=', '>='):
        raise ValueError(f'targets.json: {target!r} is not "<= x" or ">= x"')
    return value <= float(bound) if op == '<=' else value >= float(bound)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=positive_int, default=5)
    parser.add_argument('--classes', type=positive_int, default=151)
    parser.add_argument('--size', type=positive_int, default=256)
    for codebase in PUBLISHED_CODEBASES:
        parser.add_argument(codebase.OPTION, metavar='DIR', dest=published_dest(codebase),
                            help=f'a checkout of the published {codebase.REPOSITORY} '
                            'repository, to time its generators beside ours')
    parser.add_argument('--train-size', type=positive_int, default=128)
    parser.add_argument('--memory-size', type=positive_int, default=256,
                        help='image size of the memory measurement (at 128x128 weights and '
                        'optimizer state, 16 bytes a parameter, dominate the activations)')
    parser.add_argument('--models', nargs='+', metavar='NAME', choices=compared_norms(),
                        default=compared_norms(),
                        help=f'time these only (default: all of {", ".join(compared_norms())}; '
                        f'{BASELINE} is the baseline every ratio table needs)')
    args = parser.parse_args()
    # in compared_norms()'s order, the baseline first: the ratios are later / earlier
    args.models = [name for name in compared_norms() if name in args.models or name == BASELINE]
    torch.manual_seed(0)
    print(f'{torch.get_num_threads()} threads, {args.classes} classes, batch 1\n')

    with quiet_logs():
        # 1. inference, interleaved
        fwd, defaults = time_inference(args)
        # 2. one training step (G + D), interleaved
        train = interleaved_steps(args)
    print(f'\n{cpu_line()}\nTraining step (D + G), {args.train_size}x{args.train_size}, the '
          'same scene at that size (with a style encoder, the photo is its reference):')
    for norm, t in train.items():
        print(f'  {norm:<11} {t:7.3f} s   this/{BASELINE} {t / train[BASELINE]:5.2f}x')

    # 3. peak memory of a training step, each generator in its own process
    memory = {norm: measure_memory(norm, args.classes, args.memory_size)
              for norm in args.models}
    print(f'\n{cpu_line()}\nPeak training memory, {args.memory_size}x{args.memory_size} '
          '(model, gradients, optimizer state, activations; and the growth over one step):')
    for norm, (peak, growth) in memory.items():
        print(f'  {norm:<11} {peak:8.0f} MB  this/{BASELINE} {peak / memory[BASELINE][0]:5.2f}x'
              f'   growth {growth:7.0f} MB  this/{BASELINE} '
              f'{growth / memory[BASELINE][1]:5.2f}x')

    with open(TARGETS) as f:
        targets = json.load(f)['targets']
    rows = ratios(args.models, fwd, defaults, train, memory)
    print(f'\nRatios ({cpu_line()}):')
    for what, value in rows:
        print(f'  {what:<56} {value:6.2f}x' + (
            f'   target {targets[what]}: {"pass" if meets(value, targets[what]) else "FAIL"}'
            if what in targets else ''))
    print('\n' + json.dumps({what: round(value, 3) for what, value in rows}))


if __name__ == '__main__':
    main()
