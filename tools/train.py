"""Train a clade-mm model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume]``."""
import argparse
import os.path as osp

from mmengine.runner import Runner

import clade_mm  # noqa: F401  (makes checkpoints of any config resumable)
from clade_mm.apis.config import add_cfg_options, load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Train a semantic image synthesis model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs, checkpoints and samples go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from a checkpoint; without a path, from the last one in '
                        'the work directory')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: float16 with a loss scaler per G and D on a GPU, '
                        'bfloat16 on the CPU (MixedPrecisionOptimWrapper)')
    add_cfg_options(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        for name in ('generator', 'discriminator'):
            cfg.optim_wrapper[name]['type'] = 'MixedPrecisionOptimWrapper'
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    main()
