"""Converting generators of the published SPADE/CLADE code (clade_mm.converters).

The published format comes from two sources independent of the converter: the key lists of six
published checkpoints (``official_state_dict_keys/``, listed from the published files: every
key and shape), and the published
layers' computations, written out below from the source tensors. A mapping that renames
consistently but wrongly (gamma <-> beta, dy <-> dx) passes a round trip but not those.
"""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint

from clade_mm.layers import semantic_layout
from clade_mm.converters import (OfficialCheckpointError, convert_official_checkpoint,
                                 convert_official_state_dict)
from clade_mm.models.editors.spade import SemanticGenerator, StyleEncoder
from clade_mm.models import SpectralNormConv2d
from clade_mm.models import build_generator
from tests.paths import config_path
from mmagic.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEY_LISTS = osp.join(osp.dirname(osp.abspath(__file__)), 'official_state_dict_keys')
EPS = 1e-5  # of the published param-free norms

# Our key -> the published one, written here independently of the converter's rule table.
PUBLISHED_PARTS = (('class_affine.gamma', 'class_specified_affine.weight'),
                   ('class_affine.beta', 'class_specified_affine.bias'),
                   ('class_affine.position_gamma.', 'class_specified_affine.dist_conv_w.'),
                   ('class_affine.position_beta.', 'class_specified_affine.dist_conv_b.'),
                   ('edge_affine.', 'inst_conv.'))


def assert_same(actual, expected):
    """Equal up to float32 rounding of sums over a thousand terms of ``trained_like`` size."""
    torch.testing.assert_close(actual, expected, rtol=1e-5,
                               atol=1e-5 * max(1.0, float(expected.abs().max())))


def published_name(key):
    for ours, theirs in PUBLISHED_PARTS:
        key = key.replace(ours, theirs)
    return key


def read_key_list(name):
    """``{key: meta tensor of the listed shape}`` of a published checkpoint."""
    state = {}
    with open(osp.join(KEY_LISTS, f'{name}.txt')) as f:
        for line in f:
            key, shape = line.split(' ', 1)
            dims = [int(d) for d in shape.strip()[1:-1].split(',') if d.strip()]
            state[key] = torch.empty(dims, device='meta')
    return state


# ----------------------------------------------------------------------------------------------
# Full size: every published key of six checkpoints lands on the shipped config's model.
VAE = {'model.generator.z_channels': 256, 'model.generator.out_size': (256, 256)}


@pytest.mark.parametrize('key_list, config, options', [
    ('clade_ade20k', 'clade_ade20k', None),
    ('clade_icpe_ade20k', 'clade_icpe_ade20k', None),
    ('clade_coco_instance', 'clade_coco_stuff', None),
    ('spade_ade20k', 'spade_ade20k', None),
    ('spade_coco_instance', 'spade_coco_stuff', None),
    ('spade_ade20k_vae', 'spade_ade20k', VAE),
])
def test_every_published_key_lands_on_the_shipped_config(key_list, config, options):
    source = read_key_list(key_list)
    cfg = Config.fromfile(config_path(config))
    if options:
        cfg.merge_from_dict(options)
    generator = build_generator(cfg)  # meta: names and shapes only
    result = convert_official_state_dict(source, generator)
    assert not result.zero_filled and not result.unused
    assert list(result.state_dict) == list(generator.state_dict())
    assert len(source) == len(result.state_dict)
    for ours, tensor in result.state_dict.items():
        assert tensor is source[published_name(ours)], ours


def published_encoder_keys(ngf=64):
    """``{key: meta tensor}`` of the published ConvEncoder (``*_net_E.pth``) as its definition
    gives them: six spectral 3x3 convs without bias, ``fc_mu``/``fc_var`` to 256."""
    state, channels = {}, 3
    for k, width in enumerate((ngf, 2 * ngf, 4 * ngf, 8 * ngf, 8 * ngf, 8 * ngf), 1):
        for name, shape in (('weight_orig', (width, channels, 3, 3)), ('weight_u', (width,)),
                            ('weight_v', (channels * 9,))):
            state[f'layer{k}.0.{name}'] = torch.empty(shape, device='meta')
        channels = width
    for head in ('fc_mu', 'fc_var'):
        state[f'{head}.weight'] = torch.empty(256, 8 * ngf * 4 * 4, device='meta')
        state[f'{head}.bias'] = torch.empty(256, device='meta')
    return state


