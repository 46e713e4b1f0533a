"""Synthesise images from label maps.

    python tools/synthesize.py CONFIG CHECKPOINT INPUT OUTPUT [--style IMAGE] [--seed N]
                               [--num-samples K] [--instances DIR] [--aspect refuse|crop|stretch]
                               [--precision auto|float32|bfloat16] [--max-pixels N]
                               [--cfg-options KEY=VALUE ...]

INPUT is a label map or a folder of them; OUTPUT a folder that receives one image per label map
with the same name (``name_k.png`` for several samples; ``name_tif.png`` and ``name_png.png``
when two maps differ only in their suffix). OUTPUT must not be INPUT's folder, and files in it
that an earlier run of this tool did not write are never overwritten: see
clade_mm/apis/output_folder.py. Bad label maps are reported by name and skipped; the exit status
is 1 if any was.
"""
import argparse
import io
import sys

from PIL import Image

from clade_mm.apis import SemanticSynthesizer, add_cfg_options, load_config, positive_int
from clade_mm.apis.inferencer import ASPECT_MODES
from clade_mm.apis.output_folder import OutputFolder, OutputFolderError, output_names
from clade_mm.apis.precision import PRECISIONS
from clade_mm.datasets import DatasetError


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='a label map or a folder of label maps')
    parser.add_argument('output', help='folder for the images (not the folder of the inputs)')
    parser.add_argument('--style', help='reference image for style-guided synthesis')
    parser.add_argument('--seed', type=int, help='seed of the random style code')
    parser.add_argument('--num-samples', type=positive_int, default=1,
                        help='images per label map (>= 1)')
    parser.add_argument('--instances', help='folder of the instance maps, named as in the '
                        'dataset (the same names; Cityscapes: *_gtFine_instanceIds.png)')
    parser.add_argument('--aspect', default='refuse', choices=ASPECT_MODES,
                        help="a label map of another aspect ratio than the model's: 'refuse' "
                        "it, 'crop' its centred part of the model's ratio, or 'stretch' it")
    parser.add_argument('--max-pixels', type=positive_int,
                        help='refuse files with more pixels (default 8192 x 8192, or the '
                        "config's LoadSemanticSample max_pixels)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', default='auto', choices=PRECISIONS,
                        help="'auto': bfloat16 where this CPU computes it natively and the "
                        'images stay within 2 grey levels of float32, else float32; '
                        "'float32' forces the reference precision")
    add_cfg_options(parser)
    args = parser.parse_args()

    try:  # everything that can refuse the run, before the model loads
        inputs = SemanticSynthesizer.list_inputs(args.input)
        planned = output_names([name for name, _ in inputs], args.num_samples)
        output = OutputFolder(args.output, 'synthesize')
        output.prepare([n for names in planned.values() for n in names],
                       [source for _, source in inputs])
        synth = SemanticSynthesizer(load_config(args.config, args.cfg_options), args.checkpoint,
                                    device=args.device, precision=args.precision,
                                    aspect=args.aspect, max_pixels=args.max_pixels)
    except (FileNotFoundError, ValueError) as err:  # incl. checkpoints that do not fit
        sys.exit(f'error: {err}')
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
        for out, image in zip(planned[name], images):
            png = io.BytesIO()
            Image.fromarray(image).save(png, 'PNG')
            try:
                output.write(out, png.getvalue())
            except OSError as err:  # a full disk: stop, the written images stay whole
                sys.exit(f'error: cannot write {out} into {args.output} ({err.strerror}); '
                         f'{index - 1 - failed} label maps were done before it.')
        print(f'[{index}/{len(inputs)}] {name} -> {", ".join(planned[name])}')
    print(f'wrote {len(inputs) - failed} of {len(inputs)} to {args.output}'
          + (f'; {failed} skipped' if failed else ''))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
