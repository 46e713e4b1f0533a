"""The GAN model: a training step, a short training run that learns, a Runner resume."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub

from clade_mm.datasets import make_scene
from mmagic.registry import MODELS
from mmagic.structures import DataSample

from .conftest import optim_wrappers, synthetic_runner, tiny_gan_cfg


def scenes(count, size, seed):
    rng = np.random.default_rng(seed)
    batch = []
    for _ in range(count):
        label, image, instance = make_scene(size, rng)
        batch.append(dict(
            inputs=dict(img=torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1),
                        label=torch.from_numpy(label)[None],
                        instance=torch.from_numpy(instance.astype(np.int32))[None]),
            data_samples=DataSample(img_channel_order='bgr')))
    return pseudo_collate(batch)


def class_colour_error(model, data):
    """Mean over scenes and classes of |mean generated colour - mean real colour| (0..255)."""
    model.eval()
    with torch.no_grad():
        results = model.test_step(data)
    model.train()
    errors = []
    for result in results:
        labels = result.label_map.squeeze(0)
        for cls in labels.unique():
            mask = labels == cls
            fake = result.fake_img[:, mask].mean(1)
            real = result.gt_img[:, mask].mean(1)
            errors.append((fake - real).abs().mean().item())
    return float(np.mean(errors))


def set_iter(i):
    MessageHub.get_current_instance().update_info('iter', i)


def test_train_step_updates_both_networks():
    torch.manual_seed(0)
    model = MODELS.build(tiny_gan_cfg(with_instance_edge=True))
    model.init_weights()
    wrappers = optim_wrappers(model)
    # Every weight and class bank must move. (A bias right before a BatchNorm may not: the
    # norm removes a per-channel constant, so its gradient is zero up to rounding.)
    def weights(net):
        return {n: p for n, p in net.named_parameters() if not n.endswith('bias')}

    before_g = {n: p.detach().clone() for n, p in weights(model.generator).items()}
    before_d = {n: p.detach().clone() for n, p in weights(model.discriminator).items()}
    assert any('class_affine' in n for n in before_g)
    set_iter(0)
    log = model.train_step(scenes(2, 64, seed=0), wrappers)
    assert {'loss_disc_fake', 'loss_disc_real', 'loss_gen_gan', 'loss_gen_feat'} <= set(log)
    assert all(np.isfinite(float(v)) for v in log.values())
    for before, net in ((before_g, model.generator), (before_d, model.discriminator)):
        unchanged = [n for n, p in weights(net).items() if torch.equal(before[n], p)]
        assert not unchanged


def test_short_training_learns_the_class_colours():
    """80 steps on the synthetic scenes: the generated images take the classes' colours."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_gan_cfg())
    model.init_weights()
    wrappers = optim_wrappers(model)
    val = scenes(8, 64, seed=100)
    train = [scenes(8, 64, seed=seed) for seed in range(20)]
    before = class_colour_error(model, val)
    for step in range(80):
        set_iter(step)
        model.train_step(train[step % len(train)], wrappers)
    after = class_colour_error(model, val)
    assert after < 0.5 * before, (before, after)


def test_style_guided_synthesis_follows_the_style_image():
    torch.manual_seed(0)
    model = MODELS.build(tiny_gan_cfg(generator=dict(
        type='SemanticGenerator', num_classes=6, norm_cfg=dict(type='CLADE'), base_channels=8,
        z_channels=8, out_size=(64, 64),
        style_encoder=dict(type='StyleEncoder', base_channels=4, input_size=128))))
    model.init_weights()
    wrappers = optim_wrappers(model)
    set_iter(0)
    log = model.train_step(scenes(2, 64, seed=0), wrappers)
    assert 'loss_gen_kl' in log
    data = model.data_preprocessor(scenes(1, 64, seed=5))
    model.eval()
    outputs = []
    for style in (torch.zeros(1, 3, 64, 64), torch.ones(1, 3, 64, 64)):
        inputs = dict(data['inputs'], style=style)
        outputs.append(model(inputs, data['data_samples'])[0].fake_img)
    assert (outputs[0] - outputs[1]).abs().mean() > 0


def test_runner_resumes_iteration_optimizer_and_ema_state(tmp_path):
    def runner(max_iters, **kwargs):
        return synthetic_runner(tmp_path, tiny_gan_cfg(ema_config=dict(momentum=0.5)),
                                max_iters, **kwargs)

    first = runner(3)
    first.train()
    saved_step = {int(s['step']) for s in
                  first.optim_wrapper['generator'].optimizer.state.values()}
    assert saved_step == {3}
    saved_ema = {k: v.clone() for k, v in first.model.generator_ema.state_dict().items()}
    assert int(saved_ema['steps']) == 3
    resumed = runner(5, resume=True)
    resumed.call_hook('before_run')
    resumed.load_or_resume()
    for key, value in resumed.model.generator_ema.state_dict().items():
        assert torch.equal(value, saved_ema[key]), key  # the average, not a fresh copy of G
    resumed.train()
    assert resumed.iter == 5
    steps = {int(s['step']) for s in
             resumed.optim_wrapper['generator'].optimizer.state.values()}
    assert steps == {5}  # 3 restored + 2 more: the Adam moments came back
    assert int(resumed.model.generator_ema.steps) == 5


def test_ema_generator_tracks_and_synthesises():
    torch.manual_seed(0)
    model = MODELS.build(tiny_gan_cfg(ema_config=dict(momentum=0.5)))
    model.init_weights()
    wrappers = optim_wrappers(model)
    for step in range(2):
        set_iter(step)
        model.train_step(scenes(2, 64, seed=step), wrappers)
    ema = dict(model.generator_ema.module.named_parameters())
    live = dict(model.generator.named_parameters())
    name = 'head_0.norm_0.class_affine.gamma'
    assert not torch.equal(ema[name], live[name])  # an average, not a copy
    data = model.data_preprocessor(scenes(1, 64, seed=9))
    model.eval()
    with torch.no_grad():
        sample = model(data['inputs'], data['data_samples'])[0]
        expected = model.generator_ema(data['inputs']['label'])
    torch.testing.assert_close(
        sample.fake_img, model.data_preprocessor.destruct(expected, data['data_samples'])[0])
