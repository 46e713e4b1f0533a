"""Synthesise images from label maps.

    python tools/synthesize.py CONFIG CHECKPOINT INPUT OUTPUT [--style IMAGE] [--seed N]
                               [--num-samples K] [--instances DIR]
                               [--precision auto|float32|bfloat16]
                               [--cfg-options KEY=VALUE ...]

INPUT is a label map or a folder of them; OUTPUT a folder that receives one image per label map
with the same name (``name_k.png`` for several samples). Bad label maps are reported by name and
skipped; the exit status is 1 if any was.
"""
import argparse
import os
import os.path as osp
import sys

from PIL import Image

from clade_mm.apis import SemanticSynthesizer, add_cfg_options, load_config
from clade_mm.apis.precision import PRECISIONS
from clade_mm.datasets import DatasetError


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='a label map or a folder of label maps')
    parser.add_argument('output', help='folder for the images')
    parser.add_argument('--style', help='reference image for style-guided synthesis')
    parser.add_argument('--seed', type=int, help='seed of the random style code')
    parser.add_argument('--num-samples', type=int, default=1, help='images per label map')
    parser.add_argument('--instances', help='folder of the instance maps, named as in the '
                        'dataset (the same names; Cityscapes: *_gtFine_instanceIds.png)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', default='auto', choices=PRECISIONS,
                        help="'auto': bfloat16 where this CPU computes it natively and the "
                        'images stay within 2 grey levels of float32, else float32; '
                        "'float32' forces the reference precision")
    add_cfg_options(parser)
    args = parser.parse_args()

    try:
        synth = SemanticSynthesizer(load_config(args.config, args.cfg_options), args.checkpoint,
                                    device=args.device, precision=args.precision)
    except (FileNotFoundError, ValueError) as err:  # a checkpoint that does not fit, or none
        sys.exit(f'error: {err}')
    os.makedirs(args.output, exist_ok=True)
    inputs = synth.list_inputs(args.input)
    failed = 0
    for index, (name, source) in enumerate(inputs, 1):
        try:
            labels = synth.read_labels(source, name)
            instances = None
            if args.instances:
                instances = synth.read_instances(synth.instance_path(args.instances, name))
            images = synth.synthesize(labels, instances, style=args.style, seed=args.seed,
                                      num_samples=args.num_samples, name=name)
        except (DatasetError, FileNotFoundError, ValueError) as err:
            failed += 1
            print(f'[{index}/{len(inputs)}] {name}: skipped: {err}', file=sys.stderr)
            continue
        stem = osp.splitext(name)[0]
        for k, image in enumerate(images):
            out = f'{stem}.png' if len(images) == 1 else f'{stem}_{k}.png'
            Image.fromarray(image).save(osp.join(args.output, out))
        print(f'[{index}/{len(inputs)}] {name} -> {len(images)} image(s)')
    print(f'wrote {len(inputs) - failed} of {len(inputs)} to {args.output}'
          + (f'; {failed} skipped' if failed else ''))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
