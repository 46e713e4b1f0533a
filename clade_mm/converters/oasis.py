"""boschresearch/OASIS: the published OASIS generators (``<iter>_G.pth``), their moving averages
(``<iter>_EMA.pth``, the same keys; what the published ``test.py`` generates with) and
discriminators (``<iter>_D.pth``), plain state dicts without a ``module.`` prefix, saved by
its ``utils.save_networks`` under ``checkpoints/<name>/models/`` (``latest_*``, ``best_*`` too).

The generator converts into an :class:`~clade_mm.models.editors.oasis.OASISGenerator` with
``norm_cfg=dict(type='NoiseSPADE')`` (``configs/oasis/oasis_*.py``), the discriminator into an
:class:`~clade_mm.models.editors.oasis.OASISDiscriminator`. With ``ngf`` the published
``channels_G``, ``Z`` its ``z_dim`` (our ``z_channels``; 0 with ``--no_3dnoise``), ``L`` its
``semantic_nc`` (the classes with the don't-care class; our ``num_classes``), ``C`` a norm's
channels and ``ks`` its ``spade_ks`` (3):

Generator, blocks ``body.0`` .. ``body.5`` of widths 16, 16, 16, 8, 4, 2, 1 ``ngf`` after ``16
ngf`` (the published ``ResnetBlock_with_SPADE``; ours are SPADE's blocks, the same keys):

- ``fc.weight|bias``: same name (SPADE's rule); ``(16 ngf, Z + L, 3, 3)``, ``(16 ngf,)``: a
  conv of the 3D noise and the one-hot map, in that channel order. ``conv_img.weight|bias``:
  same; ``(3, ngf, 3, 3)``.
- ``body.{i}.conv_0|conv_1.weight_orig|weight_u|weight_v|bias``: same; ``(out, in, 3, 3)``,
  ``(out,)``, ``(in * 9,)``, ``(out,)`` (``weight`` without spectral norm,
  ``--no_spectral_norm``). ``body.{i}.conv_s.*`` (1x1, no bias) where the width changes
  (``body.2`` .. ``body.5``).
- ``body.{i}.norm_{0,1,s}.first_norm.running_mean|running_var|num_batches_tracked`` ->
  ``body.{i}.norm_*.param_free_norm.*``; ``(C,)``, ``()``: the published
  ``--param_free_norm syncbatch`` (default) or ``batch``, ``BatchNorm2d(C, affine=False)``
  keys (our ``param_free_norm='BN'``); none with ``instance`` (ours ``'IN'``).
- ``body.{i}.norm_*.mlp_shared.0.weight|bias``: same; ``(128, Z + L, ks, ks)``, ``(128,)``.
  ``body.{i}.norm_*.mlp_gamma|mlp_beta.weight|bias``: same; ``(C, 128, ks, ks)``, ``(C,)``.

Discriminator (``OASIS_Discriminator``): every key keeps its name in ours. Its widths are fixed
in the published code, whatever ``channels_D`` says: an encoder ``body_down.0`` .. ``.5`` of
128, 128, 256, 256, 512, 512 channels (our ``channels``), a decoder ``body_up.0`` .. ``.5`` of
512, 256, 256, 128, 128, 64 (``last_channels``), each up block after the first taking the
encoder feature of its size concatenated before its input:

- ``body_down.0.conv1.0``, ``body_down.{i}.conv1.1`` (``i > 0``, after a LeakyReLU),
  ``body_up.{i}.conv1.2`` (after a LeakyReLU and an upsampling), ``body_*.{i}.conv2.1`` and,
  where the width changes, ``body_*.{i}.conv_s`` (1x1, with bias), each
  ``.weight_orig|weight_u|weight_v|bias``: same; ``(out, in, k, k)``, ``(out,)``,
  ``(in * k * k,)``, ``(out,)``.
- ``layer_up_last.weight|bias``: same; ``(L + 1, 64, 1, 1)``, ``(L + 1,)``: row 0 "fake", row
  ``c + 1`` class ``c``.

The class order. The published OASIS always has its don't-care class at id 0 (its datasets:
ADE20k's raw 0, Cityscapes' labelId 0 "unlabeled", COCO-Stuff's raw 255, whose other ids it
shifts by one; its loss weighs class 0 zero). A config says which of its classes is the
don't-care one: ``model.adversarial_loss.dont_care_class`` and the datasets'
``dont_care_class`` (they must agree). With ``d`` that class, the published channel 0 is our
class ``d``, its channels ``1 .. d`` our classes ``0 .. d - 1``, the others keep their ids: the
converter moves the class channels of ``fc.weight`` and every ``mlp_shared.0.weight`` (those
after the ``Z`` noise channels) and the rows ``1 ..`` of ``layer_up_last`` accordingly. Nothing
moves for ``d = 0`` (ADE20k, Cityscapes) or a config without a don't-care class; the zoo's
COCO-Stuff (SPADE's ids, "unlabeled" 182) gets published channel ``p`` as class ``p - 1`` and
channel 0 as class 182.

The layers compute the same functions on these weights (checked against the published code,
and by ``tests/test_models/test_published_oasis.py`` against its outputs): the published
generator draws ``z = torch.randn(N, z_dim)`` inside ``forward`` (global generator; its ``z``
argument is not used), one vector per image expanded over the label map and concatenated
before the one-hot map; ``fc`` reads that concatenation nearest-downsampled to ``crop / 32``
and every SPADE norm reads it nearest-downsampled to its size, ``norm(x) * (1 + gamma) +
beta`` (our ``NoiseSPADE``, whose 3D noise may also be a whole map); blocks are joined by
nearest x2 upsampling; ``tanh(conv_img(leaky_relu(x, 0.2)))``. Spectral norm divides by ``u .
(W v)`` with the stored ``u, v`` in eval; the batch norms use their running statistics in eval.
"""
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .base import OfficialCheckpointError, PublishedCodebase, Shape, register_codebase

