"""Make reference outputs of the published OASIS code (boschresearch/OASIS).

Writes, next to this file:

* ``manifest.json``: the published ``OASIS_Generator``'s and ``OASIS_Discriminator``'s
  ``state_dict()`` keys in order (``generator``, ``discriminator``), each with its shape, dtype
  and the class of the module that holds it. The values are not stored:
  ``weights.published_state_dict(tag)`` makes them again (a seeded recipe per file, ``G``,
  ``EMA``, ``D``; see ``weights.py``); this script loads them into the published networks with
  ``strict=True`` and checks that the files ``weights.write_published_checkpoints`` writes hold
  the same tensors, bit for bit.
* ``reference.npz``: inputs and outputs of the published networks (eval mode, CPU,
  ``torch.no_grad()``):

  - ``label`` (64, 64) uint8: a scene of 8 classes, class 0 the don't-care class as in the
    published datasets (thin structures, classes that vanish at low resolution);
  - ``z`` (1, 8) float32: a vector drawn here; ``image`` (1, 3, 64, 64): ``netEMA(one_hot)``
    with ``torch.randn`` made to return ``z`` (the one draw of the published forward);
    ``image_g``: the same with ``netG``;
  - ``image_map``: ``netEMA``'s modules composed as its forward does, with the 3D noise map
    ``weights.noise_map()`` (1, 8, 64, 64; N(0, 1) per pixel and channel, drawn again from its
    seed rather than stored; ``z_map_abs_sum`` its sum of |value|) in place of the expanded
    vector (checked: with the expanded ``z`` this gives ``image`` bit for bit);
  - ``disc_image`` (1, 3, 64, 64) float32 in [-1, 1] and ``logits`` (1, 9, 64, 64):
    ``netD(disc_image)``;
  - ``state_abs_sums_{G,EMA,D}`` float64: sum of |value| of every key of that file, in
    manifest order.

The one-hot map is made by the published ``models.preprocess_input``.

The published code is imported from a checkout, never copied here. Export the files it
imports (the mirror lacks two image blobs: ``git archive`` of the whole tree stops there, and
of these paths it complains about one of them but exports them all), then run from the
repository root::

    mkdir -p /tmp/oasis_published
    git -C /work/.mirror/boschresearch+OASIS/repo archive HEAD config.py models utils \\
        | tar -x -C /tmp/oasis_published
    python tests/test_models/oasis_published/make_reference.py /tmp/oasis_published
"""
import argparse
import contextlib
import copy
import importlib.util
import json
import os.path as osp
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = osp.dirname(osp.abspath(__file__))
COMMIT = 'aeb875f80bc6e55b65105b7673eec934371d0a73'  # the published code ("A note on IJCV")
OPT_ARGS = '--gpu_ids -1 --channels_G 8 --z_dim 8'.split()
# what a published dataset class sets (dataloaders/*Dataset.py); its own name for the crop
DATASET_OPT = dict(label_nc=7, contain_dontcare_label=True, semantic_nc=8, crop_size=64,
                   aspect_ratio=1.0, phase='test')
NUM_CLASSES, Z_DIM = 8, 8
Z_SEED, IMAGE_SEED, DRAW_SEED = 1, 3, 4
# class 0 is the don't-care class of the published datasets ("unlabeled")
UNLABELED, SKY, GRASS, WATER, TREE, ROCK, BUILDING, POLE = range(NUM_CLASSES)


