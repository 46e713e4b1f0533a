"""Make reference outputs of the published INADE code (tzt101/INADE).

Writes, next to this file:

* ``best_net_G.pth``: state dict of the published ``SPADEGenerator`` with
  ``norm_mode='inade'`` (saved like the published ``util.save_network``:
  ``torch.save(net.cpu().state_dict(), path)``, so spectral-norm convs have
  ``weight_orig``/``weight_u``/``weight_v``).
* ``best_net_E.pth``: state dict of the published ``instanceAdaptiveEncoder``.
* ``reference.npz``: inputs and outputs of both networks:

  - ``label`` (64, 64) uint8 class ids 0..5, ``instance`` (64, 64) int64 raw
    instance ids {0, 2, 3, 7} (class 3 has instances 2 and 7; instance 0
    covers classes 0, 1, 2; instance 3 covers classes 4 and 5);
  - ``noise`` (1, 8, 2, 8) and ``noise_ins`` (1, 16) float32;
  - ``image`` (1, 3, 64, 64): ``netG(input_semantics, z=None,
    input_instances=..., sketch=None, noise=noise, noise_ins=noise_ins)`` with
    ``opt.use_vae=False``;
  - ``ref_image`` (1, 3, 64, 64) in [-1, 1] and ``ref_instance`` (64, 64) raw
    ids {0, 1, 3, 7} (a different layout with the same maximum id, so K = 8
    instance channels for both maps);
  - ``s_mus``, ``s_logvars``, ``b_mus``, ``b_logvars`` (1, 8, 8): the published
    ``Pix2PixModel.instance_encode_z(ref_image, one_hot(ref_instance))``;
  - ``image_vae`` (1, 3, 64, 64): the generator with ``opt.use_vae=True`` and
    ``z=[s_mus, exp(0.5 * s_logvars), b_mus, exp(0.5 * b_logvars)]`` (published
    ``pre_process_noise``), same label, instance, noise and noise_ins as
    ``image``.

``input_semantics`` (one-hot label + instance edge map, 7 channels) and the
instance one-hot maps (``inst_map.max() + 1`` channels) are built by the
published ``Pix2PixModel.preprocess_input``. Both networks are in eval mode and
run under ``torch.no_grad()``; every parameter and BatchNorm running statistic
is overwritten with seeded random values (spectral-norm ``u``/``v`` are set by
power iteration on the random ``weight_orig``).

The published code is imported from a checkout, never copied here. Export
the four packages it needs (a full ``git archive`` of the mirror stops at
``datasets/``, whose .npy blobs are not stored), then run from the repository
root::

    mkdir -p /tmp/inade_published
    git -C /work/.mirror/tzt101+INADE/repo archive HEAD data models options \\
        util | tar -x -C /tmp/inade_published
    python tests/test_models/inade_published/make_reference.py /tmp/inade_published

Workarounds in this script only (the published files are not edited): the
published ``util/util.py`` imports ``dill`` just for pickling options, so
``pickle`` stands in for it when ``dill`` is not installed; ``Pix2PixModel`` is
created without its ``__init__`` (which would load checkpoints or build the
discriminator and VGG loss) and given the CPU attributes its ``__init__`` sets.
Nothing else needs CUDA: SynchronizedBatchNorm2d in eval is ``F.batch_norm``,
and noise/noise_ins are always passed.
"""
import argparse
import os.path as osp
import pickle
import sys

import numpy as np
import torch
import torch.nn.functional as F

SEED = 0
OPT_ARGS = ('--gpu_ids -1 --norm_mode inade --ngf 2 --z_dim 16 --noise_nc 8 '
            '--label_nc 5 --contain_dontcare_label --crop_size 64 '
            '--aspect_ratio 1.0 --num_upsampling_layers normal').split()


def make_maps():
    label = np.zeros((64, 64), np.uint8)
    inst = np.zeros((64, 64), np.int64)
    label[:6] = 1                                   # stripe, instance 0
    label[10:26, 38:59] = 2                         # box, instance 0
    label[8:28, 6:30], inst[8:28, 6:30] = 3, 2      # class 3, instance 2
    label[36:58, 10:26], inst[36:58, 10:26] = 3, 7  # class 3, instance 7
    yy, xx = np.mgrid[:64, :64]
    disc = (yy - 42) ** 2 + (xx - 44) ** 2 < 11 ** 2
    label[disc], inst[disc] = 5, 3                  # class 5, instance 3
    label[52:62, 50:62], inst[52:62, 50:62] = 4, 3  # class 4, instance 3
    ref_inst = np.zeros((64, 64), np.int64)
    ref_inst[4:30, 34:60] = 1
    ref_inst[30:60, 4:28] = 3
    ref_inst[disc] = 7
    return label, inst, ref_inst


