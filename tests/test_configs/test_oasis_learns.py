"""OASIS learns on the synthetic scenes: the short version of what `make demo` shows (OASIS
trained with adversarial supervision alone, no VGG, scored by segmenting its images).

The shipped config (configs/oasis/oasis_synthetic.py, its optimizers included) with the
generator at half its width, trained STEPS steps on in-memory scenes, as the INADE test trains
its model (its scenes). The score needs no trained segmentor: each class of the scenes has its
own mean colour (the dataset's palette), so a pixel is segmented as the class of the nearest
palette colour; the real photos score about 82 mIoU that way. The images are the EMA generator's, as
the Runner's test loop makes them.

Measured on this machine: generated images 7.9 mIoU at initialisation and 57.8 after 250 steps
(the real photos 82.1); the discriminator's own segmentation of the real photos (the paper's
check that it stays a segmenter) 3.7 -> 90.6 mIoU. Without the config's gradient clipping of
the discriminator the same run ended at 6.5 and 38.7.
"""
import numpy as np
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import clade_mm.engine  # noqa: F401
import clade_mm.models  # noqa: F401
from mmagic.registry import MODELS
from tests.paths import config_path
from tests.test_models.test_semantic_gan import scenes, set_iter

STEPS = 250  # batches of 4: about 1.5 minutes on 2 CPU cores


def nearest_colour_miou(images, labels, palette):
    """mIoU (0..100) of ``images`` (N, 3, H, W) RGB 0..255 segmented by the nearest palette
    colour, against ``labels`` (N, H, W), over the classes present in ``labels``."""
    distance = ((images[:, None].float() - palette[None, :, :, None, None]) ** 2).sum(2)
    return segmentation_miou(distance.argmin(1), labels, len(palette))


def segmentation_miou(predicted, labels, num_classes):
    ious = [((predicted == c) & (labels == c)).sum().item() /
            ((predicted == c) | (labels == c)).sum().item()
            for c in range(num_classes) if (labels == c).any()]
    return 100 * float(np.mean(ious))


def scores(model, data, palette):
    """(generated images' mIoU, the discriminator's mIoU on the real photos)."""
    model.eval()
    with torch.no_grad():
        torch.manual_seed(0)
        results = model.test_step(data)
    model.train()
    labels = torch.stack([r.label_map.squeeze(0) for r in results])
    fake = torch.stack([r.fake_img for r in results]).flip(1)  # the dataset's BGR -> RGB
    disc = torch.stack([r.disc_label_map for r in results])
    return (nearest_colour_miou(fake, labels, palette),
            segmentation_miou(disc, labels, len(palette)))


def test_oasis_learns_to_paint_the_classes_and_its_discriminator_to_segment_them():
    init_default_scope('mmagic')
    cfg = Config.fromfile(config_path('oasis_synthetic'))
    cfg.model.generator.base_channels = 8
    palette = torch.tensor(cfg.palette, dtype=torch.float32)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    # the config's optimizers: Adam (0, 0.999), G 2e-4, D 8e-4 with its gradient clipped
    wrappers = build_optim_wrapper(model, cfg.optim_wrapper)
    val = scenes(16, 64, seed=100)
    train = [scenes(4, 64, seed=seed) for seed in range(60)]
    before = scores(model, val, palette)
    for step in range(STEPS):
        set_iter(step)
        log = model.train_step(train[step % len(train)], wrappers)
    assert {'loss_disc_labelmix', 'loss_gen_adv'} <= set(log)
    assert 'loss_gen_vgg' not in log
    after = scores(model, val, palette)
    print(f'mIoU before {before}, after {after}')
    assert before[0] < 15 and before[1] < 15, before
    assert after[0] > 25, (before, after)  # the images take the classes' colours ...
    assert after[1] > 60, (before, after)  # ... and the discriminator segments real photos
