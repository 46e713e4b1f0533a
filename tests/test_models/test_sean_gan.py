"""SEAN's GAN on the Runner: resume brings back the region encoder's optimizer state and the EMA
average (the encoder lives in the generator, so both cover it), and the EMA generator paints a
batch in its own photos' styles, as the test loop scores it."""
import torch

from mmagic.registry import MODELS
from tests.test_models.conftest import optim_wrappers, synthetic_runner, tiny_gan_cfg
from tests.test_models.test_semantic_gan import scenes, set_iter


def tiny_sean_cfg(**kwargs):
    cfg = tiny_gan_cfg('SEAN', **kwargs)
    cfg['generator'].update(
        norm_cfg=dict(type='SEAN', style_channels=16, hidden_channels=16),
        block_norm_cfgs=dict(up_3=dict(with_style=False)),
        style_encoder=dict(type='RegionStyleEncoder', base_channels=4, style_channels=16))
    return cfg


def test_runner_resumes_the_encoder_s_optimizer_state_and_the_ema(tmp_path):
    def runner(max_iters, **kwargs):
        return synthetic_runner(tmp_path, tiny_sean_cfg(ema_config=dict(momentum=0.5)),
                                max_iters, **kwargs)

    first = runner(3)
    first.train()
    encoder_weight = first.model.generator.style_encoder.model[14].weight
    optimizer = first.optim_wrapper['generator'].optimizer
    assert int(optimizer.state[encoder_weight]['step']) == 3  # the encoder is trained
    saved_moment = optimizer.state[encoder_weight]['exp_avg'].clone()
    saved_ema = {k: v.clone() for k, v in first.model.generator_ema.state_dict().items()}
    resumed = runner(5, resume=True)
    resumed.call_hook('before_run')
    resumed.load_or_resume()
    for key, value in resumed.model.generator_ema.state_dict().items():
        assert torch.equal(value, saved_ema[key]), key
    weight = resumed.model.generator.style_encoder.model[14].weight
    state = resumed.optim_wrapper['generator'].optimizer.state[weight]
    assert torch.equal(state['exp_avg'], saved_moment)
    resumed.train()
    assert resumed.iter == 5


def test_the_ema_generator_paints_a_batch_in_its_own_photos_styles():
    torch.manual_seed(0)
    # noise_seed as a batch key: the test step's noise, fixed for the comparison below
    model = MODELS.build(tiny_sean_cfg(ema_config=dict(momentum=0.5),
                                       layout_keys=dict(noise_seed='noise_seed')))
    model.init_weights()
    wrappers = optim_wrappers(model)
    for step in range(2):
        set_iter(step)
        model.train_step(scenes(2, 64, seed=step), wrappers)
    data = model.data_preprocessor(scenes(2, 64, seed=9))
    inputs = data['inputs']
    model.eval()
    seeds = torch.tensor([3, 4])
    with torch.no_grad():
        sample = model(dict(inputs, noise_seed=seeds), data['data_samples'])
        ema = model.generator_ema.module
        codes = ema.style_encoder(inputs['img'], inputs['label'])
        expected = ema(inputs['label'], style_codes=codes, noise_seed=seeds)
        swapped = ema(inputs['label'], style_codes=codes.flip(0), noise_seed=seeds)
    fakes = torch.stack([s.fake_img for s in sample])
    torch.testing.assert_close(
        fakes, model.data_preprocessor.destruct(expected, data['data_samples']))
    assert (expected - swapped).abs().mean() > 0  # the codes, not only the map, reach it
