"""SEAN learns on the synthetic scenes: the short version of what `make demo` shows
(tools/demo.py: a validation photo is painted closer to itself from its own style than from
another photo's, and the segmentation score stays near CLADE's).

The shipped config (configs/sean/sean_synthetic.py, region encoder included) at half its width,
trained STEPS steps on in-memory scenes, as tests/test_models/test_semantic_gan.py trains the
tiny CLADE (its scenes, colour error and optimizers). The scenes' per-image lighting (up to
+-25 grey levels on every class) is what a style code can carry and a label map cannot.

Measured on this machine (class colour error, own style / the next scene's): 61.8 / 61.8 at
initialisation; after 160, 240, 320, 400 and 480 steps 15.4 / 17.3, 17.8 / 19.2, 15.5 / 16.8,
15.5 / 16.4 and 15.8 / 16.8 grey levels. The style branch starts from the published
initialisation (Xavier, gain 0.02, through the encoder, the projections and the style
convolutions), so the codes' share grows slowly: the gap is small but holds from 160 steps on.
"""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import clade_mm.engine  # noqa: F401
import clade_mm.models  # noqa: F401
from mmagic.registry import MODELS
from tests.paths import config_path
from tests.test_models.conftest import optim_wrappers
from tests.test_models.test_semantic_gan import scenes, set_iter

CONFIG = config_path('sean_synthetic')
STEPS = 240  # batches of 4: about a minute and a half on 2 CPU cores


def small_sean(base_channels=8):
    init_default_scope('mmagic')
    cfg = Config.fromfile(CONFIG)
    cfg.model.generator.base_channels = base_channels
    cfg.model.discriminator.base_channels = base_channels
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def batch(data):
    """(photos in [-1, 1], label maps) of in-memory scenes, as the data preprocessor gives
    them to the generator (RGB)."""
    photos = torch.stack(data['inputs']['img']).float().flip(1) / 127.5 - 1  # BGR -> RGB
    labels = torch.cat(data['inputs']['label']).long()
    return photos, labels


@torch.no_grad()
def colour_errors(model, data):
    """Mean over scenes and their classes of |mean painted colour - mean photo colour| in grey
    levels, painting each scene with its own photo's style codes and with the next scene's
    (the same label map and noise either way): what the codes carry of a photo's look."""
    generator = model.generator.eval()
    photos, labels = batch(data)
    codes = generator.style_encoder(photos, labels)
    seeds = torch.arange(len(labels))
    errors = []
    for style in (codes, codes.roll(1, 0)):
        images = generator(labels, style_codes=style, noise_seed=seeds)
        per_class = [(images[i][:, labels[i] == k].mean(1) -
                      photos[i][:, labels[i] == k].mean(1)).abs().mean() * 127.5
                     for i in range(len(labels)) for k in labels[i].unique()]
        errors.append(float(torch.stack(per_class).mean()))
    generator.train()
    return tuple(errors)


def test_sean_paints_a_photo_closer_from_its_own_style_than_from_another():
    model = small_sean()
    wrappers = optim_wrappers(model)  # the config's learning rates (G 2e-4, D 8e-4)
    val = scenes(8, 64, seed=100)
    train = [scenes(4, 64, seed=seed) for seed in range(40)]
    before = colour_errors(model, val)
    for step in range(STEPS):
        set_iter(step)
        log = model.train_step(train[step % len(train)], wrappers)
    assert 'loss_gen_kl' not in log  # SEAN's codes are not sampled: no KL term
    own, other = colour_errors(model, val)
    print(f'class colour error from the own / the next scene\'s style: before {before[0]:.2f} / '
          f'{before[1]:.2f}, after {own:.2f} / {other:.2f} grey levels')
    assert own < 0.5 * before[0]  # it learned to paint the scenes ...
    assert own < other - 0.5  # ... and the style codes carry each photo's look
