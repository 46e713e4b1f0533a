"""How far the faster inference precision moves a trained generator's images from float32.

For a trained clade-mm checkpoint (by default the demo's model: the one ``tools/paint.py``
serves, which ``make demo`` trains) every label map of a folder is synthesised in float32 and
in bfloat16 (:mod:`clade_mm.apis.precision`; forced here, so that the figure exists on every
CPU) and the images' mean absolute difference is printed in 8-bit grey levels, per image at
worst and on average; ``'auto'`` inference takes bfloat16 only within
``MAX_MEAN_GREY_LEVELS`` (2) on average, and what it picks for the model on this CPU is
printed too. With ``--published-code DIR`` the same weights also go the
way a published model comes in: saved as the published CLADE code's generator file (its
generator built from DIR, which must then give the float32 images too), converted with
``tools/convert_official_checkpoint.py``, and compared the same way. ``make demo`` reports the
segmentation score of both precisions.

    python benchmarks/bench_precision.py [--config C --checkpoint K] [--labels DIR]
                                         [--published-code DIR]
"""
import argparse
import copy
import os.path as osp
import sys
import tempfile

import numpy as np
import torch

from clade_mm.apis import SemanticSynthesizer
from clade_mm.apis.precision import MAX_MEAN_GREY_LEVELS, GeneratorInference
from common import (ROOT, cpu_line, demo_model, published_generators, published_inputs,
                    quiet_logs, required_inputs)


def grey_level_differences(config, checkpoint, label_files):
    """Per label map: mean |bfloat16 image - float32 image| in grey levels."""
    exact = SemanticSynthesizer(config, checkpoint, precision='float32')
    fast = SemanticSynthesizer(config, checkpoint, precision='bfloat16')
    differences, images = [], []
    for path in label_files:
        labels = exact.read_labels(path)
        (a,), (b,) = exact.synthesize(labels, name=path), fast.synthesize(labels, name=path)
        differences.append(np.abs(a.astype(np.int16) - b).mean())
        images.append(a)
    return np.array(differences), images, exact


def auto_choice(synth, labels):
    """What ``GeneratorInference`` picks with ``precision='auto'`` for this model on this CPU,
    after its check on ``labels`` (one ``(1, H, W)`` label map), and why."""
    auto = GeneratorInference(copy.deepcopy(synth.generator), 'auto')
    first = auto.precision
    auto(labels, **required_inputs(synth.generator, labels))
    checked = '' if auto.precision == first else \
        f'; its {first} images failed the check against float32'
    return f'{auto.precision}; {auto.reason}{checked}'


def published_format_checkpoint(published_code, synth, config, folder):
    """The synthesizer's generator saved as the published code's ``latest_net_G.pth``,
    converted back to a clade-mm checkpoint; returns its path and the published generator."""
    from clade_mm.converters import (GeneratorArchitecture, convert_official_checkpoint,
                                     official_generator_key)
    generator = synth.generator
    size = synth.image_size[0] if synth.image_size else 256
    family = GeneratorArchitecture.of_generator(generator).norm
    generators = published_generators(published_code, generator.num_classes, size,
                                      ngf=generator.conv_img.in_channels)
    if family not in generators:
        sys.exit(f'{config}: its norms are {family}; the published CLADE code builds '
                 f'{", ".join(generators)} generators')
    published = generators[family]
    ours = generator.state_dict()
    by_published_name = {official_generator_key(k): k for k in ours}
    state = {k: ours[by_published_name[k]].contiguous() for k in published.state_dict()}
    published.load_state_dict(state, strict=True)
    source = osp.join(folder, 'latest_net_G.pth')
    torch.save(state, source)
    converted = osp.join(folder, 'converted.pth')
    convert_official_checkpoint(source, converted, config)
    return converted, published


def report(title, differences):
    print(f'{title}: {len(differences)} images, bfloat16 vs float32: mean '
          f'{differences.mean():.2f} grey levels, worst image {differences.max():.2f} '
          f'(auto inference keeps bfloat16 up to {MAX_MEAN_GREY_LEVELS:.2f} on average)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_config, demo_work_dir = demo_model()
    parser.add_argument('--config', default=demo_config,
                        help="default: the demo's model, the one tools/paint.py serves")
    parser.add_argument('--checkpoint', help="default: the demo model's last checkpoint")
    parser.add_argument('--labels', default=osp.join(ROOT, 'data', 'synthetic', 'val', 'labels'),
                        help='folder of label maps')
    parser.add_argument('--published-code', metavar='DIR',
                        help='a checkout of the published CLADE repository')
    args = parser.parse_args()
    checkpoint = args.checkpoint
    if checkpoint is None:
        from clade_mm.apps.paint import demo_checkpoint
        checkpoint = demo_checkpoint(demo_work_dir)
        if checkpoint is None:
            sys.exit(f'no trained model in {demo_work_dir}. Run `make demo` first, or pass '
                     '--config and --checkpoint of a trained model.')
    if not osp.isdir(args.labels):
        sys.exit(f'--labels {args.labels}: no such folder (make demo writes the default one)')
    label_files = [path for _, path in SemanticSynthesizer.list_inputs(args.labels)]
    print(cpu_line())
    with quiet_logs():
        differences, exact_images, synth = grey_level_differences(args.config, checkpoint,
                                                                  label_files)
        labels = synth.model_input(synth.read_labels(label_files[0]))
        choice = auto_choice(synth, labels)
    report(f'{checkpoint}', differences)
    print(f"precision='auto' on this CPU: {choice}")
    if not args.published_code:
        print('(no published-format check: pass --published-code DIR, a checkout of the '
              'published CLADE repository)')
        return
    with tempfile.TemporaryDirectory() as folder, quiet_logs():
        converted, published = published_format_checkpoint(args.published_code, synth,
                                                           args.config, folder)
        # The published code itself gives the float32 images from its file.
        with torch.no_grad():
            theirs = published(**published_inputs(published, labels))[0]
        theirs = ((theirs.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        print(f'published code on its file vs clade-mm float32: '
              f'{np.abs(theirs.astype(np.int16) - exact_images[0]).mean():.3f} grey levels '
              f'({label_files[0]})')
        converted_differences, _, _ = grey_level_differences(args.config, converted,
                                                             label_files)
        report('converted published-format checkpoint', converted_differences)


if __name__ == '__main__':
    main()
