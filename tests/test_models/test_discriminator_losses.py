import pytest
import torch
import torch.nn.functional as F

from clade_mm.models import FeatureMatchingLoss, KLDivergenceLoss, VGG19PerceptualLoss
from clade_mm.models.editors.spade import MultiScaleDiscriminator


def test_discriminator_scales_and_parameter_count():
    d = MultiScaleDiscriminator(151)
    assert 5.7e6 < sum(p.numel() for p in d.parameters()) < 5.9e6  # the published D: about 5.8 M
    small = MultiScaleDiscriminator(4, base_channels=8, num_layers=3)
    outputs = small(torch.randn(2, 3, 32, 32), torch.randint(0, 4, (2, 32, 32)))
    assert len(outputs) == 2 and len(outputs[0]) == 4
    # the second scale sees the input at half resolution
    assert outputs[1][-1].shape[-1] < outputs[0][-1].shape[-1]
    assert outputs[0][-1].shape[1] == 1


def test_discriminator_is_conditioned_on_the_labels():
    torch.manual_seed(0)
    d = MultiScaleDiscriminator(4, base_channels=8, num_layers=3)
    d.init_weights()
    images = torch.randn(1, 3, 32, 32)
    a = d(images, torch.zeros(1, 32, 32, dtype=torch.long))[0][-1]
    b = d(images, torch.ones(1, 32, 32, dtype=torch.long))[0][-1]
    assert (a - b).abs().max() > 0


def test_feature_matching_by_hand():
    fake = [[torch.ones(1, 2, 2, 2), torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 1, 1)]] * 2
    real = [[torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1)]] * 2
    # per scale: |1 - 0| on the first feature, 0 on the second, logits ignored
    assert FeatureMatchingLoss(loss_weight=10)(fake, real).item() == pytest.approx(10.0)


def test_kl_by_hand():
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    # KL(N(1, 1) || N(0, 1)) = 0.5 per dimension with mean 1
    assert KLDivergenceLoss(loss_weight=1.0)(mu, logvar).item() == pytest.approx(0.5)


def test_perceptual_loss_needs_a_local_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='vgg19-dcbb9e9d.pth'):
        VGG19PerceptualLoss(str(tmp_path / 'vgg19.pth'))
    from torchvision.models import vgg19
    torch.manual_seed(0)
    path = tmp_path / 'vgg19.pth'
    torch.save(vgg19(weights=None).state_dict(), path)  # random weights stand in
    loss = VGG19PerceptualLoss(str(path))
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    assert loss(image, image).item() == 0
    assert loss(image, -image).item() > 0
    # with layer weights (0, 0, 0, 0, 1) only relu5_1 counts: compare with a direct pass
    only_last = VGG19PerceptualLoss(str(path), layer_weights=(0, 0, 0, 0, 1), loss_weight=1)
    x = ((image + 1) / 2 - only_last.mean) / only_last.std
    y = ((-image + 1) / 2 - only_last.mean) / only_last.std
    expected = F.l1_loss(only_last.features(x), only_last.features(y))
    assert only_last(image, -image).item() == pytest.approx(expected.item(), rel=1e-5)