GEN, DISC = 'model.generator.', 'model.discriminator.'


def _kinds(module) -> set:
    return {cls.__name__ for cls in type(module).__mro__}


def _first(shapes: Mapping[str, Shape], *keys: str) -> Optional[Tuple[int, ...]]:
    return next((tuple(shapes[k]) for k in keys if k in shapes), None)


def config_dont_care_class(cfg) -> Tuple[Optional[int], Optional[str]]:
    """``(id, the config key that names it)`` of the config's don't-care class (``model.
    adversarial_loss.dont_care_class``, the datasets' ``dont_care_class``), ``(None, None)``
    when it has none.

    Raises:
        OfficialCheckpointError: when the config's keys name different classes.
    """
    found = {}
    loss = cfg.model.get('adversarial_loss') or {}
    if loss.get('dont_care_class') is not None:
        found['model.adversarial_loss.dont_care_class'] = loss['dont_care_class']
    for split in ('train', 'val', 'test'):
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
        if dataset.get('dont_care_class') is not None:
            found[f'{split}_dataloader.dataset.dont_care_class'] = dataset['dont_care_class']
    if len(set(found.values())) > 1:
        raise OfficialCheckpointError(
            "the config names different don't-care classes (" + ', '.join(
                f'{k}={v}' for k, v in found.items()) + "): the published OASIS's class 0 is "
            "its don't-care class, so the converter must know which class of the config that "
            'is: make them agree')
    return next(((int(v), k) for k, v in found.items()), (None, None))


def published_channels(dont_care: Optional[int], num_classes: int) -> Optional[List[int]]:
    """For each of our class ids, the published OASIS channel that holds it (its class 0 is
    the don't-care class ``dont_care``); ``None`` when they are the same."""
    if not dont_care:
        return None
    return [0 if c == dont_care else c + 1 if c < dont_care else c for c in range(num_classes)]


