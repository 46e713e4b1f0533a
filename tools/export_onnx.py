"""Export a checkpoint's generator to ONNX and check it against PyTorch with onnxruntime.

    python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--size H W] [--batch N|dynamic]
                                [--opset N] [--num-checks K] [--atol TOL]
                                [--cfg-options KEY=VALUE ...]

The graph takes ``labels`` (batch, H, W) int64 class ids (plus ``instances``, ``z`` or
``position`` when the generator needs them) and returns ``image`` (batch, 3, H, W) float32 in
[-1, 1]; see clade_mm/apis/onnx_export.py. It exports the generator tools/synthesize.py runs
(the EMA copy when the checkpoint has one), runs the file with onnxruntime and PyTorch on K
random label maps, prints the largest absolute difference and exits 1 if it exceeds TOL.
"""
import argparse
import os.path as osp
import sys
import time

from clade_mm.apis import SemanticSynthesizer, add_cfg_options, load_config
from clade_mm.apis.config import DYNAMIC, batch_size, int_at_least, positive_int
from clade_mm.apis.onnx_export import export_generator, require, verify_onnx


def default_size(synth: SemanticSynthesizer):
    """The size a generator with a code input was built for, else the config's image size."""
    generator = synth.generator
    if generator.latent_size is not None:
        return tuple(side * 2 ** generator.num_ups for side in generator.latent_size)
    return synth.image_size or None


def describe_graph(path: str) -> str:
    """``name dtype (dims)`` of every input and output of an ONNX file, and its opset."""
    onnx = require('onnx', 'read the exported model')
    model = onnx.load(path, load_external_data=False)

    def describe(value):
        tensor = value.type.tensor_type
        dims = ', '.join(d.dim_param or str(d.dim_value) for d in tensor.shape.dim)
        return f'{value.name} {onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)} ({dims})'

    opset = next(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    return (', '.join(describe(i) for i in model.graph.input) + ' -> ' +
            ', '.join(describe(o) for o in model.graph.output) + f'; opset {opset}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out', help='the .onnx file to write')
    parser.add_argument('--size', type=positive_int, nargs=2, metavar=('H', 'W'),
                        help="label map size (default: the config's image_size)")
    parser.add_argument('--batch', type=batch_size, default=DYNAMIC,
                        help=f'a fixed batch size >= 1, or {DYNAMIC!r} (the default): a batch '
                        'axis of any size')
    parser.add_argument('--opset', type=positive_int,
                        help="ONNX opset (default: the exporter's)")
    parser.add_argument('--num-checks', type=int_at_least(0), default=3,
                        help='random label maps to compare onnxruntime with PyTorch on '
                        '(0: no check)')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest allowed absolute difference of the [-1, 1] images')
    add_cfg_options(parser)
    args = parser.parse_args()

    try:
        for given in (args.config, args.checkpoint):
            if osp.exists(args.out) and osp.exists(given) and osp.samefile(args.out, given):
                raise ValueError(f'the output {args.out} is an input of this export: give '
                                 'another .onnx path.')
        if args.num_checks > 0:  # checked first, not after the export
            require('onnxruntime', 'check the exported model')
        synth = SemanticSynthesizer(load_config(args.config, args.cfg_options), args.checkpoint)
        size = tuple(args.size) if args.size else default_size(synth)
        if size is None:
            raise ValueError(f'{args.config} sets no image_size: pass --size H W')
        generator = synth.generator
        weights = 'EMA generator' if synth.uses_ema else 'generator'
        print(f'exporting the {weights} of {args.checkpoint} at {size[0]}x{size[1]}, batch '
              f'{args.batch}')
        start = time.perf_counter()
        export_generator(generator, args.out, size,
                         None if args.batch == DYNAMIC else args.batch, args.opset)
    except (FileNotFoundError, ImportError, ValueError) as err:
        sys.exit(f'error: {err}')
    megabytes = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({megabytes:.1f} MB) in {time.perf_counter() - start:.1f} s: '
          f'{describe_graph(args.out)}')
    if args.num_checks <= 0:
        return
    differences = verify_onnx(args.out, generator, args.num_checks)
    worst = max(differences)
    matches = worst <= args.atol
    print(f'onnxruntime vs PyTorch on {len(differences)} random label maps: max abs difference '
          f'{worst:.3g} (tolerance {args.atol:g}): {"ok" if matches else "FAILED"}')
    sys.exit(0 if matches else 1)


if __name__ == '__main__':
    main()