def test_the_published_vae_with_its_encoder_lands_on_a_style_encoder_config():
    cfg = Config.fromfile(config_path('spade_ade20k'))
    cfg.merge_from_dict(dict(VAE, **{'model.generator.style_encoder': dict(type='StyleEncoder')}))
    generator, encoder = read_key_list('spade_ade20k_vae'), published_encoder_keys()
    result = convert_official_state_dict(generator, build_generator(cfg), encoder)
    assert set(result.zero_filled) == {f'style_encoder.layers.{3 * k}.bias' for k in range(6)}
    state = result.state_dict
    assert state['style_encoder.layers.15.weight_orig'] is encoder['layer6.0.weight_orig']
    assert state['style_encoder.fc_var.weight'] is encoder['fc_var.weight']


def test_a_wrong_dataset_config_names_the_class_count_and_the_edges():
    cfg = Config.fromfile(config_path('clade_ade20k'))
    with pytest.raises(OfficialCheckpointError) as err:
        convert_official_state_dict(read_key_list('clade_coco_instance'), build_generator(cfg))
    message = str(err.value)
    assert 'shapes differ: fc.weight: source [1024, 184, 3, 3], config [1024, 151, 3, 3]' \
        in message
    assert 'class count: the source has 183 classes, the config 151: set ' \
           'model.generator.num_classes=183' in message
    assert 'with_instance_edge=True' in message
    assert 'inst_conv' in message  # the unused keys are listed


def test_spade_label_channels_offer_both_readings():
    cfg = Config.fromfile(config_path('spade_ade20k'))
    with pytest.raises(OfficialCheckpointError,
                       match=r'184 label channels.*num_classes=184 without instance edges, or '
                             r'model.generator.num_classes=183 with model.generator.'
                             r'with_instance_edge=True'):
        convert_official_state_dict(read_key_list('spade_coco_instance'), build_generator(cfg))


def test_a_vae_generator_needs_a_config_with_a_style_code():
    cfg = Config.fromfile(config_path('spade_ade20k'))
    with pytest.raises(OfficialCheckpointError,
                       match=r'(?s)fc.weight: source \[65536, 256\].*style code of 256'):
        convert_official_state_dict(read_key_list('spade_ade20k_vae'), build_generator(cfg))


# ----------------------------------------------------------------------------------------------
# Small generators in the published format, and the published computations on their tensors.
NUM_CLASSES = 6
KEY_LIST_OF = {('CLADE', False): 'clade_ade20k', ('CLADE', True): 'clade_coco_instance',
               ('CLADE-ICPE', False): 'clade_icpe_ade20k', ('SPADE', False): 'spade_ade20k',
               ('SPADE', True): 'spade_coco_instance'}


def trained_like(generator):
    """Every weight and statistic away from its initial value; spectral ``u, v`` near the top
    singular vectors, as after training. Returns the generator in eval mode."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, tensor in generator.state_dict().items():
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 2.0)
            elif name.endswith('num_batches_tracked'):
                tensor.fill_(1234)
            elif tensor.is_floating_point():
                tensor.normal_(0, 0.3)
        for module in generator.modules():
            if isinstance(module, SpectralNormConv2d):  # a few power iterations
                matrix, v = module.weight_orig.flatten(1), module.weight_v
                for _ in range(5):
                    u = F.normalize(matrix @ v, dim=0)
                    v = F.normalize(matrix.t() @ u, dim=0)
                module.weight_u.copy_(u)
                module.weight_v.copy_(v)
    return generator.eval()


def small_generator(norm, with_instance_edge=False, **kwargs):
    return trained_like(SemanticGenerator(NUM_CLASSES, dict(type=norm), base_channels=8,
                                          with_instance_edge=with_instance_edge, **kwargs))


def published_state(generator):
    """The generator's weights as the published code names them."""
    return {published_name(k): v.clone() for k, v in generator.state_dict().items()}


