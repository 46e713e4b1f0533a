"""OASIS's GAN: the class-balanced N+1 loss against the published formulas, LabelMix, a training
step of the shipped synthetic config, its EMA generator, and a Runner resume."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from clade_mm.models.editors.oasis import LabelMixLoss, SegmentationAdversarialLoss
from mmagic.registry import MODELS
from tests.paths import ROOT
from tests.test_models.conftest import optim_wrappers, synthetic_runner
from tests.test_models.test_semantic_gan import scenes, set_iter

NUM_CLASSES = 6


def synthetic_oasis_cfg(**kwargs) -> dict:
    """The model of ``configs/oasis/oasis_synthetic.py`` (64x64, 6 classes), as a dict."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'oasis', 'oasis_synthetic.py'))
    model = cfg.model.to_dict()
    model.update(kwargs)
    return model


def tiny_oasis_cfg(num_classes=NUM_CLASSES, **kwargs) -> dict:
    """An OASISGAN small enough for a test in a second: a three-level U-Net (sides of 8)."""
    cfg = dict(
        type='OASISGAN',
        data_preprocessor=dict(type='DataPreprocessor', mean=127.5, std=127.5,
                               output_channel_order='RGB', non_image_keys=['label', 'instance'],
                               data_keys=None),
        generator=dict(type='OASISGenerator', num_classes=num_classes, base_channels=4,
                       z_channels=4, norm_cfg=dict(type='NoiseSPADE', param_free_norm='BN',
                                                   hidden_channels=8)),
        discriminator=dict(type='OASISDiscriminator', num_classes=num_classes,
                           channels=(8, 8, 16), last_channels=8))
    cfg.update(kwargs)
    return cfg


# --- The published formulas (boschresearch/OASIS, models/losses.py), on one-hot labels -------
# ``opt`` is replaced by its two flags; ``get_target_tensor`` is the CPU branch.

def published_class_balancing(input, label, no_balancing_inloss, contain_dontcare_label):
    if not no_balancing_inloss:
        class_occurence = torch.sum(label, dim=(0, 2, 3))
        if contain_dontcare_label:
            class_occurence[0] = 0
        num_of_classes = (class_occurence > 0).sum()
        coefficients = torch.reciprocal(class_occurence) * torch.numel(label) / (
            num_of_classes * label.shape[1])
        integers = torch.argmax(label, dim=1, keepdim=True)
        if contain_dontcare_label:
            coefficients[0] = 0
        weight_map = coefficients[integers]
    else:
        weight_map = torch.ones_like(input[:, :, :, :])
    return weight_map


def published_target_tensor(input, target_is_real):
    return torch.FloatTensor(1).fill_(1.0 if target_is_real else 0.0).expand_as(input)


def published_n1_target(input, label, target_is_real):
    targets = published_target_tensor(input, target_is_real)
    num_of_classes = label.shape[1]
    integers = torch.argmax(label, dim=1)
    targets = targets[:, 0, :, :] * num_of_classes
    integers += targets.long()
    integers = torch.clamp(integers, min=num_of_classes - 1) - num_of_classes + 1
    return integers


def published_loss(input, label, for_real, no_balancing_inloss, contain_dontcare_label):
    weight_map = published_class_balancing(input, label, no_balancing_inloss,
                                           contain_dontcare_label)
    target = published_n1_target(input, label, for_real)
    loss = F.cross_entropy(input, target, reduction='none')
    if for_real:
        loss = torch.mean(loss * weight_map[:, 0, :, :])
    else:
        loss = torch.mean(loss)
    return loss


def published_labelmix_loss(mask, output_D_mixed, output_D_fake, output_D_real):
    mixed_D_output = mask * output_D_real + (1 - mask) * output_D_fake
    return torch.nn.MSELoss()(mixed_D_output, output_D_mixed)


def one_hot(labels, num_classes=NUM_CLASSES):
    """The published ``preprocess_input``: ``(N, H, W)`` ids -> ``(N, C, H, W)`` float."""
    return F.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()


