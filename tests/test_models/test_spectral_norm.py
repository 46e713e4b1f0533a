import pytest
import torch
import torch.nn as nn

from clade_mm.models import SpectralNormConv2d


@pytest.mark.parametrize('channels, size', [
    (4, 32),    # more outputs than weights: the weight is divided
    (64, 2),    # more weights than outputs: the output is divided
])
@pytest.mark.parametrize('train', [True, False])
def test_same_as_torch_spectral_norm(channels, size, train):
    torch.manual_seed(0)
    reference = nn.utils.spectral_norm(nn.Conv2d(channels, channels, 3, padding=1))
    ours = SpectralNormConv2d(channels, channels, 3, padding=1)
    assert set(ours.state_dict()) == set(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    reference.train(train), ours.train(train)
    for _ in range(2):  # the power iteration state must advance alike
        x = torch.randn(2, channels, size, size)
        xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
        out_r, out_o = reference(xr), ours(xo)
        torch.testing.assert_close(out_o, out_r, atol=1e-5, rtol=1e-4)
        weights = torch.randn_like(out_r)
        (out_r * weights).sum().backward()
        (out_o * weights).sum().backward()
        torch.testing.assert_close(xo.grad, xr.grad, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ours.weight_orig.grad, reference.weight_orig.grad,
                                   atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(ours.bias.grad, reference.bias.grad, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(ours.weight_u, reference.weight_u)
        reference.zero_grad(), ours.zero_grad()


def test_inference_keeps_sigma_until_the_weights_change():
    torch.manual_seed(0)
    reference = nn.utils.spectral_norm(nn.Conv2d(8, 8, 3, padding=1)).eval()
    ours = SpectralNormConv2d(8, 8, 3, padding=1).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        # Not frozen: an EMA-style edit through .data, invisible to version counters, counts.
        ours.weight_orig.data.mul_(2)
        reference.weight_orig.data.mul_(2)
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-4)
        ours.inference_frozen = True
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-4)
        kept = ours._eval_sigma[1]
        assert ours.sigma() is kept  # not estimated again
        # New weights (a checkpoint loaded): estimated anew.
        reference.weight_orig.mul_(3)
        ours.load_state_dict(reference.state_dict())
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-4)
        assert ours.sigma() is not kept
        torch.testing.assert_close(ours.sigma(), 3 * kept)
