"""position_map='published': CLADE-ICPE sees the positional maps the published code trained
it with (no map on class 0, computed at the label file's resolution, then resized), in the
data pipeline of tools/test.py and in SemanticSynthesizer; the default is unchanged."""
import os

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from clade_mm.apis import SemanticSynthesizer
from clade_mm.ops.positional_map import icpe_map
from tests.test_layers.test_layout import reference_icpe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def published_dist_masks(label: np.ndarray) -> np.ndarray:
    """The published util/cal_dist_masks.py: the ICPE map of every class but 0."""
    return reference_icpe(label, exclude=(0, ))


def label_file(path, h=40, w=60):
    rng = np.random.default_rng(1)
    tiles = rng.integers(0, 6, (h // 10 + 1, w // 10 + 1))
    label = np.kron(tiles, np.ones((10, 10)))[:h, :w].astype(np.uint8)
    label[:, :12] = 0  # class 0: no positional map in the published preprocessing
    Image.fromarray(label).save(path)
    return label


def icpe_model(tmp_path):
    config = tmp_path / 'icpe.py'
    config.write_text(f"_base_ = {os.path.join(ROOT, 'configs/clade/clade_icpe_synthetic.py')!r}\n"
                      "model = dict(generator=dict(base_channels=8, norm_cfg=dict("
                      "param_free_norm='IN')), discriminator=dict(base_channels=8))\n")
    synth = SemanticSynthesizer(str(config))
    with torch.no_grad():  # as if trained: the positional convs matter
        for name, p in synth.generator.named_parameters():
            if 'position' in name:
                p.normal_(0, 1)
    return str(config), synth


def test_the_pipeline_computes_the_published_map_before_resizing(tmp_path):
    label = label_file(tmp_path / 'a.png')
    init_default_scope('mmagic')
    import clade_mm.datasets  # noqa: F401
    from mmagic.registry import TRANSFORMS
    cfg = Config.fromfile('configs/clade/clade_icpe_ade20k.py').test_dataloader.dataset.pipeline
    cfg[0].position_map = 'published'
    pipeline = [TRANSFORMS.build(t) for t in cfg[:-1]]  # up to packing
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(tmp_path / 'a.jpg')
    results = dict(img_path=str(tmp_path / 'a.jpg'), label_path=str(tmp_path / 'a.png'))
    for transform in pipeline:
        results = transform(results)
    reference = F.interpolate(torch.from_numpy(published_dist_masks(label))[None].float(),
                              size=(256, 256), mode='nearest')[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(results['position'], reference, atol=1e-6)
    assert (results['position'][:, :40] == 0).all()  # class 0, scaled: no map


def test_synthesis_feeds_the_published_map_and_the_default_stays(tmp_path):
    label = label_file(tmp_path / 'a.png', 64, 64)
    config, synth = icpe_model(tmp_path)
    default = synth.synthesize(label)[0]
    labels = torch.from_numpy(label.astype(np.int64))[None]
    with torch.no_grad():
        ours = synth.generator(labels, position=icpe_map(labels))[0]
        theirs = synth.generator(labels, position=torch.from_numpy(
            published_dist_masks(label))[None].float())[0]
    as_image = lambda x: ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(default, as_image(ours))

    cfg = Config.fromfile(config)
    cfg.test_dataloader.dataset.pipeline[0].position_map = 'published'
    published = SemanticSynthesizer(cfg)
    published.generator.load_state_dict(synth.generator.state_dict())
    image = published.synthesize(label)[0]
    assert np.array_equal(image, as_image(theirs))
    assert np.abs(image.astype(int) - default.astype(int)).mean() > 0.5  # the option matters


def test_the_gan_test_step_passes_the_packed_map_to_the_generator(tmp_path, monkeypatch):
    from mmengine.dataset import pseudo_collate

    import clade_mm.models  # noqa: F401
    from clade_mm.datasets import write_synthetic_dataset
    from mmagic.registry import DATASETS, MODELS
    write_synthetic_dataset(str(tmp_path), num_train=0, num_val=2, size=64)
    init_default_scope('mmagic')
    cfg = Config.fromfile('configs/clade/clade_icpe_synthetic.py')
    cfg.test_dataloader.dataset.update(data_root=str(tmp_path))
    cfg.test_dataloader.dataset.pipeline[0].position_map = 'published'
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    model = MODELS.build(cfg.model).eval()
    given = {}
    forward = model.generator.forward

    def recording_forward(labels, **inputs):
        given['position'] = inputs.get('position')
        return forward(labels, **inputs)

    monkeypatch.setattr(model.generator, 'forward', recording_forward)
    samples = [dataset[0], dataset[1]]
    model.test_step(pseudo_collate(samples))
    expected = torch.stack([torch.from_numpy(published_dist_masks(
        s['inputs']['label'][0].numpy())) for s in samples]).float()
    torch.testing.assert_close(given['position'], expected, atol=1e-5, rtol=0)
