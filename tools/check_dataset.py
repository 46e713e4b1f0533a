"""Check a dataset before training: ``tools/check_dataset.py CONFIG [--split S] [--cfg-options]``.

Pairs, missing partners, unreadable files, size mismatches, label ids against the class
count, don't-care pixels, palette PNGs; writes the per-class pixel histogram of each split as a
PNG. Checks every split the config defines (train, val, test) unless ``--split`` names one.
Exits 1 on any error.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.registry import init_default_scope

from clade_mm.apis.config import add_cfg_options, load_config
from clade_mm.datasets.check import defined_splits, plot_histogram, scan_dataset

SPLITS = ('train', 'val', 'test')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--split', choices=SPLITS,
                        help='check this split only (default: every split the config defines)')
    parser.add_argument('--out-dir', default='work_dirs/check_dataset')
    add_cfg_options(parser)
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    splits = defined_splits(cfg, SPLITS)
    if args.split and args.split not in splits:
        sys.exit(f'error: {args.config} defines no {args.split} split (no {args.split}_dataloader '
                 'with a dataset type and a LoadSemanticSample pipeline; --cfg-options can only '
                 f'change a split the config defines); it defines: {", ".join(splits) or "none"}')
    name = osp.splitext(osp.basename(args.config))[0]
    os.makedirs(args.out_dir, exist_ok=True)
    ok = True
    for split in [args.split] if args.split else list(splits):
        if splits[split] != split:
            print(f'{name}, {split} split: the same dataset as the {splits[split]} split\n')
            continue
        try:
            report = scan_dataset(cfg[f'{split}_dataloader']['dataset'])
        except (FileNotFoundError, ValueError) as err:  # no folders, no files: nothing to scan
            sys.exit(f'error: {split} split of {args.config}: {err}')
        print(f'{name}, {split} split')
        print(report.format())
        path = osp.join(args.out_dir, f'{name}_{split}_class_pixels.png')
        plot_histogram(report, path, f'{name} ({split}): pixels per class')
        print(f'histogram: {path}\n')
        ok = ok and report.ok
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
