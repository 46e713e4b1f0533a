"""Make reference outputs of the published SEAN code (ZPdesu/SEAN).

Writes, next to this file:

* ``manifest.json``: the published ``SPADEGenerator``'s ``state_dict()`` keys in order, each
  with its shape, dtype and the class of the module that holds it. The values are not stored:
  ``weights.published_state_dict(manifest)`` makes them again from the keys (a seeded recipe,
  see ``weights.py``); this script loads them into the published net with ``strict=True``.
* ``reference.npz``: inputs and outputs of the published generator:

  - ``label`` (64, 64) uint8: a face-like CelebAMask-HQ layout (19 classes; 3, 14, 15, 16
    absent; 1 px and 2 px lines; hair and cloth touching the border);
  - ``style_image`` (1, 3, 64, 64) float32 in [-1, 1]: seeded colour per class, a smooth
    seeded field and pixel noise;
  - ``style_codes`` (1, 19, 512): ``netG.Zencoder(input=style_image, segmap=one_hot(label))``;
  - ``seed``, ``image`` (1, 3, 64, 64): ``torch.manual_seed(seed)`` then
    ``netG(one_hot(label), style_image)``; ``image_zero_noise``: the same with every ACE
    ``noise_var`` zeroed;
  - ``label_b`` (64, 64) uint8 (classes 3, 14 and 15 present), ``seed_b``, ``image_b``: the
    published modules run on ``one_hot(label_b)`` with the ``style_codes`` above;
  - ``ace_call_order`` (18,) str: the ACE norms in the order their noise is drawn;
  - ``state_abs_sums`` (982,) float64: sum of |value| of every manifest key, in its order.

The one-hot maps are made by the published ``Pix2PixModel.preprocess_input`` (``scatter_``
into 19 channels). The net is in eval mode and runs on the CPU under ``torch.no_grad()``.

The published code is imported from a checkout, never copied here. Export the packages it
needs, then run from the repository root::

    mkdir -p /tmp/sean_published
    git -C /work/.mirror/ZPdesu+SEAN/repo archive HEAD models options util data \\
        | tar -x -C /tmp/sean_published
    python tests/test_models/sean_published/make_reference.py /tmp/sean_published

Workarounds in this script only (the published files are not edited): ``util/util.py``
imports ``dill``, so ``pickle`` stands in for it when ``dill`` is not installed; ``ACE.forward``
moves its noise to the GPU with ``.cuda()``, so ``torch.Tensor.cuda`` returns the tensor itself
while the generator runs (nothing else calls it); ``Pix2PixModel`` is created without its
``__init__`` (which would load a checkpoint) and given the CPU attributes its ``__init__`` sets;
``opt.status`` is ``'train'`` (the published ``TrainOptions`` default: the ACE branch that
``'test'`` also takes, without the ``'test'`` side effect of writing ``up_2_ACE_0``'s style
codes as .npy files under ``styles_test/``).
"""
import argparse
import contextlib
import importlib.util
import json
import os.path as osp
import pickle
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = osp.dirname(osp.abspath(__file__))
COMMIT = '04c7536ff3fecd2d1a09c9ae046a1144636033a5'  # the published code this was run with
SEED, SEED_B, INPUT_SEED = 2020, 2021, 0
OPT_ARGS = ('--gpu_ids -1 --ngf 4 --label_nc 19 --no_instance --crop_size 64 --load_size 64 '
            '--aspect_ratio 1.0 --num_upsampling_layers normal').split()
NUM_CLASSES = 19
# CelebAMask-HQ ids (published util/CelebAMask-HQ/Data_preprocessing/g_mask.py, 0 background)
(BACKGROUND, SKIN, NOSE, EYE_G, L_EYE, R_EYE, L_BROW, R_BROW, L_EAR, R_EAR, MOUTH, U_LIP,
 L_LIP, HAIR, HAT, EAR_R, NECK_L, NECK, CLOTH) = range(NUM_CLASSES)


