"""Parameters, MACs and norm overheads of a config's generator (paper Table 3 and Fig. 5).

    python tools/analyze_complexity.py CONFIG [--out-dir DIR] [--no-instance-edge]
                                     [--cfg-options KEY=VALUE ...]

Prints the report and writes ``DIR/<config>_complexity.png``.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.registry import init_default_scope

from clade_mm.analysis.complexity import format_report, measure_complexity, plot_overheads
from clade_mm.apis.config import add_cfg_options, load_config
from clade_mm.layers.layout import sample_inputs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--out-dir', default='work_dirs/complexity')
    parser.add_argument('--no-instance-edge', action='store_true',
                        help='count without instance edges (how the paper reports Table 3)')
    add_cfg_options(parser)
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    from mmagic.registry import MODELS
    gen_cfg = cfg.model.generator
    if args.no_instance_edge:
        gen_cfg.with_instance_edge = False
    generator = MODELS.build(gen_cfg)
    height, width = cfg.image_size
    labels = torch.randint(0, gen_cfg.num_classes, (1, height, width))
    inputs = sample_inputs(generator, labels, torch.Generator().manual_seed(0))
    name = osp.splitext(osp.basename(args.config))[0]
    complexity = measure_complexity(generator, labels, **inputs)
    title = (f'{name}: {generator.num_classes} classes, {width}x{height}, '
             f"{gen_cfg.norm_cfg['type']}, {gen_cfg.get('num_upsampling_layers', 'normal')}")
    print(format_report(complexity, title))
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, f'{name}_complexity.png')
    plot_overheads(complexity, path, title)
    print(f'plot: {path}')


if __name__ == '__main__':
    main()