def adapt_to_config(role: str, state: Dict[str, Tensor], cfg
                    ) -> Tuple[Dict[str, Tensor], List[str]]:
    """``state`` (renamed into our keys) with its class channels in the config's order (see
    the module docstring), and a note when they moved."""
    dont_care, where = config_dont_care_class(cfg)
    if role == 'generator':
        num_classes = int(cfg.model.generator.num_classes)
    else:
        num_classes = state['layer_up_last.weight'].shape[0] - 1
    if dont_care is not None and not 0 <= dont_care < num_classes:
        raise OfficialCheckpointError(f"{where}={dont_care} is not a class of the model's "
                                      f'{num_classes}')
    source = published_channels(dont_care, num_classes)
    if source is None:
        return state, []
    index = torch.tensor(source)
    state = dict(state)
    if role == 'generator':
        noise = state['fc.weight'].shape[1] - num_classes  # the 3D noise's channels come first
        for key, weight in state.items():
            if key == 'fc.weight' or key.endswith('.mlp_shared.0.weight'):
                state[key] = torch.cat([weight[:, :noise], weight[:, noise:][:, index]], 1)
    else:
        for key in ('layer_up_last.weight', 'layer_up_last.bias'):
            state[key] = torch.cat([state[key][:1], state[key][1:][index]])
    moved = f'channels 1..{dont_care} are classes 0..{dont_care - 1}' if dont_care > 1 else \
        'channel 1 is class 0'
    return state, [f"class channels reordered: the published OASIS's channel 0 is its "
                   f"don't-care class, the config's is class {dont_care} ({where}); {moved}"
                   + (f', channels {dont_care + 1}.. keep their ids'
                      if dont_care < num_classes - 1 else '')]


def generator_fixes(shapes: Mapping[str, Shape], generator: nn.Module) -> List[str]:
    """What to change in the config's ``model.generator`` (an ``OASISGenerator``) to take a
    published OASIS generator of ``shapes``."""
    fixes = []
    norm = generator.body[0].norm_0
    head = _first(shapes, 'body.0.conv_0.weight_orig', 'body.0.conv_0.weight')
    fc = _first(shapes, 'fc.weight')
    mlp = next((tuple(s) for k, s in shapes.items() if k.endswith('.mlp_shared.0.weight')),
               None)
    noise_spade = 'NoiseSPADE' in _kinds(norm)
    if not noise_spade:
        fixes.append(f"the source's norms are OASIS's SPADE with the 3D noise, the config's "
                     f"{type(norm).__name__}: set {GEN}norm_cfg=dict(type='NoiseSPADE', "
                     "param_free_norm='BN') (configs/oasis/oasis_*.py)")
    if head is not None and head[0] != generator.fc.out_channels:
        fixes.append(f'base channels (channels_G): source {head[0] // 16}, config '
                     f'{generator.fc.out_channels // 16}: set {GEN}base_channels='
                     f'{head[0] // 16}')
    z_channels, num_classes = generator.z_channels, generator.num_classes
    if fc is not None and fc[1] != z_channels + num_classes:
        inputs = fc[1]
        options = []
        if inputs > z_channels:
            options.append(f'set {GEN}num_classes={inputs - z_channels} and {DISC}num_classes='
                           f'{inputs - z_channels} if its z_dim is {z_channels} (published '
                           'default 64; its discriminator file has classes + 1 outputs)')
        if inputs > num_classes:
            options.append(f'set {GEN}z_channels={inputs - num_classes} if it has '
                           f'{num_classes} classes')
        fixes.append(
            f"the source's fc and norms read {inputs} channels: z_dim of 3D noise, then the "
            f'one-hot classes (semantic_nc); the config {z_channels} + {num_classes}: '
            + (', or '.join(options) or f'set {GEN}z_channels and {GEN}num_classes to its z_dim '
                                        f'and semantic_nc, which sum to {inputs}'))
    if mlp is not None and noise_spade:
        for name, theirs, ours in (
                ('hidden_channels', mlp[0], norm.mlp_shared[0].out_channels),
                ('kernel_size', mlp[-1], norm.mlp_shared[0].kernel_size[0])):
            if theirs != ours:
                fixes.append(f"SPADE's {name}: source {theirs}, config {ours}: set "
                             f'{GEN}norm_cfg.{name}={theirs}')
    running = any(k.endswith('.first_norm.running_mean') for k in shapes)
    if running != getattr(norm.param_free_norm, 'track_running_stats', False):
        fixes.append("the source's norms keep running statistics (the published syncbatch or "
                     f"batch): set {GEN}norm_cfg.param_free_norm='BN'" if running else
                     "the source's norms keep no running statistics (the published instance): "
                     f"set {GEN}norm_cfg.param_free_norm='IN'")
    spectral = 'body.0.conv_0.weight_orig' in shapes
    if head is not None and spectral != hasattr(generator.body[0].conv_0, 'weight_orig'):
        fixes.append(f'the source is {"" if spectral else "not "}spectrally normalised: set '
                     f'{GEN}spectral_norm={spectral}')
    return fixes


