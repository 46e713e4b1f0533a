"""tzt101/INADE: the published INADE generators (``*_net_G.pth``) and instance encoders
(``*_net_E.pth``; the pretrained downloads name it ``best_net_IE.pth``, the same state dict),
plain state dicts without a ``module.`` prefix.

INADE's code base is SPADE's (:mod:`.spade`) with ``--norm_mode inade``: every key that is not
a norm's follows SPADE's rules, with two differences of meaning. ``fc`` is always a Linear,
``fc.weight|bias`` ``(16 ngf * sh * sw, z_dim)``, ``(16 ngf * sh * sw,)``: the generator starts
from the code ``noise_ins`` of ``z_dim`` (our ``z_channels``, with ``out_size`` the training
crop), whether or not it was trained with ``--use_vae``. And the norms never read the instance
edge channel of the published ``semantic_nc`` (they drop it), so the generator is built with
``with_instance_edge=False``; the discriminator takes the edges.

The norms, published class ``ILADE`` (``N_c`` classes, the label count with the don't-care
class; ``C`` the norm's channels):

- ``norm_*.weight`` -> ``norm_*.class_distributions.std``, ``(N_c, C, 2)``; last axis (scale,
  shift).
- ``norm_*.bias`` -> ``norm_*.class_distributions.mean``, ``(N_c, C, 2)``.
- ``norm_*.fc_noise.weight|bias``: same name; ``(C, noise_nc)``, ``(C,)``.
- ``norm_*.param_free_norm.running_mean|running_var|num_batches_tracked``: same (SPADE's
  rule); ``(C,)``, ``()``; none with instance norm.
- With ``--add_sketch``: ``norm_*.sketch_conv.weight|bias`` (same; ``(C, 1, 3, 3)``, ``(C,)``)
  and ``norm_*.merge_conv.weight`` (same; ``(C, 2 C, 1, 1)``, no bias).

The instance encoder, published class ``instanceAdaptiveEncoder``, keeps its names under
``style_encoder.`` of an :class:`~clade_mm.models.editors.inade.InstanceStyleEncoder`
(``ngf`` its ``base_channels``, the generator's ``ngf`` in the published code;
``noise_nc`` its ``noise_channels``), every conv with ``.weight`` ``(out, in, 3, 3)`` and
``.bias`` ``(out,)``:
``layer1`` ``(ngf, 3)``, ``layer2`` ``(2 ngf, ngf)``, ``layer3`` ``(4 ngf, 2 ngf)``,
``layer4`` ``(8 ngf, 4 ngf)``, ``middle`` ``(4 ngf, 8 ngf)``, ``up1`` ``(2 ngf, 8 ngf)``,
``up2`` ``(ngf, 4 ngf)``, ``up3`` ``(ngf, 2 ngf)``, ``scale_conv_mu``, ``scale_conv_var``,
``bias_conv_mu``, ``bias_conv_var`` ``(noise_nc, ngf)``. Its instance norms have no affine
parameters, so no keys.

The layers compute the same functions on these weights (checked against the published code,
and by ``tests/test_models/test_published_inade.py`` against its outputs): at a pixel of class
``c`` and instance id ``k``, ``out = norm(x) * (weight[c, :, 0] * fc_noise(noise[k, 0]) +
bias[c, :, 0]) + (weight[c, :, 1] * fc_noise(noise[k, 1]) + bias[c, :, 1])`` (the scale as it
is, not ``1 + scale``), the noise row ``k`` being channel ``k`` of the published one-hot
instance map, i.e. instance id ``k``; ``fc(noise_ins)`` viewed as ``(N, 16 ngf, sh, sw)``. The
encoder's convolutions sum only over window pixels of the centre's instance id (zero padding
counts as id 0, where the input is 0 too), then instance norm (eps 1e-5) and LeakyReLU(0.2),
bilinear x2 up-steps without corner alignment, and each head averaged per instance id (0 for
ids absent from the map); the generator's noise is then ``noise * exp(logvar / 2) + mu`` per
instance (the published ``pre_process_noise``).
"""
from typing import Dict, List, Mapping, Optional

import torch.nn as nn

from .base import PublishedCodebase, Shape, register_codebase

ENCODER = 'model.generator.style_encoder'


def official_encoder_keys(encoder: nn.Module) -> Dict[str, str]:
    """Published ``instanceAdaptiveEncoder`` key -> ours: the same name under
    ``style_encoder.``, for every key of our :class:`InstanceStyleEncoder`."""
    return {key: f'style_encoder.{key}' for key in encoder.state_dict()}


def encoder_fixes(shapes: Mapping[str, Shape], encoder: Optional[nn.Module]) -> List[str]:
    """What to change in the config's ``style_encoder`` to take a published encoder of
    ``shapes``; ``encoder`` is the config's instance encoder (``None``: it has none, or one of
    another kind)."""
    layer1, head = shapes.get('layer1.weight'), shapes.get('scale_conv_mu.weight')
    ngf = layer1[0] if layer1 else None
    noise_nc = head[0] if head else None
    if encoder is None:
        return [f'the encoder is the published INADE instanceAdaptiveEncoder: set '
                f"{ENCODER}=dict(type='InstanceStyleEncoder', base_channels={ngf}, "
                f'noise_channels={noise_nc})']
    fixes = []
    ours = encoder.layer1.weight.shape[0]
    if ngf is not None and ngf != ours:
        fixes.append(f"the instance encoder's base channels (ngf): source {ngf}, config {ours}: "
                     f'set {ENCODER}.base_channels={ngf}')
    if noise_nc is not None and noise_nc != encoder.noise_channels:
        fixes.append(f"the instance encoder's noise_nc: source {noise_nc}, config "
                     f'{encoder.noise_channels}: set {ENCODER}.noise_channels={noise_nc}')
    return fixes


INADE_CODEBASE = register_codebase(PublishedCodebase(
    name='tzt101/INADE',
    generator_key_rules=(
        ('{block}.{norm}.weight', '{block}.{norm}.class_distributions.std'),
        ('{block}.{norm}.bias', '{block}.{norm}.class_distributions.mean'),
        ('{block}.{norm}.fc_noise.{param}', '{block}.{norm}.fc_noise.{param}'),
        ('{block}.{norm}.sketch_conv.{param}', '{block}.{norm}.sketch_conv.{param}'),
        ('{block}.{norm}.merge_conv.weight', '{block}.{norm}.merge_conv.weight'),
    ),
    norm_signatures=(('.fc_noise.weight', 'INADE'), ),
    encoder_keys=official_encoder_keys,
    encoder_type='InstanceStyleEncoder',
    encoder_signature='scale_conv_mu.weight',
    encoder_fixes=encoder_fixes,
))