def load_weights_module():
    spec = importlib.util.spec_from_file_location('oasis_published_weights',
                                                  osp.join(HERE, 'weights.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_label():
    yy, xx = np.mgrid[:64, :64]
    label = np.full((64, 64), SKY, np.uint8)
    label[yy >= 30 + (xx // 8) % 3] = GRASS                     # a stepped horizon
    label[(yy >= 44) & (np.abs(xx - 20) <= 14 - (63 - yy) // 3)] = WATER
    label[((yy - 26) / 9) ** 2 + ((xx - 48) / 7) ** 2 <= 1] = TREE
    label[(yy >= 36) & (yy < 40) & (xx >= 50) & (xx < 54)] = ROCK  # gone below 16x16
    label[10:34, 4:18] = BUILDING                              # touches nothing
    label[4:32, 33] = POLE                                     # 1 px, odd column: gone at 32
    label[4:32, 38] = POLE                                     # 1 px, even column
    label[0:3, :] = UNLABELED                                  # the top border
    label[56:, 58:] = UNLABELED                                # a corner
    label[20, 40:46] = UNLABELED                               # a 1 px line, even row
    return label


def make_disc_image(label, gen):
    """Colour per class, a smooth field and pixel noise, in [-1, 1]."""
    colours = torch.rand(NUM_CLASSES, 3, generator=gen) * 1.4 - 0.7
    image = colours[torch.from_numpy(label).long()].permute(2, 0, 1)[None]
    field = F.interpolate(torch.randn(1, 3, 8, 8, generator=gen), size=(64, 64),
                          mode='bilinear', align_corners=False)
    image = image + 0.25 * field + 0.05 * torch.randn(1, 3, 64, 64, generator=gen)
    return image.clamp(-1, 1)


@contextlib.contextmanager
def randn_returns(z, calls):
    """``torch.randn`` returns ``z`` (the published forward's one draw, ``torch.randn(N,
    z_dim, dtype=torch.float32, device='cpu')``), recording each call's arguments."""
    original = torch.randn

    def fake(*size, **kwargs):
        calls.append((size, kwargs))
        assert size == tuple(z.shape) and kwargs.get('dtype') == torch.float32, (size, kwargs)
        return z.clone()

    torch.randn = fake
    try:
        yield
    finally:
        torch.randn = original


def run_pieces(net, opt, seg, noise):
    """``OASIS_Generator.forward`` with the 3D noise ``noise`` (N, z_dim, H, W) given instead
    of drawn: the published code concatenates it before the one-hot map, nearest-downsamples
    both to the latent size for ``fc``, and gives the concatenation to every block."""
    seg = torch.cat((noise, seg), dim=1)
    x = F.interpolate(seg, size=(net.init_W, net.init_H))
    x = net.fc(x)
    for i in range(opt.num_res_blocks):
        x = net.body[i](x, seg)
        if i < opt.num_res_blocks - 1:
            x = net.up(x)
    x = net.conv_img(F.leaky_relu(x, 2e-1))
    return torch.tanh(x)


def stats(name, image):
    a = image.abs()
    print(f'{name:10s} min {image.min():+.4f} max {image.max():+.4f} mean {image.mean():+.4f} '
          f'std {image.std():.4f} |x|>0.95: {(a > 0.95).float().mean():.2%}')


def write_manifest(opt, nets):
    manifest = dict(
        source='https://github.com/boschresearch/OASIS models/generator.py OASIS_Generator, '
               'models/discriminator.py OASIS_Discriminator',
        commit=COMMIT,
        options=' '.join(OPT_ARGS) + ' + ' + ', '.join(f'{k}={v}'
                                                      for k, v in DATASET_OPT.items()))
    for role, net in nets.items():
        modules = dict(net.named_modules())
        manifest[role] = [
            dict(key=k, shape=list(v.shape), dtype=str(v.dtype).replace('torch.', ''),
                 module=type(modules[k.rpartition('.')[0]]).__name__)
            for k, v in net.state_dict().items()]
    with open(osp.join(HERE, 'manifest.json'), 'w') as f:
        f.write('{\n')
        for name in ('source', 'commit', 'options'):
            f.write(f'  {json.dumps(name)}: {json.dumps(manifest[name])},\n')
        for index, role in enumerate(nets):
            f.write(f'  {json.dumps(role)}: [\n')
            f.write(',\n'.join('    ' + json.dumps(e) for e in manifest[role]))
            f.write('\n  ]' + (',' if index < len(nets) - 1 else '') + '\n')
        f.write('}\n')


def main():
    checkout = osp.abspath(sys.argv[1])
    sys.path.insert(0, checkout)
    import config
    import models.models as models
    from models.discriminator import OASIS_Discriminator
    from models.generator import OASIS_Generator
    weights = load_weights_module()

    # opt as the published parser builds it (train options: the discriminator's too), with
    # what a published dataset class sets
    parser = config.add_all_arguments(argparse.ArgumentParser(), train=True)
    opt = parser.parse_args(OPT_ARGS)
    for name, value in DATASET_OPT.items():
        setattr(opt, name, value)
    assert opt.param_free_norm == 'syncbatch' and opt.num_res_blocks == 6 and \
        not opt.no_spectral_norm and not opt.no_3dnoise and opt.spade_ks == 3

    torch.manual_seed(0)  # the published init draws; all of it is overwritten below
    netG, netD = OASIS_Generator(opt), OASIS_Discriminator(opt)
    netEMA = copy.deepcopy(netG)  # as OASIS_model builds it
    write_manifest(opt, dict(generator=netG, discriminator=netD))
    manifest = weights.load_manifest(osp.join(HERE, 'manifest.json'))
    seeds = [zlib.crc32(f'{tag}:{e["key"]}'.encode()) for tag in weights.TAGS
             for e in manifest[weights.ROLES[tag]]]
    assert len(set(seeds)) == len(seeds), 'two keys share a CRC-32 seed'

    nets = dict(G=netG, EMA=netEMA, D=netD)
    states = {tag: weights.published_state_dict(tag, manifest) for tag in weights.TAGS}
    with tempfile.TemporaryDirectory() as tmp:
        paths = weights.write_published_checkpoints(tmp, manifest)
        for tag, net in nets.items():
            net.load_state_dict(torch.load(paths[tag]), strict=True)
            loaded = net.state_dict()
            assert list(loaded) == list(states[tag])
            for key, v in loaded.items():
                assert v.dtype == states[tag][key].dtype and torch.equal(v, states[tag][key]), \
                    (tag, key)
            net.eval()
    worst = {}
    for tag, net in nets.items():
        for module in net.modules():
            if hasattr(module, 'weight_orig'):
                w = module.weight_orig.detach().double().flatten(1)
                sigma = torch.dot(module.weight_u.double(), w @ module.weight_v.double())
                top = torch.linalg.svdvals(w)[0]
                worst[tag] = max(worst.get(tag, 0.0), float((top - sigma) / top))
        n_values = sum(v.numel() for v in states[tag].values())
        print(f'{tag}: {len(states[tag])} keys, {n_values} values '
              f'({n_values * 4 / 2**20:.1f} MiB as float32); spectral norm: '
              f'(top singular value - u.Wv) / top <= {worst[tag]:.1e}')

    label = make_label()
    data = dict(label=torch.from_numpy(label)[None, None].float(),
                image=torch.zeros(1, 3, 64, 64))
    _, seg = models.preprocess_input(opt, data)
    assert seg.shape == (1, NUM_CLASSES, 64, 64) and torch.equal(
        seg.argmax(1)[0].byte(), torch.from_numpy(label))
    line = []
    for size in (64, 32, 16, 8, 4, 2):
        present = F.interpolate(seg, size=(size, size), mode='nearest')[0].flatten(1).amax(1)
        line.append(f'{size}: {[c for c in range(NUM_CLASSES) if present[c] > 0]}')
    print('classes at ' + '; '.join(line))

    z = torch.randn(1, Z_DIM, generator=torch.Generator().manual_seed(Z_SEED))
    z_map = weights.noise_map()
    assert z_map.shape == (1, Z_DIM, 64, 64)
    disc_image = make_disc_image(label, torch.Generator().manual_seed(IMAGE_SEED))
    with torch.no_grad():
        calls = []
        with randn_returns(z, calls):
            image = netEMA(seg)
            image_g = netG(seg)
        assert len(calls) == 2, calls  # one draw per forward
        # the published forward draws its z with the global generator, once
        torch.manual_seed(DRAW_SEED)
        drawn = netEMA(seg)
        torch.manual_seed(DRAW_SEED)
        z_drawn = torch.randn(1, Z_DIM)
        with randn_returns(z_drawn, []):
            assert torch.equal(drawn, netEMA(seg)), 'the forward draws more than one randn'
        # the modules composed as the forward does: the same image with the expanded vector
        expanded = z.view(1, Z_DIM, 1, 1).expand(1, Z_DIM, 64, 64)
        assert torch.equal(run_pieces(netEMA, opt, seg, expanded), image)
        image_map = run_pieces(netEMA, opt, seg, z_map)
        logits = netD(disc_image)
        assert torch.equal(logits, netD(disc_image))
    print(f'image vs image_g: max |diff| {(image - image_g).abs().max():.4f}; image vs '
          f'image_map: {(image - image_map).abs().max():.4f}')
    for name, img in (('image', image), ('image_g', image_g), ('image_map', image_map),
                      ('disc_image', disc_image), ('logits', logits)):
        stats(name, img)
    print('logits argmax classes: ' + str(np.bincount(logits.argmax(1).flatten().numpy(),
                                                      minlength=NUM_CLASSES + 1).tolist()))

    arrays = dict(label=label, z=z, image=image, image_g=image_g,
                  z_map_abs_sum=np.float64(z_map.double().abs().sum().item()),
                  image_map=image_map, disc_image=disc_image, logits=logits)
    for tag in weights.TAGS:
        arrays[f'state_abs_sums_{tag}'] = np.array(
            [v.double().abs().sum().item() for v in states[tag].values()])
    arrays = {k: v.numpy() if torch.is_tensor(v) else v for k, v in arrays.items()}
    for k in ('z', 'image', 'image_g', 'image_map', 'disc_image', 'logits'):
        assert arrays[k].dtype == np.float32, k
    np.savez_compressed(osp.join(HERE, 'reference.npz'), **arrays)


if __name__ == '__main__':
    main()
