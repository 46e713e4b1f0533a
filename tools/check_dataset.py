"""Check a dataset before training: ``tools/check_dataset.py CONFIG [--split S] [--cfg-options]``.

Pairs, missing partners, unreadable files, size mismatches, label ids against the class
count, don't-care pixels; writes the per-class pixel histogram as a PNG. Exits 1 on any error.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.registry import init_default_scope

from clade_mm.apis.config import add_cfg_options, load_config
from clade_mm.datasets.check import plot_histogram, scan_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--out-dir', default='work_dirs/check_dataset')
    add_cfg_options(parser)
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        sys.exit(f'{args.config} has no {args.split}_dataloader')
    report = scan_dataset(loader['dataset'])
    name = osp.splitext(osp.basename(args.config))[0]
    print(f'{name}, {args.split} split')
    print(report.format())
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, f'{name}_{args.split}_class_pixels.png')
    plot_histogram(report, path, f'{name} ({args.split}): pixels per class')
    print(f'histogram: {path}')
    sys.exit(0 if report.ok else 1)


if __name__ == '__main__':
    main()
