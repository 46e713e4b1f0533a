"""Stand-ins for the weight files that training and scoring read (no downloads here): the
right architecture and keys, random or simple values."""
import torch


class FakeInception(torch.nn.Module):
    """TorchScript with the StyleGAN Inception's call: uint8 RGB -> (N, 8) features."""

    def __init__(self):
        super().__init__()
        self.register_buffer('projection', torch.randn(3 * 4 * 4, 8,
                                                       generator=torch.Generator().manual_seed(0)))

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        pooled = torch.nn.functional.adaptive_avg_pool2d(x.float() / 255, 4)
        return pooled.flatten(1) @ self.projection


def write_fake_inception(path: str) -> str:
    torch.jit.script(FakeInception()).save(str(path))
    return str(path)


def write_random_vgg19(path: str) -> str:
    """torchvision's VGG19 state dict layout (the feature layers the perceptual loss reads)."""
    from torchvision.models import vgg19
    torch.manual_seed(0)
    features = vgg19(weights=None).features
    torch.save({f'features.{k}': v for k, v in features.state_dict().items()}, str(path))
    return str(path)


def write_random_segmentor(config: str, path: str) -> str:
    """An mmseg checkpoint of ``config``'s segmentor (``'mmseg::...'`` or a file), randomly
    initialised: every key the model has, so it loads as a trained one would."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(config) if not config.startswith('mmseg::') else None
    if cfg is None:
        from mmengine.hub import get_config
        cfg = get_config(config)
    with DefaultScope.overwrite_default_scope('mmseg'):
        import mmseg.models  # noqa: F401
        from mmseg.registry import MODELS
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(path))
    return str(path)
