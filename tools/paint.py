"""Paint a label map in the browser and see a model turn it into an image as you draw.

    python tools/paint.py [CONFIG CHECKPOINT] [--port N] [--compare CONFIG2 CHECKPOINT2]
                          [--device cpu] [--precision auto|float32|bfloat16]
                          [--cfg-options KEY=VALUE ...]

Serves the page on http://127.0.0.1:N/ (8765; 0 picks a free port) until Ctrl-C or SIGTERM,
which both remove its temporary folder of uploads (docs/painter.md). Without CONFIG and
CHECKPOINT it serves the CLADE model that `make demo` trains (work_dirs/demo/clade/).
--compare shows a second model of the same classes beside the first (CLADE vs SPADE).
--cfg-options applies to both configs. A SEAN model paints once the page has a style source (a
photo and its label map) and takes, per class, the style of the source picked for it.
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(ROOT, 'configs/clade/clade_synthetic.py')
DEMO_WORK_DIR = osp.join(ROOT, 'work_dirs/demo/clade')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', nargs='*', metavar='CONFIG CHECKPOINT',
                        help='the model (default: the CLADE of `make demo`)')
    parser.add_argument('--port', type=int, default=8765, help='0 picks a free port')
    parser.add_argument('--compare', nargs=2, metavar=('CONFIG2', 'CHECKPOINT2'),
                        help='a second model, shown beside the first')
    parser.add_argument('--device', default='cpu')
    from clade_mm.apis import add_cfg_options
    from clade_mm.apis.precision import PRECISIONS
    parser.add_argument('--precision', default='auto', choices=PRECISIONS,
                        help="as tools/synthesize.py's: 'float32' forces the reference")
    add_cfg_options(parser)
    args = parser.parse_args()
    if len(args.model) not in (0, 2):
        parser.error('give both CONFIG and CHECKPOINT, or neither (the demo model)')

    from clade_mm.apps.paint import demo_checkpoint, load_models, serve
    if args.model:
        specs = [tuple(args.model)]
    else:
        checkpoint = demo_checkpoint(DEMO_WORK_DIR)
        if checkpoint is None:
            sys.exit(f'error: no trained demo model in {osp.relpath(DEMO_WORK_DIR)}: `make demo` '
                     'trains it (about 10 minutes on 2 cores; `make paint` runs it for you), or '
                     'give a CONFIG and CHECKPOINT')
        specs = [(DEMO_CONFIG, checkpoint)]
    if args.compare:
        specs.append(tuple(args.compare))
    try:
        models = load_models(specs, args.cfg_options, args.device, args.precision)
    except (FileNotFoundError, ValueError) as err:  # a missing or mismatched checkpoint
        sys.exit(f'error: {err}')
    try:
        serve(models, args.port)
    except OSError as err:
        sys.exit(f'error: cannot serve on 127.0.0.1:{args.port} ({err.strerror or err}): pass '
                 '--port N with a free port (0 picks one)')


if __name__ == '__main__':
    main()