def load_weights_module():
    spec = importlib.util.spec_from_file_location('sean_published_weights',
                                                  osp.join(HERE, 'weights.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_labels():
    yy, xx = np.mgrid[:64, :64]

    def ellipse(cy, cx, ry, rx):
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1

    label = np.zeros((64, 64), np.uint8)
    label[ellipse(22, 32, 24, 23)] = HAIR                       # touches the top border
    label[(yy >= 54) & (np.abs(xx - 32) <= 20 + 2 * (yy - 54))] = CLOTH  # bottom and sides
    label[(yy >= 42) & (yy < 54) & (np.abs(xx - 32) <= 8)] = NECK
    label[ellipse(31, 14, 5, 3)] = L_EAR
    label[ellipse(31, 50, 5, 3)] = R_EAR
    label[ellipse(30, 32, 17, 15)] = SKIN
    label[22:24, 20:29] = L_BROW                                 # 2 px lines
    label[22:24, 36:45] = R_BROW
    label[ellipse(27, 24, 2, 3)] = L_EYE
    label[ellipse(27, 40, 2, 3)] = R_EYE
    label[(yy >= 28) & (yy <= 36) & (np.abs(xx - 32) <= 1 + (yy - 28) // 3)] = NOSE
    label[39, 26:39] = U_LIP    # 1 px line on an odd row: no nearest-downsampled map sees it
    label[40, 27:38] = MOUTH    # 1 px line on row 40: seen at 32x32, 16x16 and 8x8
    label[41:43, 26:39] = L_LIP  # 2 px line

    # label_b: another face with glasses, a hat and an earring (absent from label)
    label_b = np.zeros((64, 64), np.uint8)
    label_b[ellipse(24, 30, 22, 22)] = HAIR
    label_b[(yy >= 50) & (np.abs(xx - 30) <= 18 + 2 * (yy - 50))] = CLOTH
    label_b[(yy >= 44) & (yy < 50) & (np.abs(xx - 30) <= 7)] = NECK
    label_b[ellipse(33, 13, 5, 3)] = L_EAR
    label_b[ellipse(33, 47, 5, 3)] = R_EAR
    label_b[ellipse(41, 13, 2, 2)] = EAR_R
    label_b[ellipse(32, 30, 16, 14)] = SKIN
    label_b[:12, 6:56] = HAT                                     # touches the top border
    label_b[ellipse(12, 30, 4, 26)] = HAT
    label_b[22:24, 19:27] = L_BROW
    label_b[22:24, 34:42] = R_BROW
    glasses = np.zeros((64, 64), bool)
    for cx in (23, 37):
        glasses[25:33, cx - 6:cx + 6] = True
        glasses[27:31, cx - 4:cx + 4] = False                   # 2 px frames
    glasses[27:29, 29:31] = True                                 # bridge
    label_b[glasses] = EYE_G
    label_b[ellipse(29, 23, 1.5, 3)] = L_EYE
    label_b[ellipse(29, 37, 1.5, 3)] = R_EYE
    label_b[(yy >= 31) & (yy <= 38) & (np.abs(xx - 30) <= 1 + (yy - 31) // 3)] = NOSE
    label_b[41:43, 24:37] = U_LIP
    label_b[43, 25:36] = MOUTH
    label_b[44:46, 24:37] = L_LIP
    return label, label_b


def make_style_image(label, gen):
    """Colour per class, a smooth field and pixel noise, in [-1, 1]."""
    colours = torch.rand(NUM_CLASSES, 3, generator=gen) * 1.4 - 0.7
    image = colours[torch.from_numpy(label).long()].permute(2, 0, 1)[None]
    field = F.interpolate(torch.randn(1, 3, 8, 8, generator=gen), size=(64, 64),
                          mode='bilinear', align_corners=False)
    image = image + 0.25 * field + 0.05 * torch.randn(1, 3, 64, 64, generator=gen)
    return image.clamp(-1, 1)


@contextlib.contextmanager
def cuda_is_identity():
    """``ACE.forward`` calls ``torch.randn(...).cuda()``: on the CPU, ``.cuda()`` returns self."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        yield
    finally:
        torch.Tensor.cuda = original


def run_blocks(netG, x, seg, style_codes):
    """The published ``SPADEGenerator.forward`` from its first block on (num_upsampling_layers
    'normal'), with ``style_codes`` given rather than computed by the Zencoder."""
    x = netG.head_0(x, seg, style_codes)
    x = netG.up(x)
    x = netG.G_middle_0(x, seg, style_codes)
    x = netG.G_middle_1(x, seg, style_codes)
    for block in (netG.up_0, netG.up_1, netG.up_2, netG.up_3):
        x = netG.up(x)
        x = block(x, seg, style_codes)
    return torch.tanh(netG.conv_img(F.leaky_relu(x, 2e-1)))


def stats(name, image):
    a = image.abs()
    print(f'{name:17s} min {image.min():+.4f} max {image.max():+.4f} mean {image.mean():+.4f} '
          f'std {image.std():.4f} |x|>0.95: {(a > 0.95).float().mean():.2%}')


def main():
    checkout = osp.abspath(sys.argv[1])
    sys.path.insert(0, checkout)
    try:
        import dill  # noqa: F401
    except ImportError:
        sys.modules['dill'] = pickle  # imported after torch, which checks for a real dill
    from models import networks
    from models.networks.generator import SPADEGenerator
    from models.networks.normalization import ACE
    from models.pix2pix_model import Pix2PixModel
    from options.base_options import BaseOptions
    weights = load_weights_module()
    # the published Zencoder's InstanceNorm2d(64) after its ConvTranspose2d gets 256 channels
    # (affine=False: num_features is not used); torch warns on every call
    warnings.filterwarnings('ignore', "input's size at dim=1 does not match num_features")

    # opt as the published parser builds it (BaseOptions + generator options)
    parser = BaseOptions().initialize(argparse.ArgumentParser())
    parser = SPADEGenerator.modify_commandline_options(parser, False)
    opt = parser.parse_args(OPT_ARGS)
    opt.isTrain, opt.status, opt.gpu_ids = False, 'train', []
    opt.semantic_nc = opt.label_nc + (1 if opt.contain_dontcare_label else 0) \
        + (0 if opt.no_instance else 1)
    assert opt.norm_G == 'spectralspadesyncbatch3x3' and opt.semantic_nc == NUM_CLASSES

    torch.manual_seed(0)  # the published init draws; all of it is overwritten below
    netG = networks.define_G(opt).eval()
    modules = dict(netG.named_modules())
    published = netG.state_dict()

    # manifest, then the recipe's values, loaded strictly
    entries = [dict(key=k, shape=list(v.shape), dtype=str(v.dtype).replace('torch.', ''),
                    module=type(modules[k.rpartition('.')[0]]).__name__)
               for k, v in published.items()]
    seeds = [zlib.crc32(e['key'].encode()) for e in entries]
    assert len(set(seeds)) == len(seeds), 'two keys share a CRC-32 seed'
    manifest = dict(
        source='https://github.com/ZPdesu/SEAN models/networks/generator.py SPADEGenerator',
        commit=COMMIT, options=' '.join(OPT_ARGS) + ' (status train, CPU)', entries=entries)
    with open(osp.join(HERE, 'manifest.json'), 'w') as f:
        f.write('{\n')
        for name in ('source', 'commit', 'options'):
            f.write(f'  {json.dumps(name)}: {json.dumps(manifest[name])},\n')
        f.write('  "entries": [\n')
        f.write(',\n'.join('    ' + json.dumps(e) for e in entries))
        f.write('\n  ]\n}\n')
    manifest = weights.load_manifest(osp.join(HERE, 'manifest.json'))
    state = weights.published_state_dict(manifest)
    for key, v in state.items():
        if key.endswith('num_batches_tracked'):
            assert torch.equal(v, published[key]), key
    netG.load_state_dict(state, strict=True)
    loaded = netG.state_dict()
    assert list(loaded) == list(state)
    for key, v in loaded.items():
        assert v.dtype == state[key].dtype and torch.equal(v, state[key]), key
    worst = 0.0
    for name, module in modules.items():
        if hasattr(module, 'weight_orig'):
            w = module.weight_orig.detach().double().flatten(1)
            sigma = torch.dot(module.weight_u.double(), w @ module.weight_v.double())
            top = torch.linalg.svdvals(w)[0]
            worst = max(worst, float(abs(sigma - top) / top))
    n_values = sum(v.numel() for v in state.values())
    print(f'{len(state)} keys, {n_values} values ({n_values * 4 / 2**20:.0f} MiB as float32); '
          f'spectral norm: |u.Wv - top singular value| / top <= {worst:.1e}')
    assert worst < 1e-5

    # inputs: one-hot maps by the published preprocess_input
    model = Pix2PixModel.__new__(Pix2PixModel)
    torch.nn.Module.__init__(model)
    model.opt, model.FloatTensor, model.ByteTensor = opt, torch.FloatTensor, torch.ByteTensor

    def one_hot(label):
        data = dict(label=torch.from_numpy(label)[None, None].float(),
                    instance=torch.zeros(1), image=torch.zeros(1, 3, 64, 64))
        return model.preprocess_input(data)[0]

    label, label_b = make_labels()
    gen = torch.Generator().manual_seed(INPUT_SEED)
    style_image = make_style_image(label, gen)
    seg, seg_b = one_hot(label), one_hot(label_b)
    assert seg.shape == (1, NUM_CLASSES, 64, 64) and torch.equal(seg.argmax(1)[0].byte(),
                                                                  torch.from_numpy(label))
    for name, s in (('label', seg), ('label_b', seg_b)):
        line = []
        for size in (64, 32, 16, 8, 4, 2):
            present = F.interpolate(s, size=(size, size), mode='nearest')[0].flatten(1).amax(1)
            line.append(f'{size}: {[c for c in range(NUM_CLASSES) if present[c] > 0]}')
        print(f'classes of {name} at ' + '; '.join(line))

    # ACE call order and noise shapes
    calls = []
    for name, module in modules.items():
        if isinstance(module, ACE):
            module.register_forward_pre_hook(
                lambda m, args, name=name: calls.append((name, tuple(args[0].shape))))
    zencoder_out = []
    netG.Zencoder.register_forward_hook(lambda m, args, out: zencoder_out.append(out))

    def generate(seed, segmap=seg):
        calls.clear()
        torch.manual_seed(seed)
        out = netG(segmap, style_image)
        return out, torch.get_rng_state(), list(calls)

    with torch.no_grad(), cuda_is_identity():
        style_codes = netG.Zencoder(input=style_image, segmap=seg)
        image, rng_after, order = generate(SEED)
        assert torch.equal(zencoder_out[-1], style_codes)
        again, _, _ = generate(SEED)
        other, _, _ = generate(SEED + 100)
        # nothing but the ACE noise draws: replaying those draws gives the same RNG state
        torch.manual_seed(SEED)
        for _, (b, c, h, w) in order:
            torch.randn(b, w, h, 1)
        assert torch.equal(torch.get_rng_state(), rng_after), 'other random draws'
        assert torch.equal(image, again), 'same seed, other image'
        print(f'same seed twice: identical; seed {SEED + 100}: max |diff| '
              f'{(image - other).abs().max():.4f}')
        assert (image - other).abs().max() > 1e-2

        saved = {n: m.noise_var.detach().clone() for n, m in modules.items()
                 if isinstance(m, ACE)}
        for n in saved:
            modules[n].noise_var.zero_()
        image_zero_noise, _, _ = generate(SEED)
        for n, v in saved.items():
            modules[n].noise_var.copy_(v)
        print(f'image vs image_zero_noise: max |diff| {(image - image_zero_noise).abs().max():.4f}')

        # second target: label_b's layout with the style codes of (style_image, label)
        torch.manual_seed(SEED_B)
        x = netG.fc(F.interpolate(seg_b, size=(netG.sh, netG.sw)))
        image_b = run_blocks(netG, x, seg_b, style_codes)
        rng_b = torch.get_rng_state()
        netG.Zencoder.forward = lambda input, segmap: style_codes  # the published forward
        image_b_forward, rng_b_forward, order_b = generate(SEED_B, seg_b)
        del netG.Zencoder.forward
        assert torch.equal(image_b, image_b_forward) and torch.equal(rng_b, rng_b_forward)
        assert [n for n, _ in order_b] == [n for n, _ in order]

    absent = [c for c in range(NUM_CLASSES) if not style_codes[0, c].any()]
    print(f'style codes all zero for classes {absent}; classes of label_b absent from label: '
          f'{sorted(set(np.unique(label_b)) - set(np.unique(label)))}')
    print('ACE call order (input shape): ' + ', '.join(f'{n} {s[2]}x{s[3]}' for n, s in order))
    for name, img in (('image', image), ('image_zero_noise', image_zero_noise),
                      ('image_b', image_b), ('style_image', style_image)):
        stats(name, img)

    arrays = dict(label=label, style_image=style_image, style_codes=style_codes,
                  seed=np.int64(SEED), image=image, image_zero_noise=image_zero_noise,
                  label_b=label_b, seed_b=np.int64(SEED_B), image_b=image_b,
                  ace_call_order=np.array([n for n, _ in order]),
                  state_abs_sums=np.array([v.double().abs().sum().item()
                                           for v in state.values()]))
    arrays = {k: v.numpy() if torch.is_tensor(v) else v for k, v in arrays.items()}
    for k in ('style_image', 'style_codes', 'image', 'image_zero_noise', 'image_b'):
        assert arrays[k].dtype == np.float32, k
    np.savez_compressed(osp.join(HERE, 'reference.npz'), **arrays)


if __name__ == '__main__':
    main()
