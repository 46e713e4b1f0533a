"""The end-to-end demo on the embedded synthetic scenes: train, synthesise, score, report.

1. write the synthetic scenes to data/synthetic (once);
2. train CLADE and, for comparison, SPADE (configs/{clade,spade}_synthetic.py) and a small
   mmseg segmentor on the real photos (configs/segmentors/fcn_r18_synthetic.py);
3. synthesise the validation label maps with both generators;
4. segment real and generated images and score them against the label maps (mIoU,
   accuracy), as the paper's Table 1 does;
5. write WORK_DIR/report.md and WORK_DIR/grid.png (label | real | SPADE | CLADE).

Every training resumes from its last checkpoint, so a second run only synthesises and scores.

    python tools/demo.py [--work-dir work_dirs/demo]
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

from clade_mm.apis import SemanticSynthesizer, positive_int
from clade_mm.datasets import SYNTHETIC_CLASSES, read_image, read_map, write_synthetic_dataset
from clade_mm.engine.hooks import label_palette, sample_grid
from clade_mm.evaluation import SegmentationScore

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS = (('CLADE', 'configs/clade/clade_synthetic.py'),
          ('SPADE', 'configs/spade/spade_synthetic.py'))
SEGMENTOR = 'configs/segmentors/fcn_r18_synthetic.py'


def step(message):
    print(f'\n[demo] {message}', flush=True)


def train(config, work_dir):
    """tools/train.py on ``config``, resuming (a finished run returns at once)."""
    start = time.time()
    subprocess.run([sys.executable, osp.join(ROOT, 'tools/train.py'), config, '--work-dir',
                    work_dir, '--resume'], check=True, cwd=ROOT)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    print(f'[demo] {config}: {checkpoint} ({time.time() - start:.0f} s)', flush=True)
    return checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/synthetic')
    parser.add_argument('--grid-rows', type=positive_int, default=6)
    args = parser.parse_args()
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)

    if not osp.isdir(osp.join(args.data_root, 'val', 'labels')):
        step(f'writing the synthetic scenes to {args.data_root}')
        counts = write_synthetic_dataset(args.data_root, num_train=400, num_val=40)
        print(f'[demo] {counts["train"]} training and {counts["val"]} validation scenes')

    checkpoints = {}
    for name, config in MODELS:
        step(f'training {name} ({config})')
        checkpoints[name] = train(config, osp.join(work_dir, name.lower()))
    step(f'training the segmentor that scores the images ({SEGMENTOR})')
    seg_checkpoint = train(SEGMENTOR, osp.join(work_dir, 'segmentor'))

    step('synthesising the validation label maps')
    label_dir = osp.join(args.data_root, 'val', 'labels')
    names = sorted(n for n in os.listdir(label_dir) if n.endswith('.png'))
    labels = [read_map(osp.join(label_dir, n)) for n in names]  # the checked readers
    photos = osp.join(args.data_root, 'val', 'images')
    reals = [np.ascontiguousarray(read_image(osp.join(photos, n))[..., ::-1]) for n in names]
    fakes, precision_notes = {}, []
    for name, config in MODELS:
        synth = SemanticSynthesizer(osp.join(ROOT, config), checkpoints[name])
        start = time.time()
        fakes[name] = [synth.synthesize(synth.read_labels(lab, n))[0]
                       for lab, n in zip(labels, names)]
        out = osp.join(work_dir, f'{name.lower()}_val')
        os.makedirs(out, exist_ok=True)
        for n, image in zip(names, fakes[name]):
            Image.fromarray(image).save(osp.join(out, n))
        print(f'[demo] {name}: {len(names)} images in {time.time() - start:.1f} s '
              f'({synth.inference.precision}) -> {out}')
        if synth.inference.precision != 'float32':
            # The faster precision this CPU chose, held to the float32 images and score.
            exact = SemanticSynthesizer(osp.join(ROOT, config), checkpoints[name],
                                        precision='float32')
            fakes[f'{name} float32'] = [exact.synthesize(exact.read_labels(lab, n))[0]
                                        for lab, n in zip(labels, names)]
            difference = np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in
                                  zip(fakes[name], fakes[f'{name} float32'])])
            precision_notes.append(
                f'{name} ran in {synth.inference.precision} (chosen for this CPU): '
                f'{difference:.2f} grey levels from its float32 images on average.')
            print(f'[demo] {precision_notes[-1]}')

    step('scoring real and generated images with the segmentor')
    metric = SegmentationScore(osp.join(ROOT, SEGMENTOR), seg_checkpoint,
                               num_generator_classes=len(SYNTHETIC_CLASSES), keys='fake_img')
    rows = []
    for name, images in [('real photos', reals)] + list(fakes.items()):
        metric.results.clear()
        samples = [dict(fake_img=torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1),
                        label_map=torch.from_numpy(lab.astype(np.int64)))
                   for img, lab in zip(images, labels)]
        for i in range(0, len(samples), 8):
            metric.process(None, samples[i:i + 8])
        scores = {k.split('/')[-1]: v for k, v in metric.compute_metrics(metric.results).items()}
        rows.append((name, scores))
        print(f'[demo] {name:<12} mIoU {scores["mIoU"]:5.1f}  mAcc {scores["mAcc"]:5.1f}  '
              f'aAcc {scores["aAcc"]:5.1f}')

    step('writing the report')
    count = min(args.grid_rows, len(names))
    palette = label_palette(len(SYNTHETIC_CLASSES))
    grid = sample_grid(np.stack(labels[:count]), np.stack(reals[:count]),
                       np.stack(fakes['SPADE'][:count]), palette)
    clade_column = np.concatenate(fakes['CLADE'][:count], axis=0)
    grid = np.concatenate([grid, clade_column], axis=1)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2),
                                 Image.NEAREST).save(osp.join(work_dir, 'grid.png'))
    lines = [
        '# clade-mm demo: synthetic scenes', '',
        f'{len(names)} validation label maps, segmented by the FCN trained on the real '
        'training photos (`configs/segmentors/fcn_r18_synthetic.py`); higher is better.', '',
        '| images | mIoU | mean acc. | pixel acc. |', '|---|---|---|---|']
    lines += [f'| {name} | {s["mIoU"]:.1f} | {s["mAcc"]:.1f} | {s["aAcc"]:.1f} |'
              for name, s in rows]
    lines += ['', 'Checkpoints: ' + ', '.join(f'{n} `{c}`' for n, c in checkpoints.items()) +
              f', segmentor `{seg_checkpoint}`.', '',
              *precision_notes,
              '', '![label | real | SPADE | CLADE](grid.png)', '',
              'Columns of grid.png: label map | real photo | SPADE | CLADE.', '']
    with open(osp.join(work_dir, 'report.md'), 'w') as f:
        f.write('\n'.join(lines))
    print(f'[demo] report: {osp.join(work_dir, "report.md")}, grid: '
          f'{osp.join(work_dir, "grid.png")}')


if __name__ == '__main__':
    main()
