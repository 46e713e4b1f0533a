"""ZPdesu/SEAN: the published SEAN generators (``latest_net_G.pth``, e.g. the CelebA-HQ
pretrained model), plain state dicts without a ``module.`` prefix. The style encoder
(``Zencoder``) lives inside the generator file.

SEAN's code base is SPADE's (:mod:`.spade`): ``fc`` (a conv of the label map), the blocks'
``conv_{0,1,s}`` (spectral norm) and ``conv_img`` keep SPADE's names. Its norms are ``ACE``
layers named ``{block}.ace_{0,1,s}`` (ours ``{block}.norm_{0,1,s}``); with ``C`` the norm's
channels, ``L`` the label channels (``semantic_nc``) and ``S`` the style length (512):

- ``ace_*.param_free_norm.running_mean|running_var|num_batches_tracked``: our
  ``norm_*.param_free_norm.*`` (SPADE's rule); ``(C,)``, ``()``.
- ``ace_*.Spade.mlp_shared.0|mlp_gamma|mlp_beta.weight|bias`` -> ``norm_*.spade.*``;
  ``(128, L, 3, 3)``, ``(C, 128, 3, 3)``. ``ace_*.Spade.param_free_norm.*`` is left out: the
  published ACE never runs that norm (it takes only the SPADE branch's gamma and beta).
- ``ace_*.fc_mu{j}.weight|bias`` ``(S, S)``, ``(S,)`` -> our bank's row ``j``,
  ``norm_*.style_projections.weight.{j}|bias.{j}``, for ``j < L``. The published ACE holds 19
  of them whatever the class count; those with ``j >= L`` are left out (no class uses them).
- ``ace_*.conv_gamma|conv_beta.weight|bias``: same names; the weight ``(C, S, 3, 3)`` kept by
  tap as ours keeps it, ``(S, 9, C)`` (:class:`~clade_mm.layers.sean.StyleConvolution`; the
  architecture is read from the file so prepared), the bias ``(C,)``.
- ``ace_*.blending_gamma|blending_beta`` ``(1,)`` and ``ace_*.noise_var`` ``(C,)``: same names.
- ``up_3`` has no style branch in the published generator (``use_rgb=False``): its ACEs hold
  the SPADE branch, the norm and ``noise_var`` (our ``block_norm_cfgs=dict(up_3=
  dict(with_style=False))``), and ``blending_gamma|beta``, which they never read (left out).
- ``Zencoder.model.{i}.weight|bias`` -> ``style_encoder.model.{i}.*`` of a
  :class:`~clade_mm.models.editors.sean.RegionStyleEncoder` (the same ``Sequential``
  indices: convs 1, 4, 7, 14, transposed conv 10; its instance norms keep no statistics).

The layers compute the same functions on these weights (checked against the published code,
and by ``tests/test_models/test_published_sean.py`` against its outputs): ACE is
``norm(x + noise) * (1 + gamma) + beta`` with ``gamma = sigmoid(blending_gamma) *
conv_gamma(m) + (1 - sigmoid(blending_gamma)) * gamma_spade`` (``beta`` alike), ``m`` holding
at each pixel ``ReLU(fc_mu_c(code_c))`` of its class ``c``; the noise, one N(0, 1) value per
pixel times ``noise_var``, drawn as ``randn(N, W, H, 1)`` in call order (see
:mod:`clade_mm.layers.sean`); the codes are the encoder's feature map at half size averaged
over each class (zero for a class without pixels there).
"""
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch.nn as nn
from torch import Tensor

from ..layers.sean import StyleConvolution
from .base import PublishedCodebase, Shape, register_codebase

ENCODER = 'model.generator.style_encoder'
_ACE = re.compile(r'(?P<block>[^.]+)\.ace_(?P<id>[01s])\.(?P<rest>.+)')
_FC_MU = re.compile(r'fc_mu(?P<j>\d+)\.(?P<param>weight|bias)')