def discriminator_keys(discriminator: nn.Module) -> Dict[str, str]:
    """Published ``OASIS_Discriminator`` key -> ours: the same, for every key of our
    ``OASISDiscriminator``."""
    return {key: key for key in discriminator.state_dict()}


def discriminator_fixes(shapes: Mapping[str, Shape], discriminator: nn.Module) -> List[str]:
    """What to change in the config's ``model.discriminator`` (an ``OASISDiscriminator``) to
    take a published OASIS discriminator of ``shapes``."""
    fixes = []
    last = _first(shapes, 'layer_up_last.weight')
    if last is not None and last[0] - 1 != discriminator.num_classes:
        fixes.append(f'class count: the source segments into {last[0] - 1} classes and "fake" '
                     f'(layer_up_last has {last[0]} outputs), the config '
                     f'{discriminator.num_classes}: set {DISC}num_classes={last[0] - 1} (and '
                     f'{GEN}num_classes)')
    widths, i = [], 0
    while True:
        conv = _first(shapes, f'body_down.{i}.conv2.1.weight_orig',
                      f'body_down.{i}.conv2.1.weight')
        if conv is None:
            break
        widths.append(conv[0])
        i += 1
    ours = [block.conv2[1].out_channels for block in discriminator.body_down]
    if widths and widths != ours:
        fixes.append(f"the encoder's widths: source {tuple(widths)}, config {tuple(ours)}: set "
                     f'{DISC}channels={tuple(widths)}')
    if last is not None and last[1] != discriminator.layer_up_last.in_channels:
        fixes.append(f"the decoder's last width: source {last[1]}, config "
                     f'{discriminator.layer_up_last.in_channels}: set {DISC}last_channels='
                     f'{last[1]}')
    spectral = 'body_down.0.conv1.0.weight_orig' in shapes
    if spectral != hasattr(discriminator.body_down[0].conv1[0], 'weight_orig'):
        fixes.append(f'the source is {"" if spectral else "not "}spectrally normalised: set '
                     f'{DISC}spectral_norm={spectral}')
    return fixes


# the first block's norm, which every OASIS generator file has and no SPADE-layout one
GENERATOR_SIGNATURE = 'body.0.norm_0.mlp_shared.0.weight'

OASIS_CODEBASE = register_codebase(PublishedCodebase(
    name='boschresearch/OASIS',
    generator_key_rules=(
        ('body.{index}.{conv}.{conv_param}', 'body.{index}.{conv}.{conv_param}'),
        ('body.{index}.{norm}.first_norm.{stat}', 'body.{index}.{norm}.param_free_norm.{stat}'),
        ('body.{index}.{norm}.mlp_shared.0.{param}', 'body.{index}.{norm}.mlp_shared.0.{param}'),
        ('body.{index}.{norm}.mlp_gamma.{param}', 'body.{index}.{norm}.mlp_gamma.{param}'),
        ('body.{index}.{norm}.mlp_beta.{param}', 'body.{index}.{norm}.mlp_beta.{param}'),
    ),
    norm_signatures=((GENERATOR_SIGNATURE, 'NoiseSPADE'), ),
    files='OASIS saves <iter>_G.pth, the generator; <iter>_EMA.pth, its moving average, '
          'which the published test.py generates with; <iter>_D.pth, the discriminator',
    generator_type='OASISGenerator',
    generator_signature=GENERATOR_SIGNATURE,
    generator_fixes=generator_fixes,
    discriminator_keys=discriminator_keys,
    discriminator_type='OASISDiscriminator',
    discriminator_signature='layer_up_last.weight',
    discriminator_fixes=discriminator_fixes,
    adapt_to_config=adapt_to_config,
))
