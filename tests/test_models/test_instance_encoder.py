"""INADE's instance encoder: its heads' per-instance means, taken from per-instance sums of their
input, equal the published way (the instance-aware convolution at every pixel, then averaged
over each instance), values and gradients."""
import pytest
import torch

from clade_mm.layers.label_map import region_means
from clade_mm.models.editors.inade import InstanceAwareConv2d


def instance_map(n, h, w, generator):
    """Blobs, one-pixel lines and corners, instance ids with gaps (absent ids stay absent)."""
    ids = torch.randint(0, 3, (n, h // 4, w // 4), generator=generator) * 3
    ids = ids.repeat_interleave(4, 1).repeat_interleave(4, 2)
    ids[:, :, 5] = 7  # a one-pixel column
    ids[:, 2, :] = 8  # a one-pixel row, crossing it
    ids[:, 0, 0] = 10  # a single corner pixel
    ids[:, -1, -2:] = 11  # a two-pixel one at the border
    return ids


def test_head_means_from_instance_sums_equal_the_convolution_averaged():
    generator = torch.Generator().manual_seed(0)
    conv = InstanceAwareConv2d(5, 6, 3, padding=1)
    with torch.no_grad():
        conv.bias.normal_(generator=generator)
    x = torch.randn(2, 5, 16, 20, generator=generator, requires_grad=True)
    ids = instance_map(2, 16, 20, generator)
    rows = 13  # ids 1, 2, 4, 5, 12 occur in no sample: their means are 0, bias included
    weights = torch.randn(13, 6, generator=generator)  # of each instance's mean, for gradients

    fast = conv.region_means(x, ids, rows, conv.weight, conv.bias)
    reference = region_means(conv(x, ids), ids, rows)
    assert fast.shape == (2, rows, 6)
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-6)
    assert not fast[:, [1, 2, 4, 5, 12]].any()

    grads = [torch.autograd.grad((out * weights).sum(), (x, conv.weight, conv.bias))
             for out in (fast, reference)]
    for got, expected in zip(*grads):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_a_strided_convolution_is_refused():
    conv = InstanceAwareConv2d(3, 4, 3, stride=2, padding=1)
    x, ids = torch.randn(1, 3, 8, 8), torch.zeros(1, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError, match='stride 1'):
        conv.region_means(x, ids, 1, conv.weight, conv.bias)
