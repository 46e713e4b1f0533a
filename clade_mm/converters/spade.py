"""NVlabs/SPADE: generators (``*_net_G.pth``) and, with ``--use_vae``, style encoders
(``*_net_E.pth``), plain state dicts without a ``module.`` prefix.

Their generator is the one :class:`~clade_mm.models.editors.spade.SemanticGenerator` builds, so
most keys keep their names. Inside a block (``head_0``, ``G_middle_0/1``, ``up_0`` .. ``up_3``,
``up_4`` with ``most``), ``norm_*`` is ``norm_0``, ``norm_1`` or ``norm_s``; shapes with ``C``
the norm's channels, ``L`` the label channels (classes, plus one with instance edges):

- ``fc.weight|bias``: same name; ``(16 ngf, L, 3, 3)``, or ``(16 ngf * sh * sw, z)`` with
  ``--use_vae``. ``conv_img.weight|bias``: same; ``(3, ngf, 3, 3)``.
- ``conv_{0,1,s}.weight_orig|weight_u|weight_v|bias``: same; ``(out, in, k, k)``, ``(out,)``,
  ``(in * k * k,)``, ``(out,)``.
- ``norm_*.param_free_norm.running_mean|running_var|num_batches_tracked``: same; ``(C,)``,
  ``()``. Instance norm saves none; older BatchNorm/SyncBN no ``num_batches_tracked`` (0 then).
- SPADE: ``norm_*.mlp_shared.0``, ``norm_*.mlp_gamma``, ``norm_*.mlp_beta`` (``.weight|bias``):
  same; ``(128, L, 3, 3)``, ``(C, 128, 3, 3)``.
- Style encoder (``*_net_E.pth``): ``layer{k}.0.weight_orig|weight_u|weight_v`` ->
  ``style_encoder.layers.{3 (k - 1)}.*`` (its k-th conv; ``(out, in, 3, 3)``), whose bias the
  published code does not have (0 is exact: instance norm follows);
  ``fc_mu|fc_var.weight|bias`` -> ``style_encoder.fc_mu|fc_var.*``, ``(256, 8 ngf * 4 * 4)``.

The layers compute the same functions on these weights (checked against the published code):
spectral norm divides by ``u . (W v)`` with the stored ``u, v`` in eval; SPADE is
``norm(x) * (1 + gamma) + beta``.
"""
from typing import Dict

import torch.nn as nn

from .base import PublishedCodebase, register_codebase


def official_encoder_keys(encoder: nn.Module) -> Dict[str, str]:
    """Published ``*_net_E.pth`` key -> our ``style_encoder.*`` key, for every key of ours.

    The published ConvEncoder holds its k-th conv as ``layer{k}.0`` (a Sequential of the conv
    and its instance norm); our :class:`~clade_mm.models.StyleEncoder` keeps conv, norm and
    activation of all six in one Sequential ``layers``, so ``layer{k}.0`` is its k-th conv.
    """
    conv_numbers = {}
    for name, module in encoder.layers.named_children():
        if isinstance(module, nn.Conv2d):
            conv_numbers[name] = len(conv_numbers) + 1
    names = {}
    for key in encoder.state_dict():
        if key.startswith('layers.'):
            index, param = key[len('layers.'):].split('.', 1)
            names[f'layer{conv_numbers[index]}.0.{param}'] = f'style_encoder.{key}'
        else:
            names[key] = f'style_encoder.{key}'
    return names


SPADE_CODEBASE = register_codebase(PublishedCodebase(
    name='NVlabs/SPADE',
    generator_key_rules=(
        ('fc.{param}', 'fc.{param}'),
        ('conv_img.{param}', 'conv_img.{param}'),
        ('{block}.{conv}.{conv_param}', '{block}.{conv}.{conv_param}'),
        ('{block}.{norm}.param_free_norm.{stat}', '{block}.{norm}.param_free_norm.{stat}'),
        ('{block}.{norm}.mlp_shared.0.{param}', '{block}.{norm}.mlp_shared.0.{param}'),
        ('{block}.{norm}.mlp_gamma.{param}', '{block}.{norm}.mlp_gamma.{param}'),
        ('{block}.{norm}.mlp_beta.{param}', '{block}.{norm}.mlp_beta.{param}'),
    ),
    zero_filled_keys=(
        (r'.*\.param_free_norm\.num_batches_tracked',
         'BatchNorm/SyncBN of older torch did not save it; it only counts updates (used with '
         'momentum=None only)'),
        (r'style_encoder\.layers\.\d+\.bias',
         'the published encoder convs have no bias: the instance norm after each removes any '
         'per-channel constant'),
    ),
    norm_signatures=(('.mlp_shared.0.weight', 'SPADE'), ),
    encoder_keys=official_encoder_keys,
    encoder_type='StyleEncoder',
    encoder_signature='fc_mu.weight',
))
