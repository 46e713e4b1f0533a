"""NoiseSPADE (OASIS's norm): the inference path, whose one-hot convolution is a gather of
per-class weight columns, is the published convolution of the concatenated noise and one-hot
map, on maps with one-pixel lines, classes at the borders and classes absent."""
import pytest
import torch

from clade_mm.layers import SemanticLayout
from clade_mm.layers.noise_spade import NoiseSPADE


@pytest.mark.parametrize('num_classes, size', [(151, (16, 20)), (6, (64, 64)), (6, (8, 8))])
def test_the_gather_is_the_convolution(num_classes, size):
    torch.manual_seed(0)
    norm = NoiseSPADE(16, num_classes, z_channels=8, hidden_channels=24).eval()
    for p in norm.parameters():
        torch.nn.init.normal_(p)
    labels = torch.randint(0, min(num_classes, 5), (2, 64, 64 * size[1] // size[0]))
    labels[:, :, :2] = num_classes - 1  # a class at the border, the highest id
    labels[:, 9, :] = 1  # a one-pixel line
    noise = torch.randn(2, 8, *labels.shape[-2:])  # varying per pixel, as a re-drawn region
    x = torch.randn(2, 16, *size)
    with torch.no_grad():
        gathered = norm(x, SemanticLayout(labels, noise_3d=noise))
    dense = norm(x, SemanticLayout(labels, noise_3d=noise))  # with gradients: the convolution
    assert dense.requires_grad
    scale = dense.abs().max().item()
    assert (gathered - dense).abs().max().item() <= 1e-6 * scale


def test_it_reads_the_noise_and_refuses_none():
    norm = NoiseSPADE(8, 6, z_channels=4)
    assert [spec.name for spec in norm.layout_inputs()] == ['noise_3d']
    assert norm.layout_inputs()[0].aliases == ('z', )
    with pytest.raises(ValueError, match="z_channels >= 1.*type='SPADE'"):
        NoiseSPADE(8, 6, z_channels=0)
