"""SEAN's ACE: the gathered style convolution against the published dense formula, the noise
drawn as the published code draws it, and what the style codes reach."""
import pytest
import torch
import torch.nn.functional as F

from clade_mm.layers import LayoutError, SemanticLayout
from clade_mm.layers.sean import SEAN
from clade_mm.layers.spade import SPADE

NUM_CLASSES = 7


def trained_like(norm: SEAN, seed: int = 0) -> SEAN:
    """Weights of a trained layer's scale (the initial blending and noise scales are zero,
    which would hide the style branch and the noise)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in norm.named_parameters():
            fan_in = param[0].numel() if param.dim() > 1 else 1
            param.normal_(0, 1 / fan_in ** 0.5)
            if param.dim() == 3:  # a style convolution's weight, kept by tap: (in, k*k, out)
                param.normal_(0, 1 / (param.shape[0] * param.shape[1]) ** 0.5)
    return norm


def hard_map(n: int = 2, h: int = 32, w: int = 48) -> torch.Tensor:
    """Classes 0..2 in blocks, a one-pixel line of class 5, a border column of class 6, a
    single pixel of class 4; class 3 absent."""
    labels = torch.zeros(n, h, w, dtype=torch.long)
    labels[:, :, w // 3:] = 1
    labels[:, h // 2:, 2 * w // 3:] = 2
    labels[:, 7, :] = 5
    labels[:, :, -1] = 6
    labels[:, 20, 10] = 4
    if n > 1:
        labels[1] = labels[1].flip(-1)
    return labels


def layout(labels, codes, seeds=(3, 4)):
    return SemanticLayout(labels, style_codes=codes,
                          noise_seed=torch.tensor(seeds[:labels.shape[0]]))


@pytest.mark.parametrize('size', [(16, 24), (32, 48), (8, 12)])
def test_gathered_style_convolution_is_the_dense_one(size):
    """Within 1e-5 in float32; the gradients (float64, where rounding cannot hide a missing
    or doubled term) alike."""
    norm = trained_like(SEAN(16, NUM_CLASSES, style_channels=32))
    labels = hard_map()
    codes = torch.rand(2, NUM_CLASSES, 32) * 2 - 1
    x = torch.randn(2, 16, *size)
    outputs = {}
    for path in ('gather', 'dense'):
        norm.style_path = path
        outputs[path] = norm(x, layout=layout(labels, codes)).detach()
    torch.testing.assert_close(outputs['gather'], outputs['dense'], atol=1e-5, rtol=1e-5)

    norm.double()
    x = x.double().requires_grad_(True)
    grads = {}
    for path in ('gather', 'dense'):
        norm.style_path = path
        norm.zero_grad()
        x.grad = None
        out = norm(x, layout=layout(labels, codes.double()))
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        grads[path] = {'x': x.grad.clone(), **{
            n: None if p.grad is None else p.grad.clone() for n, p in norm.named_parameters()}}
    # the projections of the classes absent from the map at this size get no gradient on
    # either path (class 3 is absent, and the one-pixel line of class 5 at half size)
    present = set(layout(labels, codes).labels_at(size, torch.device('cpu')).unique().tolist())
    absent = {name for name, grad in grads['dense'].items() if grad is None}
    assert absent == {f'style_projections.{kind}.{j}' for kind in ('weight', 'bias')
                      for j in set(range(NUM_CLASSES)) - present}
    assert 3 not in present
    for name, grad in grads['dense'].items():
        if name in absent:
            assert grads['gather'][name] is None, name
            continue
        torch.testing.assert_close(grads['gather'][name], grad, atol=1e-9, rtol=1e-9,
                                   msg=lambda m: f'gradient of {name}: {m}')


def test_a_state_dict_with_convolution_layout_style_weights_loads():
    """Checkpoints of ours from before the weights were kept by tap hold them as nn.Conv2d
    does, (C, S, k, k): they load into the same layer, giving the same output."""
    norm = trained_like(SEAN(16, NUM_CLASSES, style_channels=32))
    state = norm.state_dict()
    assert state['conv_gamma.weight'].shape == (32, 9, 16)
    old_layout = dict(state)
    for conv in ('conv_gamma', 'conv_beta'):
        old_layout[f'{conv}.weight'] = getattr(norm, conv).conv_weight().contiguous()
        assert old_layout[f'{conv}.weight'].shape == (16, 32, 3, 3)
    loaded = SEAN(16, NUM_CLASSES, style_channels=32)
    loaded.load_state_dict(old_layout)
    labels, codes = hard_map(), torch.rand(2, NUM_CLASSES, 32) * 2 - 1
    x = torch.randn(2, 16, 16, 24)
    torch.testing.assert_close(loaded(x, layout=layout(labels, codes)),
                               norm(x, layout=layout(labels, codes)), rtol=0, atol=0)


def test_a_class_code_reaches_only_pixels_whose_window_touches_the_class():
    """The style convolution is 3x3: changing class 5's code (a one-pixel line) changes the
    style modulation on that line and the rows next to it, nowhere else; an absent class's
    code changes nothing."""
    norm = trained_like(SEAN(8, NUM_CLASSES, style_channels=16)).eval()
    labels = hard_map(1)
    codes = torch.rand(1, NUM_CLASSES, 16)
    base = norm.style_modulation(layout(labels, codes), (32, 48), torch.device('cpu'),
                                 torch.float32)
    changed = codes.clone()
    changed[0, 5] += 1
    changed[0, 3] += 1  # absent
    other = norm.style_modulation(layout(labels, changed), (32, 48), torch.device('cpu'),
                                  torch.float32)
    touched = F.max_pool2d((labels == 5).float()[:, None], 3, stride=1, padding=1)[:, 0] > 0
    difference = (other - base).abs().amax(1)
    assert difference[touched].min() > 1e-4
    assert difference[~touched].max() == 0


def test_noise_is_the_published_draw_of_its_seed():
    """Each layer draws ``randn(N, W, H, 1)`` in call order from the sample's seed, then
    transposes: with ``noise_var`` = v the pre-norm input is x + r^T v."""
    norm = SEAN(4, NUM_CLASSES, with_style=False)
    labels = torch.zeros(1, 8, 12, dtype=torch.long)
    lay = SemanticLayout(labels, noise_seed=torch.tensor([11]))
    first = norm.pixel_noise(torch.zeros(1, 4, 8, 12), lay)
    second = SEAN(4, NUM_CLASSES, with_style=False).pixel_noise(torch.zeros(1, 4, 4, 6), lay)
    torch.manual_seed(11)
    expected_first = torch.randn(1, 12, 8, 1).transpose(1, 3)
    expected_second = torch.randn(1, 6, 4, 1).transpose(1, 3)
    torch.testing.assert_close(first, expected_first, rtol=0, atol=0)
    torch.testing.assert_close(second, expected_second, rtol=0, atol=0)


def test_noise_follows_the_seed_and_noise_var():
    norm = trained_like(SEAN(8, NUM_CLASSES, style_channels=16)).eval()
    labels, codes = hard_map(1), torch.rand(1, NUM_CLASSES, 16)
    x = torch.randn(1, 8, 16, 24)
    a = norm(x, layout=layout(labels, codes, (1, )))
    assert torch.equal(a, norm(x, layout=layout(labels, codes, (1, ))))
    assert (a - norm(x, layout=layout(labels, codes, (2, )))).abs().max() > 1e-3
    with torch.no_grad():
        norm.noise_var.zero_()
    assert torch.equal(norm(x, layout=layout(labels, codes, (1, ))),
                       norm(x, layout=layout(labels, codes, (2, ))))


def test_without_a_style_branch_it_is_spade():
    """The published last block (use_rgb=False): SPADE's modulation of the noisy input."""
    sean = trained_like(SEAN(8, NUM_CLASSES, with_style=False)).eval()
    spade = SPADE(8, NUM_CLASSES).eval()
    spade.load_state_dict({k.replace('spade.', ''): v for k, v in sean.state_dict().items()
                           if k != 'noise_var'})
    assert [spec.name for spec in sean.layout_inputs()] == ['noise_seed']
    labels, x = hard_map(1), torch.randn(1, 8, 16, 24)
    lay = SemanticLayout(labels, noise_seed=torch.tensor([5]))
    noisy = x + sean.pixel_noise(x, lay) * sean.noise_var.view(1, -1, 1, 1)
    torch.testing.assert_close(sean(x, layout=lay), spade(noisy, layout=labels))


@pytest.mark.parametrize('codes, message', [
    (torch.zeros(1, NUM_CLASSES - 1, 16), r'style_codes.*shape \(1, 6, 16\)'),
    (torch.zeros(1, NUM_CLASSES, 8), r'style_codes.*shape \(1, 7, 8\)'),
    (None, r"reads the layout input 'style_codes'.*style_labels"),
])
def test_bad_style_codes_are_named(codes, message):
    norm = SEAN(8, NUM_CLASSES, style_channels=16)
    with pytest.raises(LayoutError, match=message):
        norm(torch.randn(1, 8, 16, 24), layout=layout(hard_map(1), codes, (1, )))


def test_instance_edges_are_refused_with_the_fix():
    with pytest.raises(ValueError, match='with_instance_edge=False'):
        SEAN(8, NUM_CLASSES, with_instance_edge=True)