def label_batch(seed=0):
    """Two 16x16 maps of classes 0, 1, 2, 4 in very different amounts (3 and 5 absent)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice([0, 1, 2, 4], size=(2, 16, 16), p=[0.1, 0.6, 0.25, 0.05])
    labels[1, :2, :2] = 4  # every present class appears in both images' batch
    return torch.from_numpy(labels).long()


# --- the loss ---------------------------------------------------------------------------------

@pytest.mark.parametrize('dont_care', [False, True])
def test_class_weights_are_the_published_balancing(dont_care):
    labels = label_batch()
    loss = SegmentationAdversarialLoss(dont_care_class=0 if dont_care else None)
    logits = torch.randn(2, NUM_CLASSES + 1, 16, 16)
    expected = published_class_balancing(logits, one_hot(labels), False, dont_care)[:, 0]
    got = loss.class_weights(labels, NUM_CLASSES)
    torch.testing.assert_close(got, expected)
    assert (got[labels == 0] == 0).all() == dont_care
    # the rarer the class, the more each pixel weighs: every class weighs the same in total
    present = [c for c in labels.unique().tolist() if not (dont_care and c == 0)]
    totals = [float(got[labels == c].sum()) for c in present]
    np.testing.assert_allclose(totals, totals[0], rtol=1e-5)


def test_n1_targets_are_the_published_ones():
    labels = label_batch()
    logits = torch.randn(2, NUM_CLASSES + 1, 16, 16)
    # real: class c is channel c + 1; fake: channel 0 (the layout OASISGAN.segment reads)
    assert torch.equal(published_n1_target(logits, one_hot(labels), True), labels + 1)
    assert torch.equal(published_n1_target(logits, one_hot(labels), False),
                       torch.zeros_like(labels))


@pytest.mark.parametrize('balancing', [True, False])
@pytest.mark.parametrize('dont_care', [False, True])
@pytest.mark.parametrize('real', [True, False])
def test_the_loss_is_the_published_one(balancing, dont_care, real):
    torch.manual_seed(0)
    labels = label_batch(seed=1)
    logits = torch.randn(2, NUM_CLASSES + 1, 16, 16)
    loss = SegmentationAdversarialLoss(class_balancing=balancing,
                                       dont_care_class=0 if dont_care else None)
    expected = published_loss(logits, one_hot(labels), real, not balancing, dont_care)
    torch.testing.assert_close(loss(logits, labels, real=real), expected)


def test_a_dont_care_class_other_than_0_is_the_published_one_in_its_label_order():
    """COCO-Stuff's "unlabeled" is the zoo's last class (182), the published OASIS's first: the
    loss with ``dont_care_class=5`` is the published one on the maps and logits reordered so
    that class 5 is 0."""
    labels = label_batch(seed=2)
    labels[labels == 0] = 5  # the don't-care pixels, as the last class
    logits = torch.randn(2, NUM_CLASSES + 1, 16, 16)
    to_published = (torch.arange(NUM_CLASSES) + 1) % NUM_CLASSES  # 5 -> 0, c -> c + 1
    published_logits = torch.empty_like(logits)
    published_logits[:, 0] = logits[:, 0]
    published_logits[:, to_published + 1] = logits[:, 1:]
    published_labels = one_hot(to_published[labels])
    loss = SegmentationAdversarialLoss(dont_care_class=5)
    torch.testing.assert_close(
        loss.class_weights(labels, NUM_CLASSES),
        published_class_balancing(published_logits, published_labels, False, True)[:, 0])
    for real in (True, False):
        torch.testing.assert_close(loss(logits, labels, real=real),
                                   published_loss(published_logits, published_labels, real,
                                                  False, True))


# --- LabelMix ---------------------------------------------------------------------------------

def test_labelmix_takes_whole_classes_from_the_real_or_the_fake_image():
    labels = torch.from_numpy(np.random.default_rng(0).integers(0, NUM_CLASSES, (2, 16, 16)))
    real, fake = torch.rand(2, 3, 16, 16), -torch.rand(2, 3, 16, 16)
    seen = set()
    for seed in range(8):
        mixed, mask = LabelMixLoss.mix(labels, fake, real, torch.Generator().manual_seed(seed))
        assert mask.shape == (2, 1, 16, 16)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        for c in range(NUM_CLASSES):  # one value per class over the whole batch
            values = mask[:, 0][labels == c].unique()
            assert len(values) == 1, (seed, c, values)
            seen.add(float(values))
        torch.testing.assert_close(mixed, torch.where(mask.bool(), real, fake))
    assert seen == {0.0, 1.0}  # classes come from both images


def test_labelmix_loss_is_the_published_one_times_its_weight():
    torch.manual_seed(0)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    mixed, fake, real = (torch.randn(2, NUM_CLASSES + 1, 8, 8) for _ in range(3))
    torch.testing.assert_close(LabelMixLoss(loss_weight=10.0)(mask, mixed, fake, real),
                               10.0 * published_labelmix_loss(mask, mixed, fake, real))
    assert float(LabelMixLoss()(mask, mask * real + (1 - mask) * fake, fake, real)) == 0


# --- the GAN ----------------------------------------------------------------------------------

def test_train_step_of_the_synthetic_config_updates_both_networks_without_vgg(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no checkpoints/ folder: a VGG file could not be found
    torch.manual_seed(0)
    model = MODELS.build(synthetic_oasis_cfg())
    model.init_weights()
    assert model.perceptual_loss is None
    assert not [n for n, m in model.named_modules() if 'vgg' in type(m).__name__.lower()]
    wrappers = optim_wrappers(model)
    before_g = {n: p.detach().clone() for n, p in model.generator.named_parameters()}
    before_d = {n: p.detach().clone() for n, p in model.discriminator.named_parameters()}
    before_ema = {n: p.detach().clone()
                  for n, p in model.generator_ema.module.named_parameters()}
    for step in range(2):
        set_iter(step)
        log = model.train_step(scenes(2, 64, seed=step), wrappers)
        assert {'loss_disc_fake', 'loss_disc_real', 'loss_disc_labelmix',
                'loss_gen_adv'} <= set(log), log
        assert 'loss_gen_vgg' not in log
        assert all(np.isfinite(float(v)) for v in log.values()), log
    for before, net in ((before_g, model.generator), (before_d, model.discriminator)):
        unchanged = [n for n, p in net.named_parameters() if torch.equal(before[n], p)]
        assert not unchanged
    # The EMA generator: there, moved, and an average rather than a copy of G.
    assert model.with_ema_gen and int(model.generator_ema.steps) == 2
    ema = dict(model.generator_ema.module.named_parameters())
    live = dict(model.generator.named_parameters())
    assert all(not torch.equal(before_ema[n], p) for n, p in ema.items())
    name = 'body.0.conv_0.weight_orig'
    assert not torch.equal(ema[name], live[name])


def test_the_test_step_segments_the_real_images_with_the_discriminator():
    torch.manual_seed(0)
    model = MODELS.build(tiny_oasis_cfg())
    model.init_weights()
    data = model.data_preprocessor(scenes(2, 64, seed=3))
    model.eval()
    with torch.no_grad():
        samples = model(data['inputs'], data['data_samples'])
        logits = model.discriminator(data['inputs']['img'])
    for sample, expected in zip(samples, logits[:, 1:].argmax(1)):  # "fake" left out
        assert sample.disc_label_map.shape == sample.label_map.shape[-2:] == (64, 64)
        assert torch.equal(sample.disc_label_map, expected)
    # Without real images there is nothing to segment.
    with torch.no_grad():
        samples = model(dict(label=data['inputs']['label']), data['data_samples'])
    assert all('disc_label_map' not in sample for sample in samples)


def test_runner_resumes_both_optimizers_and_the_ema(tmp_path):
    def runner(max_iters, **kwargs):
        return synthetic_runner(tmp_path, synthetic_oasis_cfg(), max_iters, **kwargs)

    def optimizer_states(run):
        return {key: run.optim_wrapper[key].optimizer.state_dict()['state']
                for key in ('generator', 'discriminator')}

    first = runner(2)
    first.train()  # the last iteration is checkpointed
    saved = optimizer_states(first)
    assert all({int(s['step']) for s in states.values()} == {2} for states in saved.values())
    saved_ema = {k: v.clone() for k, v in first.model.generator_ema.state_dict().items()}
    assert int(saved_ema['steps']) == 2
    resumed = runner(3, resume=True)
    resumed.call_hook('before_run')
    resumed.load_or_resume()
    assert resumed.iter == 2
    for key, states in optimizer_states(resumed).items():
        assert states.keys() == saved[key].keys() and states, key
        for index, state in states.items():
            for name, value in state.items():
                assert torch.equal(value, saved[key][index][name]), (key, index, name)
    for key, value in resumed.model.generator_ema.state_dict().items():
        assert torch.equal(value, saved_ema[key]), key  # the average, not a fresh copy of G
    resumed.train()
    assert resumed.iter == 3
    for states in optimizer_states(resumed).values():
        assert {int(s['step']) for s in states.values()} == {3}
    assert int(resumed.model.generator_ema.steps) == 3
