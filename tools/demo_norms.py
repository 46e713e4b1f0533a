"""Run every registered norm family on a small hand-made scene and say what each one did.

The scene has flat regions (sky, grass) and two separate trees of one class, the cases the
paper is about. For every layer it prints the parameter count, whether two flat label maps of
different classes still give different outputs (the "wash-away" test that plain BatchNorm
fails), and the mean output per class; it writes the label map, the ICPE map and the instance
edges as PNGs into the work directory.

    python tools/demo_norms.py [--work-dir work_dirs/demo_norms]
"""
import argparse
import os.path as osp

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.registry import MODELS

import clade_mm
from clade_mm.layers import instance_edges, norm_families
from clade_mm.layers.layout import sample_inputs
from clade_mm.ops.positional_map import icpe_map

CLASSES = ('sky', 'grass', 'tree')
PALETTE = np.array([[235, 200, 120], [60, 170, 60], [20, 90, 30]], dtype=np.uint8)


def make_scene(size=64):
    labels = torch.zeros(1, size, size, dtype=torch.long)  # sky
    labels[:, size // 2:] = 1  # grass
    instances = labels.clone()
    for k, (top, left) in enumerate([(size // 4, size // 8), (size // 3, 5 * size // 8)]):
        labels[:, top:top + size // 3, left:left + size // 5] = 2  # two trees, one class
        instances[:, top:top + size // 3, left:left + size // 5] = 10 + k
    return labels, instances


def to_png(values, lo=-1.0, hi=1.0):
    scaled = (np.clip((values - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    return np.repeat(scaled[..., None], 3, axis=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo_norms')
    args = parser.parse_args()
    torch.manual_seed(0)
    labels, instances = make_scene()
    channels = 16
    print(f'clade-mm {clade_mm.__version__}: a {labels.shape[1]}x{labels.shape[2]} scene, '
          f'classes {", ".join(CLASSES)}; two separate trees.\n')

    layers = {'BatchNorm2d (plain)': nn.BatchNorm2d(channels)}
    for type_ in norm_families():
        layers[type_] = MODELS.build(dict(type=type_, num_features=channels,
                                          num_classes=len(CLASSES)))
    for layer in layers.values():  # as if trained: every parameter away from its initial value
        with torch.no_grad():
            for p in layer.parameters():
                p.normal_(0, 0.5)

    flat_features = torch.ones(1, channels, *labels.shape[1:])
    features = torch.randn(1, channels, *labels.shape[1:])
    for name, layer in layers.items():
        params = sum(p.numel() for p in layer.parameters())
        # what a family cannot do without besides the instances (SEAN's style codes), drawn
        # once as its declaration samples it, and the same for every map below
        given = {} if not hasattr(layer, 'layout_inputs') else sample_inputs(
            layer, labels, torch.Generator().manual_seed(0),
            lambda spec: spec.default is None and spec.name != 'instances')
        outs = []
        for cls in (0, 1):  # a whole image of sky, then a whole image of grass
            # one instance covering it, for the families that read instances
            with clade_mm.semantic_layout(torch.full_like(labels, cls),
                                          instances=torch.zeros_like(labels), **given):
                outs.append(layer(flat_features))
        differ = (outs[0] - outs[1]).abs().mean().item()
        with clade_mm.semantic_layout(labels, instances=instances, **given):
            out = layer(features)
        per_class = ', '.join(f'{c} {out[0][:, labels[0] == i].mean():+.3f}'
                              for i, c in enumerate(CLASSES))
        verdict = 'keeps the class' if differ > 1e-3 else 'washes the class away'
        print(f'{name:>20}: {params:6d} parameters; flat sky vs flat grass differ by '
              f'{differ:.3f} ({verdict}); mean output per class: {per_class}')

    dist = icpe_map(labels)[0].numpy()
    edges = instance_edges(instances)[0, 0].numpy()
    files = {
        'labels.png': PALETTE[labels[0].numpy()][..., ::-1],
        'icpe_dy.png': to_png(dist[0]),
        'icpe_dx.png': to_png(dist[1]),
        'instance_edges.png': to_png(edges, 0, 1),
    }
    for filename, image in files.items():
        mmcv.imwrite(np.kron(image, np.ones((4, 4, 1), dtype=np.uint8)),
                     osp.join(args.work_dir, filename))
    trees = instances[0].numpy()
    spans = ', '.join(f'[{dist[1][trees == k].min():+.2f}, {dist[1][trees == k].max():+.2f}]'
                      for k in (10, 11))
    print(f'\nICPE: each tree is its own component with its own centroid: dx spans {spans} '
          'in the left and the right tree.')
    print(f'Wrote {", ".join(files)} to {args.work_dir}/')


if __name__ == '__main__':
    main()