def prepare_generator(state: Mapping[str, Tensor]
                      ) -> Optional[Tuple[Dict[str, Tensor], Dict[str, Tensor], Dict[str, str]]]:
    """A published SEAN generator state in SPADE's naming (see the module docstring), the
    encoder split off; ``None`` for another codebase's."""
    if not any(_ACE.fullmatch(key) for key in state):
        return None
    mlp = next((v for k, v in state.items() if k.endswith('.Spade.mlp_shared.0.weight')), None)
    label_channels = mlp.shape[1] if mlp is not None else None
    styled = {key.rsplit('.', 2)[0] for key in state if key.endswith('.conv_gamma.weight')}
    generator, encoder, dropped = {}, {}, {}
    for key, tensor in state.items():
        if key.startswith('Zencoder.'):
            encoder[key[len('Zencoder.'):]] = tensor
            continue
        match = _ACE.fullmatch(key)
        if match is None:
            generator[key] = tensor
            continue
        norm = f'{match["block"]}.norm_{match["id"]}'
        rest = match['rest']
        if rest.startswith('Spade.param_free_norm.'):
            dropped[key] = 'the SPADE branch\'s own norm, which the published ACE never runs'
            continue
        if rest in ('blending_gamma', 'blending_beta') and \
                f'{match["block"]}.ace_{match["id"]}' not in styled:
            dropped[key] = ('an ACE without a style branch (the published use_rgb=False) never '
                            'blends')
            continue
        fc_mu = _FC_MU.fullmatch(rest)
        if fc_mu is not None:
            j = int(fc_mu['j'])
            if label_channels is not None and j >= label_channels:
                dropped[key] = (f'the published ACE holds 19 fc_mu layers; the file has '
                                f'{label_channels} label channels, so no class uses fc_mu{j}')
            else:
                generator[f'{norm}.fc_mu.{j}.{fc_mu["param"]}'] = tensor
            continue
        if rest in ('conv_gamma.weight', 'conv_beta.weight'):
            tensor = StyleConvolution.weight_from_conv(tensor)
        generator[f'{norm}.{rest.replace("Spade.", "spade.", 1)}'] = tensor
    return generator, (encoder or None), dropped


def official_encoder_keys(encoder: nn.Module) -> Dict[str, str]:
    """Published ``Zencoder.`` key (without the prefix) -> ours: the same name under
    ``style_encoder.``."""
    return {key: f'style_encoder.{key}' for key in encoder.state_dict()}


def encoder_fixes(shapes: Mapping[str, Shape], encoder: Optional[nn.Module]) -> List[str]:
    """What to change in the config's ``style_encoder`` to take a published ``Zencoder`` of
    ``shapes``; ``encoder`` is the config's region encoder (``None``: none, or another kind)."""
    first, last = shapes.get('model.1.weight'), shapes.get('model.14.weight')
    ngf = first[0] if first else None
    style = last[0] if last else None
    if encoder is None:
        return [f"the generator file holds SEAN's Zencoder: set {ENCODER}=dict(type="
                f"'RegionStyleEncoder', base_channels={ngf}, style_channels={style})"]
    fixes = []
    ours = encoder.model[1].weight.shape[0]
    if ngf is not None and ngf != ours:
        fixes.append(f"the region encoder's base channels: source {ngf}, config {ours}: set "
                     f'{ENCODER}.base_channels={ngf}')
    if style is not None and style != encoder.style_channels:
        fixes.append(f"the style length: source {style}, config {encoder.style_channels}: set "
                     f'{ENCODER}.style_channels={style} and '
                     f'model.generator.norm_cfg.style_channels={style}')
    return fixes


SEAN_CODEBASE = register_codebase(PublishedCodebase(
    name='ZPdesu/SEAN',
    generator_key_rules=(
        ('{block}.{norm}.spade.mlp_shared.0.{param}', '{block}.{norm}.spade.mlp_shared.0.{param}'),
        ('{block}.{norm}.spade.mlp_gamma.{param}', '{block}.{norm}.spade.mlp_gamma.{param}'),
        ('{block}.{norm}.spade.mlp_beta.{param}', '{block}.{norm}.spade.mlp_beta.{param}'),
        ('{block}.{norm}.fc_mu.{index}.{param}', '{block}.{norm}.style_projections.{param}.{index}'),
        ('{block}.{norm}.conv_gamma.{param}', '{block}.{norm}.conv_gamma.{param}'),
        ('{block}.{norm}.conv_beta.{param}', '{block}.{norm}.conv_beta.{param}'),
        ('{block}.{norm}.blending_gamma', '{block}.{norm}.blending_gamma'),
        ('{block}.{norm}.blending_beta', '{block}.{norm}.blending_beta'),
        ('{block}.{norm}.noise_var', '{block}.{norm}.noise_var'),
    ),
    norm_signatures=(('.noise_var', 'SEAN'), ),
    encoder_keys=official_encoder_keys,
    encoder_type='RegionStyleEncoder',
    encoder_signature='model.14.weight',
    encoder_fixes=encoder_fixes,
    prepare_generator=prepare_generator,
))
