"""Evaluate a trained model on its config's test set: ``tools/test.py CONFIG CHECKPOINT``.

Runs the config's ``test_dataloader`` through the model and its ``test_evaluator`` (for
example ``SegmentationScore`` on generated and on real images) with mmengine's Runner, prints
the scores as a table and saves them to WORK_DIR/test_results.{md,json}. The generator's
weights must fit the config (checked before loading); training-loss weights are not read.
``tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS`` splits the test set over processes.
"""
import argparse
import json
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.runner import Runner

import clade_mm  # noqa: F401  (checkpoints load verified and weights-only)
from clade_mm.apis.config import add_cfg_options, load_config
from clade_mm.engine.checkpoint_integrity import CheckpointFileError
from clade_mm.models.generator_weights import GeneratorWeightsError


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', help='default: work_dirs/<config name>/test')
    add_cfg_options(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='set by tools/dist_test.sh')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    for key in ('test_dataloader', 'test_evaluator'):
        if not cfg.get(key):
            raise SystemExit(f'{args.config} defines no {key}: nothing to evaluate')
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} not found')
    name = osp.splitext(osp.basename(args.config))[0]
    cfg.work_dir = args.work_dir or osp.join('work_dirs', name, 'test')
    cfg.load_from = args.checkpoint
    # Training-time sample grids are not for evaluation; other hooks (SemanticLayoutHook) stay.
    cfg.custom_hooks = [hook for hook in cfg.get('custom_hooks', [])
                        if hook.get('type') not in ('SampleGridHook', 'VisualizationHook')]
    if cfg.model.get('perceptual_loss'):  # scoring needs no training-loss weights
        cfg.model.perceptual_loss = None
    try:
        metrics = Runner.from_cfg(cfg).test()  # every process gets the whole set's metrics
    except (GeneratorWeightsError, CheckpointFileError) as err:
        raise SystemExit(f'error: {args.checkpoint}: {err}') from None
    if not is_main_process():
        return

    rows = ['| metric | value |', '|---|---|']
    rows += [f'| {key} | {value:.2f} |' for key, value in metrics.items()]
    table = '\n'.join(rows)
    print(f'\n{name} with {args.checkpoint}\n{table}')
    os.makedirs(cfg.work_dir, exist_ok=True)
    with open(osp.join(cfg.work_dir, 'test_results.md'), 'w') as f:
        f.write(f'# {name}\n\ncheckpoint: `{args.checkpoint}`\n\n{table}\n')
    with open(osp.join(cfg.work_dir, 'test_results.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint, metrics=metrics), f,
                  indent=2)
    print(f'saved to {cfg.work_dir}/test_results.md and .json')


if __name__ == '__main__':
    main()