def randomize(net, gen):
    """Overwrite every parameter and buffer with seeded random values."""

    def randn(t, std=1.0, mean=0.0):
        return torch.randn(t.shape, generator=gen) * std + mean

    with torch.no_grad():
        state = net.state_dict()  # tensors share storage with the net
        for name, t in state.items():
            if name.endswith(('num_batches_tracked', 'weight_u', 'weight_v')):
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith('running_mean'):
                t.copy_(randn(t, 0.2))
            elif t.dim() == 3:  # ILADE class weight / bias (label_nc+1, C, 2)
                t.copy_(randn(t, 0.5, 1.0 if name.endswith('weight') else 0.0))
            elif t.dim() > 1:  # conv / linear weights
                t.copy_(randn(t, 0.5 * t[0].numel() ** -0.5))
            else:
                t.copy_(randn(t, 0.1))
        for name, t in state.items():  # spectral norm: converged u, v
            if name.endswith('weight_u'):
                w = state[name[:-1] + 'orig'].flatten(1)
                v = F.normalize(torch.randn(w.shape[1], generator=gen), dim=0)
                for _ in range(30):
                    u = F.normalize(w @ v, dim=0)
                    v = F.normalize(w.t() @ u, dim=0)
                t.copy_(u)
                state[name[:-1] + 'v'].copy_(v)


def main():
    checkout = sys.argv[1]
    sys.path.insert(0, osp.abspath(checkout))
    try:
        import dill  # noqa: F401
    except ImportError:
        sys.modules['dill'] = pickle
    from models import networks
    from models.networks.generator import SPADEGenerator
    from models.pix2pix_model import Pix2PixModel
    from options.base_options import BaseOptions

    # opt as the published parser builds it (BaseOptions + generator options)
    parser = BaseOptions().initialize(argparse.ArgumentParser())
    parser = SPADEGenerator.modify_commandline_options(parser, False)
    opt = parser.parse_args(OPT_ARGS)
    opt.isTrain = False
    opt.semantic_nc = opt.label_nc + (1 if opt.contain_dontcare_label else 0) \
        + (0 if opt.no_instance else 1)
    opt.gpu_ids = []

    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    netG, netE = networks.define_G(opt), networks.define_IE(opt)
    randomize(netG, gen)
    randomize(netE, gen)
    netG.eval(), netE.eval()

    model = Pix2PixModel.__new__(Pix2PixModel)  # CPU attributes of __init__
    torch.nn.Module.__init__(model)
    model.opt, model.netG, model.netIE, model.amp = opt, netG, netE, False
    model.FloatTensor, model.ByteTensor = torch.FloatTensor, torch.BoolTensor

    label, inst, ref_inst = make_maps()
    lowres = torch.randn(1, 3, 8, 8, generator=gen)
    ref_image = torch.tanh(1.5 * F.interpolate(
        lowres, size=(64, 64), mode='bilinear', align_corners=False))
    noise = torch.randn(1, int(inst.max()) + 1, 2, opt.noise_nc, generator=gen)
    noise_ins = torch.randn(1, opt.z_dim, generator=gen)

    def preprocess(instance, image):
        data = dict(label=torch.from_numpy(label)[None, None].float(),
                    instance=torch.from_numpy(instance)[None, None].float(),
                    image=image, sketch=None)
        semantics, _, instances, _ = model.preprocess_input(data)
        return semantics, instances

    with torch.no_grad():
        semantics, instances = preprocess(inst, torch.zeros(1, 3, 64, 64))
        _, ref_instances = preprocess(ref_inst, ref_image)
        opt.use_vae = False
        image = netG(semantics, z=None, input_instances=instances, sketch=None,
                     noise=noise, noise_ins=noise_ins)
        z, s_mus, s_logvars, b_mus, b_logvars = model.instance_encode_z(
            ref_image, ref_instances)
        opt.use_vae = True
        image_vae = netG(semantics, z=z, input_instances=instances,
                         sketch=None, noise=noise, noise_ins=noise_ins)

    out_dir = osp.dirname(osp.abspath(__file__))
    torch.save(netG.cpu().state_dict(), osp.join(out_dir, 'best_net_G.pth'))
    torch.save(netE.cpu().state_dict(), osp.join(out_dir, 'best_net_E.pth'))
    arrays = dict(label=label, instance=inst, noise=noise, noise_ins=noise_ins,
                  image=image, ref_image=ref_image, ref_instance=ref_inst,
                  s_mus=s_mus, s_logvars=s_logvars, b_mus=b_mus,
                  b_logvars=b_logvars, image_vae=image_vae)
    arrays = {k: v.numpy() if torch.is_tensor(v) else v
              for k, v in arrays.items()}
    np.savez_compressed(osp.join(out_dir, 'reference.npz'), **arrays)


if __name__ == '__main__':
    main()
