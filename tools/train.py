"""Train a clade-mm model:
``python tools/train.py CONFIG [--work-dir DIR] [--resume [PATH] | --resume-or-restart]``."""
import argparse
import os.path as osp

from mmengine.runner import Runner

import clade_mm  # noqa: F401  (makes checkpoints of any config resumable)
from clade_mm.apis.config import add_cfg_options, load_config
from clade_mm.engine import checkpoint_integrity


def parse_args():
    parser = argparse.ArgumentParser(description='Train a semantic image synthesis model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs, checkpoints and samples go '
                        '(default: work_dirs/<config name>)')
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument('--resume', nargs='?', const='auto', default=None, metavar='PATH',
                        help='resume from a checkpoint; without a path, from the newest intact '
                        'one in the work directory (from iteration 1 if there is none); stops '
                        'if the work directory holds only damaged checkpoints')
    resume.add_argument('--resume-or-restart', action='store_true',
                        help='as --resume without a path, but if the work directory holds only '
                        'damaged checkpoints, move them into WORK_DIR/damaged_checkpoints/ and '
                        'start at iteration 1')
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
    if args.resume == 'auto' or args.resume_or_restart:
        cfg.resume, cfg.load_from = True, None
        checkpoint_integrity.resume_or_restart = args.resume_or_restart
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        for name in ('generator', 'discriminator'):
            cfg.optim_wrapper[name]['type'] = 'MixedPrecisionOptimWrapper'
    try:
        Runner.from_cfg(cfg).train()
    except checkpoint_integrity.CheckpointFileError as err:  # it names the files and the fix
        raise SystemExit(f'error: {err}') from None


if __name__ == '__main__':
    main()
