"""The end-to-end demo on the embedded synthetic scenes: train, synthesise, score, report.

1. write the synthetic scenes to data/synthetic (once);
2. train CLADE and, for comparison, SPADE, INADE, SEAN, OASIS and CLADE trained the OASIS way
   (configs/{clade,spade,inade,sean}/*_synthetic.py, configs/oasis/{,clade_}oasis_synthetic.py)
   and a small mmseg segmentor on the real photos (configs/segmentors/fcn_r18_synthetic.py);
3. synthesise the validation label maps with the four generators (INADE with the validation
   instance maps, SEAN with the style of each map's own photo, as SEAN's published test
   reconstructs them; the generators with random inputs twice: seeds 0 and 1);
4. segment real and generated images and score them against the label maps (mIoU,
   accuracy), as the paper's Table 1 does, and measure their Frechet distance to the real
   photos (FID's formula, mmagic's; on the segmentor's backbone features, as no Inception
   weights can be fetched here); for the generators with random inputs (INADE's noise,
   SEAN's, OASIS's 3D noise), measure how far apart the two seeds' images are (mean per-pixel
   distance); for SEAN, how close it paints a photo from its own style and from another
   photo's (L1); for the models whose discriminator segments (OASIS's), its mIoU on the real
   photos;
5. write WORK_DIR/report.md and WORK_DIR/grid.png
   (label | real | SPADE | CLADE | INADE seed 0 | INADE seed 1 | SEAN | OASIS seed 0 |
   OASIS seed 1 | CLADE-OASIS).

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
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from mmagic.evaluation.metrics import FrechetInceptionDistance
from mmagic.registry import MODELS as GAN_MODELS

from clade_mm.apis import SemanticSynthesizer, positive_int
from clade_mm.datasets import SYNTHETIC_CLASSES, read_image, read_map, write_synthetic_dataset
from clade_mm.engine.hooks import label_palette, sample_grid
from clade_mm.evaluation import DiscriminatorIoU, SegmentationScore
from clade_mm.layers.layout import missing_inputs

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS = (('CLADE', 'configs/clade/clade_synthetic.py'),
          ('SPADE', 'configs/spade/spade_synthetic.py'),
          ('INADE', 'configs/inade/inade_synthetic.py'),
          ('SEAN', 'configs/sean/sean_synthetic.py'),
          ('OASIS', 'configs/oasis/oasis_synthetic.py'),
          ('CLADE-OASIS', 'configs/oasis/clade_oasis_synthetic.py'))
SEGMENTOR = 'configs/segmentors/fcn_r18_synthetic.py'
SEEDS = (0, 1)  # of the random inputs (INADE's noise): the first is scored, both are compared
MIOU_MARGIN = 2.0  # INADE's and SEAN's segmentation scores are held within this of CLADE's
HELD_TO_CLADE = ('INADE', 'SEAN')


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


def grey_levels(images, others):
    """Mean absolute difference of two lists of uint8 images, over pixels and RGB channels and
    then over the images, in grey levels (0..255)."""
    return float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(images, others)]))


def segmentor_features(metric, images):
    """``(samples, C)`` features of the segmentor's backbone (its last stage, averaged over
    4x4 cells of the image: 16 samples per image) of uint8 RGB images."""
    segmentor = metric.segmentor
    inputs = [torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1).float() for img in images]
    with torch.no_grad():
        data = segmentor.data_preprocessor(dict(inputs=inputs), False)
        cells = F.adaptive_avg_pool2d(segmentor.extract_feat(data['inputs'])[-1], 4)
    return cells.permute(0, 2, 3, 1).flatten(0, 2).double().numpy()


def frechet_distance(features, real_features):
    """FID's formula (mmagic's) between two sets of feature rows."""
    return FrechetInceptionDistance._calc_fid(
        features.mean(0), np.cov(features, rowvar=False), real_features.mean(0),
        np.cov(real_features, rowvar=False))[0]


def discriminator_scores(config, checkpoint, reals, labels):
    """The mIoU etc. of a model's discriminator segmenting the real photos, for a model whose
    discriminator segments (``segment``, OASIS's); ``None`` for other models."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    init_default_scope('mmagic')
    model = GAN_MODELS.build(cfg.model)
    if not hasattr(model, 'segment'):
        return None
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    model.load_state_dict(state, strict=True)
    model.eval()
    metric = DiscriminatorIoU(num_classes=model.discriminator.num_classes)
    for i in range(0, len(reals), 8):
        batch = torch.stack([torch.from_numpy(r.copy()).permute(2, 0, 1).float() / 127.5 - 1
                             for r in reals[i:i + 8]])
        metric.process(None, [dict(disc_label_map=prediction,
                                   label_map=torch.from_numpy(label.astype(np.int64)))
                              for prediction, label in zip(model.segment(batch),
                                                           labels[i:i + 8])])
    return {k.split('/')[-1]: v for k, v in metric.compute_metrics(metric.results).items()}


def needs_style(synth):
    """Whether the generator cannot paint without a style photo (SEAN's style codes)."""
    return any(spec.name != 'instances'
               for spec in missing_inputs(synth.generator, {'instances': None}))


def synthesise(synth, labels, names, instance_dir, seed, styles=None):
    """One image per label map (``seed`` for the random inputs); the instance maps of
    ``instance_dir`` are passed to a generator that reads them; a generator that needs a style
    takes it from ``styles``: ``(photo, its label map)`` per map."""
    reads = {spec.name for spec in synth.generator.layout_inputs()}
    images = []
    for index, (label, name) in enumerate(zip(labels, names)):
        instances = None
        if 'instances' in reads:
            instances = synth.read_instances(synth.instance_path(instance_dir, name))
        style = {}
        if styles is not None:
            style = dict(style=styles[index][0], style_labels=styles[index][1])
        images.append(synth.synthesize(synth.read_labels(label, name), instances=instances,
                                       seed=seed, name=name, **style)[0])
    return images


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
    instance_dir = osp.join(args.data_root, 'val', 'instances')
    own_styles = [(real, label) for real, label in zip(reals, labels)]
    other_styles = own_styles[1:] + own_styles[:1]  # the next map's photo
    fakes, precision_notes, seed_distances, style_l1 = {}, [], {}, {}
    for name, config in MODELS:
        synth = SemanticSynthesizer(osp.join(ROOT, config), checkpoints[name])
        has_random = any(spec.random for spec in synth.generator.layout_inputs())
        styles = own_styles if needs_style(synth) else None
        start = time.time()
        fakes[name] = synthesise(synth, labels, names, instance_dir, SEEDS[0], styles)
        out = osp.join(work_dir, f'{name.lower()}_val')
        os.makedirs(out, exist_ok=True)
        for n, image in zip(names, fakes[name]):
            Image.fromarray(image).save(osp.join(out, n))
        print(f'[demo] {name}: {len(names)} images in {time.time() - start:.1f} s '
              f'({synth.inference.precision}) -> {out}')
        if has_random:
            # Another seed, another draw of the random inputs: how different the images are.
            other = f'{name} seed {SEEDS[1]}'
            fakes[other] = synthesise(synth, labels, names, instance_dir, SEEDS[1], styles)
            seed_distances[name] = grey_levels(fakes[name], fakes[other])
            print(f'[demo] {name}: seeds {SEEDS[0]} and {SEEDS[1]} differ by '
                  f'{seed_distances[name]:.2f} grey levels per pixel on average')
        if styles is not None:
            # Its own photo's style against another photo's: what the style codes carry.
            other_style = synthesise(synth, labels, names, instance_dir, SEEDS[0],
                                     other_styles)
            style_l1[name] = (grey_levels(fakes[name], reals), grey_levels(other_style, reals))
            print(f'[demo] {name}: L1 to the photo {style_l1[name][0]:.2f} grey levels from '
                  f'its own style, {style_l1[name][1]:.2f} from the next photo\'s')
        if synth.inference.precision != 'float32':
            # The faster precision this CPU chose, held to the float32 images and score.
            exact = SemanticSynthesizer(osp.join(ROOT, config), checkpoints[name],
                                        precision='float32')
            fakes[f'{name} float32'] = synthesise(exact, labels, names, instance_dir, SEEDS[0],
                                                  styles)
            difference = grey_levels(fakes[name], fakes[f'{name} float32'])
            precision_notes.append(
                f'{name} ran in {synth.inference.precision} (chosen for this CPU): '
                f'{difference:.2f} grey levels from its float32 images on average.')
            print(f'[demo] {precision_notes[-1]}')

    step('scoring real and generated images with the segmentor')
    metric = SegmentationScore(osp.join(ROOT, SEGMENTOR), seg_checkpoint,
                               num_generator_classes=len(SYNTHETIC_CLASSES), keys='fake_img')
    rows, scores_by_name = [], {}
    real_features = segmentor_features(metric, reals)
    # the real photos' own distance: the training photos against the validation ones
    train_dir = osp.join(args.data_root, 'train', 'images')
    train_photos = [np.ascontiguousarray(read_image(osp.join(train_dir, n))[..., ::-1])
                    for n in sorted(os.listdir(train_dir))[:len(reals)]]
    fid_reference = frechet_distance(segmentor_features(metric, train_photos), real_features)
    for name, images in [('real photos', reals)] + list(fakes.items()):
        metric.results.clear()
        samples = [dict(fake_img=torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1),
                        label_map=torch.from_numpy(lab.astype(np.int64)))
                   for img, lab in zip(images, labels)]
        for i in range(0, len(samples), 8):
            metric.process(None, samples[i:i + 8])
        scores = {k.split('/')[-1]: v for k, v in metric.compute_metrics(metric.results).items()}
        scores['FID'] = fid_reference if name == 'real photos' else frechet_distance(
            segmentor_features(metric, images), real_features)
        rows.append((name, scores))
        scores_by_name[name] = scores
        print(f'[demo] {name:<12} mIoU {scores["mIoU"]:5.1f}  mAcc {scores["mAcc"]:5.1f}  '
              f'aAcc {scores["aAcc"]:5.1f}  FID {scores["FID"]:6.2f}')
    disc_notes = []
    for name, config in MODELS:
        disc = discriminator_scores(config, checkpoints[name], reals, labels)
        if disc is not None:
            disc_notes.append(f'{name}\'s discriminator segments the real validation photos at '
                              f'{disc["mIoU"]:.1f} mIoU (the segmentor: '
                              f'{scores_by_name["real photos"]["mIoU"]:.1f}).')
            print(f'[demo] {disc_notes[-1]}')

    step('writing the report')
    count = min(args.grid_rows, len(names))
    palette = label_palette(len(SYNTHETIC_CLASSES))
    columns = {'SPADE': 'SPADE', 'CLADE': 'CLADE', 'INADE': f'INADE seed {SEEDS[0]}',
               f'INADE seed {SEEDS[1]}': f'INADE seed {SEEDS[1]}',
               'SEAN': 'SEAN (own style)', 'OASIS': f'OASIS seed {SEEDS[0]}',
               f'OASIS seed {SEEDS[1]}': f'OASIS seed {SEEDS[1]}',
               'CLADE-OASIS': 'CLADE-OASIS'}  # fakes key: title
    grid_names = ' | '.join(['label map', 'real photo'] + list(columns.values()))
    columns = list(columns)
    grid = sample_grid(np.stack(labels[:count]), np.stack(reals[:count]),
                       np.stack(fakes[columns[0]][:count]), palette)
    grid = np.concatenate([grid] + [np.concatenate(fakes[c][:count], axis=0)
                                    for c in columns[1:]], axis=1)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2),
                                 Image.NEAREST).save(osp.join(work_dir, 'grid.png'))
    checks = []
    for held in HELD_TO_CLADE:
        margin = scores_by_name[held]['mIoU'] - scores_by_name['CLADE']['mIoU']
        within = margin >= -MIOU_MARGIN  # not more than the margin below CLADE
        checks.append(f'{held} within {MIOU_MARGIN:g} mIoU of CLADE: '
                      f'{"yes" if within else "NO"} ({held} '
                      f'{scores_by_name[held]["mIoU"]:.1f}, CLADE '
                      f'{scores_by_name["CLADE"]["mIoU"]:.1f}, difference {margin:+.1f}).')
        print(f'[demo] {checks[-1]}')
    for name, (own, other) in style_l1.items():
        checks.append(f'{name} paints a validation photo from its own style '
                      f'{"closer" if own < other else "NOT closer"} than from another photo\'s: '
                      f'L1 {own:.2f} against {other:.2f} grey levels (the next map\'s photo and '
                      'label map as the style, the map itself unchanged).')
        print(f'[demo] {checks[-1]}')

    def distance(name):
        return f'{seed_distances[name]:.1f}' if name in seed_distances else '-'

    lines = [
        '# clade-mm demo: synthetic scenes', '',
        f'{len(names)} validation label maps, segmented by the FCN trained on the real '
        'training photos (`configs/segmentors/fcn_r18_synthetic.py`); higher is better. '
        f'Generators with random inputs (INADE: its per-instance noise, with the validation '
        f'instance maps; SEAN: its per-pixel noise, with the style of each map\'s own photo; '
        f'OASIS and CLADE-OASIS: their 3D noise) are scored on seed {SEEDS[0]}; their row '
        f'"seed {SEEDS[1]}" is another draw. *FID*: the Frechet distance (FID\'s formula, '
        'mmagic\'s) to the real validation photos, on the segmentor\'s backbone features '
        '(its last stage averaged over 4x4 cells of each image), not Inception\'s, whose '
        'weights are not at hand here; lower is better; the real photos\' row is the '
        'training photos\' distance to them. *Seed distance*: the mean per-pixel distance '
        f'between the images of seeds {SEEDS[0]} and {SEEDS[1]} (|difference| over pixels and '
        'RGB channels, in grey levels of 0..255, averaged over the validation maps); "-" for '
        'deterministic generators.', '',
        '| images | mIoU | mean acc. | pixel acc. | FID | seed distance |',
        '|---|---|---|---|---|---|']
    lines += [f'| {name} | {s["mIoU"]:.1f} | {s["mAcc"]:.1f} | {s["aAcc"]:.1f} | '
              f'{s["FID"]:.2f} | {distance(name)} |' for name, s in rows]
    lines += ['', *checks, '', *disc_notes, '',
              'Checkpoints: ' + ', '.join(f'{n} `{c}`' for n, c in checkpoints.items()) +
              f', segmentor `{seg_checkpoint}`.', '',
              *precision_notes,
              '', f'![{grid_names}](grid.png)', '',
              f'Columns of grid.png: {grid_names}.', '']
    with open(osp.join(work_dir, 'report.md'), 'w') as f:
        f.write('\n'.join(lines))
    print(f'[demo] report: {osp.join(work_dir, "report.md")}, grid: '
          f'{osp.join(work_dir, "grid.png")}')


if __name__ == '__main__':
    main()
