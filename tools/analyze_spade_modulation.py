"""How class-wise a trained SPADE generator's gamma and beta are (the paper's Fig. 3).

    python tools/analyze_spade_modulation.py CONFIG CHECKPOINT [--labels DIR] [--num 8]
                                           [--cfg-options KEY=VALUE ...]

Prints, per SPADE layer, the spread of gamma and beta inside semantic regions against their
spread across classes, and writes the gamma/beta maps of one label map as a PNG.
"""
import argparse
import os
import os.path as osp

import torch

from clade_mm.analysis.modulation import format_table, plot_maps, spade_modulation
from clade_mm.apis import SemanticSynthesizer, add_cfg_options, load_config, positive_int
from clade_mm.engine.hooks import label_palette


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--labels', help='folder of label maps (default: the test set)')
    parser.add_argument('--num', type=positive_int, default=8, help='label maps to analyse')
    parser.add_argument('--out-dir', default='work_dirs/modulation')
    add_cfg_options(parser)
    args = parser.parse_args()
    synth = SemanticSynthesizer(load_config(args.config, args.cfg_options), args.checkpoint)
    folder = args.labels
    if folder is None:
        dataset = synth.cfg.test_dataloader.dataset
        folder = osp.join(dataset.data_root, dataset.data_prefix.label)
    inputs = synth.list_inputs(folder)[:args.num]
    labels = [synth.read_labels(source, name) for name, source in inputs]
    batch = torch.cat([synth.model_input(label) for label in labels])
    result = spade_modulation(synth.generator, batch)
    name = osp.splitext(osp.basename(args.config))[0]
    print(f'{name}: {len(labels)} label maps from {folder}\n'
          "within: spread inside each class's regions; across: spread of the class means\n")
    print(format_table(result['stats']))
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, f'{name}_modulation.png')
    plot_maps(batch[0].numpy(), result['maps'], label_palette(synth.generator.num_classes),
              path, f'{name}: SPADE gamma (top) and beta (bottom), channel mean')
    print(f'\nplot: {path}')


if __name__ == '__main__':
    main()