def converted(source, norm, with_instance_edge=False, **kwargs):
    """A fresh generator (other weights) loaded strictly with the converted source."""
    torch.manual_seed(2)
    target = SemanticGenerator(NUM_CLASSES, dict(type=norm), base_channels=8,
                               with_instance_edge=with_instance_edge, **kwargs)
    result = convert_official_state_dict(source, target)
    target.load_state_dict(result.state_dict, strict=True)
    return target.eval(), result


def blocky(seed, high, size=(48, 64)):
    """A ``(1, H, W)`` map of random ids in 8x8 blocks."""
    generator = torch.Generator().manual_seed(seed)
    small = torch.randint(0, high, (1, 1, size[0] // 8, size[1] // 8), generator=generator)
    return F.interpolate(small.float(), size=size, mode='nearest').long()[:, 0]


def edges_of(instances):
    """1 where a 4-neighbour has another instance id (the published get_edges)."""
    t = instances[:, None]
    edge = torch.zeros_like(t, dtype=torch.bool)
    edge[..., 1:] |= t[..., 1:] != t[..., :-1]
    edge[..., :-1] |= t[..., 1:] != t[..., :-1]
    edge[..., 1:, :] |= t[..., 1:, :] != t[..., :-1, :]
    edge[..., :-1, :] |= t[..., 1:, :] != t[..., :-1, :]
    return edge.float()


def batch_norm(x, source, prefix):
    mean = source[f'{prefix}.param_free_norm.running_mean'].view(1, -1, 1, 1)
    var = source[f'{prefix}.param_free_norm.running_var'].view(1, -1, 1, 1)
    return (x - mean) / torch.sqrt(var + EPS)


def class_maps(bank, labels):
    """``bank[labels]`` as ``(N, C, H, W)``: the published F.embedding form."""
    return F.embedding(labels, bank).permute(0, 3, 1, 2)


@pytest.mark.parametrize('norm, with_instance_edge', sorted(KEY_LIST_OF))
def test_small_sources_have_the_published_key_names(norm, with_instance_edge):
    generator = SemanticGenerator(NUM_CLASSES, dict(type=norm), base_channels=8,
                                  with_instance_edge=with_instance_edge)
    assert set(published_state(generator)) == \
        set(read_key_list(KEY_LIST_OF[norm, with_instance_edge]))


def test_clade_with_edges_computes_the_published_formula():
    """``cat(BN(x) * weight[label] + bias[label], inst_conv(edges))``."""
    source = published_state(small_generator('CLADE', with_instance_edge=True))
    ours, _ = converted(source, 'CLADE', with_instance_edge=True)
    labels, instances = blocky(0, NUM_CLASSES), blocky(1, 50)
    x = torch.randn(2, 64, 48, 64)
    labels, instances = labels.expand(2, -1, -1), instances.expand(2, -1, -1)
    p = 'up_1.norm_0'
    expected = torch.cat([
        batch_norm(x, source, p) * class_maps(source[f'{p}.class_specified_affine.weight'], labels)
        + class_maps(source[f'{p}.class_specified_affine.bias'], labels),
        F.conv2d(edges_of(instances), source[f'{p}.inst_conv.weight'],
                 source[f'{p}.inst_conv.bias'])], 1)
    with torch.no_grad(), semantic_layout(labels, instances=instances):
        actual = ours.up_1.norm_0(x)
    assert_same(actual, expected)


def component_offsets(labels):
    """The published ICPE map ``(dy, dx)`` of an ``(H, W)`` map whose every class is one
    connected region: offset from the region's centroid over its largest |offset| + 1e-5."""
    ys, xs = torch.meshgrid(torch.arange(labels.shape[0]), torch.arange(labels.shape[1]),
                            indexing='ij')
    dist = torch.zeros(2, *labels.shape)
    for cls in labels.unique():
        mask = labels == cls
        for axis, coords in enumerate((ys.float(), xs.float())):
            offset = coords[mask] - coords[mask].mean()
            dist[axis][mask] = offset / (offset.abs().max() + 1e-5)
    return dist


def test_clade_icpe_computes_the_published_formula():
    """``BN(x) * w[label] * (1 + dist_conv_w(dist)) + b[label] * (1 + dist_conv_b(dist))``,
    ``dist`` in the published (dy, dx) channel order."""
    source = published_state(small_generator('CLADE-ICPE'))
    ours, _ = converted(source, 'CLADE-ICPE')
    labels = torch.zeros(32, 48, dtype=torch.long)  # class 0 around, 1 and 2 one block each
    labels[4:20, 6:30] = 1
    labels[22:30, 10:44] = 2
    dist = component_offsets(labels)[None]
    x = torch.randn(1, 128, 32, 48)
    p = 'up_0.norm_s'
    aff = f'{p}.class_specified_affine'
    gamma = class_maps(source[f'{aff}.weight'], labels[None]) * (
        1 + F.conv2d(dist, source[f'{aff}.dist_conv_w.weight'], source[f'{aff}.dist_conv_w.bias']))
    beta = class_maps(source[f'{aff}.bias'], labels[None]) * (
        1 + F.conv2d(dist, source[f'{aff}.dist_conv_b.weight'], source[f'{aff}.dist_conv_b.bias']))
    with torch.no_grad(), semantic_layout(labels[None]):
        actual = ours.up_0.norm_s(x)
    assert_same(actual, batch_norm(x, source, p) * gamma + beta)


def test_spade_computes_the_published_formula():
    """``BN(x) * (1 + mlp_gamma(a)) + mlp_beta(a)``, ``a = relu(mlp_shared(one_hot))``."""
    source = published_state(small_generator('SPADE'))
    ours, _ = converted(source, 'SPADE')
    labels = blocky(3, NUM_CLASSES, size=(16, 16))
    x = torch.randn(1, 128, 16, 16)
    p = 'head_0.norm_1'
    one_hot = F.one_hot(labels, NUM_CLASSES).permute(0, 3, 1, 2).float()
    shared = F.relu(F.conv2d(one_hot, source[f'{p}.mlp_shared.0.weight'],
                             source[f'{p}.mlp_shared.0.bias'], padding=1))
    gamma = F.conv2d(shared, source[f'{p}.mlp_gamma.weight'], source[f'{p}.mlp_gamma.bias'],
                     padding=1)
    beta = F.conv2d(shared, source[f'{p}.mlp_beta.weight'], source[f'{p}.mlp_beta.bias'],
                    padding=1)
    with torch.no_grad(), semantic_layout(labels):
        actual = ours.head_0.norm_1(x)
    assert_same(actual, batch_norm(x, source, p) * (1 + gamma) + beta)


@pytest.mark.parametrize('conv', ['head_0.conv_0', 'up_0.conv_s'])
def test_spectral_convs_divide_by_the_stored_estimate(conv):
    """Eval: ``weight_orig / (u . (W v))`` with the stored ``u, v`` (no power iteration)."""
    generator = small_generator('CLADE')
    with torch.no_grad():  # u, v no longer the singular vectors: sigma is the stored estimate
        for name in ('weight_u', 'weight_v'):
            buffer = generator.get_submodule(conv).get_buffer(name)
            buffer.copy_(F.normalize(buffer + 0.5 * torch.randn_like(buffer), dim=0))
    source = published_state(generator)
    ours, _ = converted(source, 'CLADE')
    weight, u, v = (source[f'{conv}.{n}'] for n in ('weight_orig', 'weight_u', 'weight_v'))
    sigma = u @ weight.flatten(1) @ v
    x = torch.randn(1, weight.shape[1], 8, 8)
    bias = source.get(f'{conv}.bias')
    expected = F.conv2d(x, weight / sigma, bias, padding=weight.shape[-1] // 2)
    with torch.no_grad():
        actual = ours.get_submodule(conv)(x)
    assert_same(actual, expected)


@pytest.mark.parametrize('norm, kwargs', [
    ('CLADE', dict(with_instance_edge=True)),
    ('CLADE-ICPE', {}),
    ('SPADE', dict(with_instance_edge=True)),
    ('SPADE', dict(z_channels=16, out_size=(64, 64))),
])
def test_converted_generator_computes_what_the_source_did(norm, kwargs):
    original = small_generator(norm, **kwargs)
    source = published_state(original)
    if 'z_channels' in kwargs:
        assert set(source) == set(read_key_list('spade_ade20k_vae'))
    ours, result = converted(source, norm, **kwargs)
    assert not result.zero_filled and not result.unused
    labels, instances = blocky(4, NUM_CLASSES, size=(64, 64)), blocky(5, 40, size=(64, 64))
    inputs = dict(instances=instances if kwargs.get('with_instance_edge') else None,
                  z=torch.randn(1, 16) if 'z_channels' in kwargs else None)
    with torch.no_grad():
        expected, actual = original(labels, **inputs), ours(labels, **inputs)
    assert expected.abs().mean() > 1e-2  # not a blank image
    assert_same(actual, expected)


def published_encoder_state(encoder):
    """Our encoder's weights as the published ConvEncoder names them: its k-th conv is
    ``layer{k}.0``, and it has no conv biases (instance norm follows)."""
    state, k = {}, 0
    for name, module in encoder.layers.named_children():
        if isinstance(module, SpectralNormConv2d):
            k += 1
            for param in ('weight_orig', 'weight_u', 'weight_v'):
                state[f'layer{k}.0.{param}'] = getattr(module, param).clone()
    for head in ('fc_mu', 'fc_var'):
        for param in ('weight', 'bias'):
            state[f'{head}.{param}'] = getattr(encoder, head).get_parameter(param).clone()
    return state


def published_encoder_forward(source, images):
    """The published ConvEncoder: to 256x256 (bilinear), six stride-2 spectral 3x3 convs with
    instance norm and LeakyReLU(0.2), then fc_mu and fc_var."""
    x = F.interpolate(images, size=(256, 256), mode='bilinear', align_corners=False)
    for k in range(1, 7):
        weight, u, v = (source[f'layer{k}.0.{n}'] for n in ('weight_orig', 'weight_u',
                                                            'weight_v'))
        x = F.conv2d(x, weight / (u @ weight.flatten(1) @ v), None, stride=2, padding=1)
        x = F.leaky_relu(F.instance_norm(x, eps=EPS), 0.2)
    x = x.flatten(1)
    return (F.linear(x, source['fc_mu.weight'], source['fc_mu.bias']),
            F.linear(x, source['fc_var.weight'], source['fc_var.bias']))


def test_style_encoder_computes_the_published_encoder():
    encoder_cfg = dict(type='StyleEncoder', base_channels=4, input_size=256)
    original = small_generator('SPADE', z_channels=16, out_size=(64, 64),
                               style_encoder=encoder_cfg)
    generator_state = {k: v for k, v in published_state(original).items()
                       if not k.startswith('style_encoder.')}
    encoder_state = published_encoder_state(original.style_encoder)
    target = SemanticGenerator(NUM_CLASSES, dict(type='SPADE'), base_channels=8, z_channels=16,
                               out_size=(64, 64), style_encoder=encoder_cfg)
    result = convert_official_state_dict(generator_state, target, encoder_state)
    assert set(result.zero_filled) == {f'style_encoder.layers.{3 * k}.bias' for k in range(6)}
    target.load_state_dict(result.state_dict, strict=True)
    images = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        expected = published_encoder_forward(encoder_state, images)
        actual = target.eval().style_encoder(images)
        theirs = original.style_encoder(images)  # with its own (random) conv biases
    for mine, published, original_output in zip(actual, expected, theirs):
        assert_same(mine, published)
        assert_same(mine, original_output)


# ----------------------------------------------------------------------------------------------
# Files: the checkpoint that tools/test.py, tools/synthesize.py and load_from read.
def small_config(tmp_path, norm='CLADE', **generator):
    generator = dict(dict(base_channels=8, norm_cfg=dict(_delete_=True, type=norm)),
                     **generator)
    path = tmp_path / f'{norm.lower()}_small.py'
    path.write_text(f"_base_ = {osp.join(ROOT, 'configs/clade/clade_synthetic.py')!r}\n"
                    f'model = dict(generator={generator!r}, '
                    'discriminator=dict(base_channels=8), ema_config=dict(momentum=0.001))\n')
    return str(path)


def test_checkpoint_loads_into_the_gan_its_ema_and_the_runner(tmp_path):
    original = small_generator('CLADE-ICPE')
    src, dst = tmp_path / 'latest_net_G.pth', tmp_path / 'converted.pth'
    torch.save(published_state(original), src)
    config = small_config(tmp_path, 'CLADE-ICPE')
    meta = convert_official_checkpoint(str(src), str(dst), config)
    assert meta['source_architecture']['norm'] == 'CLADE-ICPE' and meta['with_ema']

    checkpoint = torch.load(dst, weights_only=True)
    model = MODELS.build(Config.fromfile(config).model)
    expected_keys = {k for k in model.state_dict() if not k.startswith('discriminator.')}
    assert set(checkpoint['state_dict']) == expected_keys
    load_checkpoint(model, str(dst), map_location='cpu', logger='silent')
    labels = blocky(6, NUM_CLASSES, size=(64, 64))
    with torch.no_grad():
        expected = original(labels)
        for generator in (model.generator, model.generator_ema.module):
            assert_same(generator.eval()(labels), expected)

    runner = Runner(model=Config.fromfile(config).model, work_dir=str(tmp_path / 'work'),
                    load_from=str(dst), default_scope='mmagic')
    runner.load_or_resume()
    loaded = runner.model.generator.state_dict()
    for key, value in original.state_dict().items():
        torch.testing.assert_close(loaded[key], value, msg=key)


def test_missing_and_foreign_sources_are_named(tmp_path):
    config = small_config(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'nowhere/latest_net_G.pth not found.*'
                                                r'checkpoints/<name>/latest_net_G.pth'):
        convert_official_checkpoint('nowhere/latest_net_G.pth', str(tmp_path / 'x.pth'), config)
    folder = tmp_path / 'run'
    folder.mkdir()
    torch.save({}, folder / '10_net_G.pth')
    with pytest.raises(FileNotFoundError, match='is a folder.*it holds 10_net_G.pth'):
        convert_official_checkpoint(str(folder), str(tmp_path / 'x.pth'), config)
    (tmp_path / 'labels.png').write_bytes(b'\x89PNG not a checkpoint')
    with pytest.raises(OfficialCheckpointError, match=r'labels.png is not a PyTorch checkpoint '
                                                      r'\(it is a PNG image\)'):
        convert_official_checkpoint(str(tmp_path / 'labels.png'), str(tmp_path / 'x.pth'),
                                    config)
    (tmp_path / 'empty_net_G.pth').write_bytes(b'')
    with pytest.raises(OfficialCheckpointError, match=r'empty_net_G.pth is empty \(0 bytes\)'):
        convert_official_checkpoint(str(tmp_path / 'empty_net_G.pth'), str(tmp_path / 'x.pth'),
                                    config)
    (tmp_path / 'readme_net_G.pth').write_text('SPADE checkpoints: see the README')
    with pytest.raises(OfficialCheckpointError, match=r'not a PyTorch checkpoint \(it is a '
                                                      r"text file starting 'SPADE checkpoints"):
        convert_official_checkpoint(str(tmp_path / 'readme_net_G.pth'), str(tmp_path / 'x.pth'),
                                    config)
    encoder = StyleEncoder(base_channels=4, input_size=256)
    torch.save(published_encoder_state(encoder), tmp_path / 'latest_net_E.pth')
    with pytest.raises(OfficialCheckpointError, match='style encoder .*give it as --encoder'):
        convert_official_checkpoint(str(tmp_path / 'latest_net_E.pth'), str(tmp_path / 'x.pth'),
                                    config)
    torch.save({'discriminator_0.model0.0.weight': torch.zeros(1)}, tmp_path / '1_net_D.pth')
    with pytest.raises(OfficialCheckpointError, match=r'a published discriminator'):
        convert_official_checkpoint(str(tmp_path / '1_net_D.pth'), str(tmp_path / 'x.pth'),
                                    config)
    ours = tmp_path / 'iter_600.pth'
    torch.save(dict(meta={}, state_dict={'generator.fc.weight': torch.zeros(1)}), ours)
    with pytest.raises(OfficialCheckpointError, match='already a clade-mm checkpoint'):
        convert_official_checkpoint(str(ours), str(tmp_path / 'x.pth'), config)
    assert not (tmp_path / 'x.pth').exists()


def test_unused_keys_stop_the_conversion_unless_allowed(tmp_path):
    """A CLADE-ICPE source into a CLADE config: refused, or run as plain CLADE when asked."""
    source = published_state(small_generator('CLADE-ICPE'))
    target = SemanticGenerator(NUM_CLASSES, dict(type='CLADE'), base_channels=8)
    with pytest.raises(OfficialCheckpointError,
                       match=r"(?s)72 source keys have no counterpart.*dist_conv_w.*likely fix: "
                             r"the source's norms are CLADE-ICPE, the config's CLADE"):
        convert_official_state_dict(source, target)
    result = convert_official_state_dict(source, target, allow_unused=True)
    assert len(result.unused) == 72 and all('dist_conv' in k for k in result.unused)
    target.load_state_dict(result.state_dict, strict=True)
    torch.testing.assert_close(target.up_3.norm_1.class_affine.gamma,
                               source['up_3.norm_1.class_specified_affine.weight'])


def test_missing_keys_name_their_likely_cause():
    source = published_state(small_generator('CLADE'))
    # Older BatchNorm/SyncBN saved no num_batches_tracked: zero, not an error.
    old = {k: v for k, v in source.items() if not k.endswith('num_batches_tracked')}
    result = convert_official_state_dict(old, SemanticGenerator(NUM_CLASSES, dict(type='CLADE'),
                                                                base_channels=8))
    assert len(result.zero_filled) == 18
    assert int(result.state_dict['up_0.norm_s.param_free_norm.num_batches_tracked']) == 0
    # Instance norm saves no statistics at all.
    instance_norm = {k: v for k, v in source.items() if '.param_free_norm.' not in k}
    with pytest.raises(OfficialCheckpointError, match=r"(?s)running_mean.*param_free_norm='IN'"):
        convert_official_state_dict(instance_norm, SemanticGenerator(
            NUM_CLASSES, dict(type='CLADE'), base_channels=8))
    # A class count that differs is named as such.
    with pytest.raises(OfficialCheckpointError,
                       match=r'(?s)fc.weight: source \[128, 6, 3, 3\], config \[128, 5, 3, 3\]'
                             r'.*class count: the source has 6 classes, the config 5'):
        convert_official_state_dict(source, SemanticGenerator(5, dict(type='CLADE'),
                                                              base_channels=8))
    # A style encoder in the config needs the published encoder file.
    vae = published_state(small_generator('SPADE', z_channels=16, out_size=(64, 64)))
    with pytest.raises(OfficialCheckpointError, match=r'(?s)give the published encoder') as err:
        convert_official_state_dict(vae, SemanticGenerator(
            NUM_CLASSES, dict(type='SPADE'), base_channels=8, z_channels=16, out_size=(64, 64),
            style_encoder=dict(type='StyleEncoder', base_channels=4, input_size=256)))
    assert 'no setting of the config explains' not in str(err.value)


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'convert_official_checkpoint', osp.join(ROOT, 'tools', 'convert_official_checkpoint.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    main = load_tool().main
    config = small_config(tmp_path)
    assert main([str(tmp_path / 'missing_net_G.pth'), str(tmp_path / 'out.pth'),
                 '--config', config]) == 1
    assert 'error: generator checkpoint' in capsys.readouterr().err
    torch.save(published_state(small_generator('CLADE')), tmp_path / 'latest_net_G.pth')
    assert main([str(tmp_path / 'latest_net_G.pth'), str(tmp_path / 'out.pth'), '--config',
                 config, '--cfg-options', 'model.generator.num_classes=5']) == 1
    assert 'class count: the source has 6 classes, the config 5' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()


def test_cli_converts(tmp_path, capsys):
    torch.save(published_state(small_generator('CLADE')), tmp_path / 'latest_net_G.pth')
    assert load_tool().main([str(tmp_path / 'latest_net_G.pth'), str(tmp_path / 'clade.pth'),
                             '--config', small_config(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'CLADE generator, ngf 8, 6 label channels' in out
    assert 'wrote' in out and 'EMA' in out
    assert torch.load(tmp_path / 'clade.pth', weights_only=True)['meta']['num_generator_keys'] \
        == 162
