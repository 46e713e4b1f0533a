"""Generators trained with the published SPADE and CLADE code, as clade-mm checkpoints.

The published code (NVlabs/SPADE, tzt101/CLADE) saves each network's ``state_dict`` in a file
of its own: the generator as ``{epoch}_net_G.pth`` / ``latest_net_G.pth``, and with
``--use_vae`` the style encoder as ``*_net_E.pth``; plain state dicts, no ``module.`` prefix.
Their generator is the one :class:`~clade_mm.models.SemanticGenerator` builds (DESIGN.md
sections 2 and 7), so most keys keep their names; CLADE's norms name their parts differently.
Inside a block (``head_0``, ``G_middle_0/1``, ``up_0`` .. ``up_3``, ``up_4`` with ``most``),
``norm_*`` is ``norm_0``, ``norm_1`` or ``norm_s``; shapes with ``C`` the norm's channels,
``N_c`` the classes, ``L`` the label channels (``N_c``, plus one with instance edges):

- ``fc.weight|bias``: same name; ``(16 ngf, L, 3, 3)``, or ``(16 ngf * sh * sw, z)`` with
  ``--use_vae``. ``conv_img.weight|bias``: same; ``(3, ngf, 3, 3)``.
- ``conv_{0,1,s}.weight_orig|weight_u|weight_v|bias``: same; ``(out, in, k, k)``, ``(out,)``,
  ``(in * k * k,)``, ``(out,)`` (``in`` is one more after CLADE with instance edges).
- ``norm_*.param_free_norm.running_mean|running_var|num_batches_tracked``: same; ``(C,)``,
  ``()``. Instance norm saves none; older BatchNorm/SyncBN no ``num_batches_tracked`` (0 then).
- SPADE: ``norm_*.mlp_shared.0``, ``norm_*.mlp_gamma``, ``norm_*.mlp_beta`` (``.weight|bias``):
  same; ``(128, L, 3, 3)``, ``(C, 128, 3, 3)``.
- CLADE: ``norm_*.class_specified_affine.weight|bias`` -> ``norm_*.class_affine.gamma|beta``,
  ``(N_c, C)``. CLADE-ICPE: ``norm_*.class_specified_affine.dist_conv_w|dist_conv_b.*`` ->
  ``norm_*.class_affine.position_gamma|position_beta.*``, ``(1, 2, 1, 1)`` and ``(1,)``.
  Instance edges: ``norm_*.inst_conv.*`` -> ``norm_*.edge_affine.*``, ``(1, 1, 1, 1)``, ``(1,)``.
- Style encoder (``*_net_E.pth``): ``layer{k}.0.weight_orig|weight_u|weight_v`` ->
  ``style_encoder.layers.{3 (k - 1)}.*`` (its k-th conv; ``(out, in, 3, 3)``), whose bias the
  published code does not have (0 is exact: instance norm follows);
  ``fc_mu|fc_var.weight|bias`` -> ``style_encoder.fc_mu|fc_var.*``, ``(256, 8 ngf * 4 * 4)``.

The layers compute the same functions on these weights (checked against the published code):
spectral norm divides by ``u . (W v)`` with the stored ``u, v`` in eval; SPADE is
``norm(x) * (1 + gamma) + beta``; CLADE ``norm(x) * gamma[label] + beta[label]``, CLADE-ICPE
scales both by ``1 + Conv1x1(dist)`` with ``dist`` in the same ``(dy, dx)`` channel order; the
edge channel is ``inst_conv(edges)`` concatenated after the features.
"""
import io
import logging
import os
import os.path as osp
import re
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import mmengine
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from torch import Tensor

from ..compat import CheckpointFileError, atomic_write, load_from_local
from ..version import __version__

# What each ``{field}`` of a key template stands for.
_KEY_FIELDS = {
    'block': r'head_0|G_middle_[01]|up_[0-4]',
    'norm': r'norm_[01s]',
    'conv': r'conv_[01s]',
    'param': r'weight|bias',
    'conv_param': r'weight_orig|weight_u|weight_v|weight|bias',
    'stat': r'running_mean|running_var|num_batches_tracked',
}

# (official generator key, clade-mm generator key): the table of the module docstring.
GENERATOR_KEY_RULES: Tuple[Tuple[str, str], ...] = (
    ('fc.{param}', 'fc.{param}'),
    ('conv_img.{param}', 'conv_img.{param}'),
    ('{block}.{conv}.{conv_param}', '{block}.{conv}.{conv_param}'),
    ('{block}.{norm}.param_free_norm.{stat}', '{block}.{norm}.param_free_norm.{stat}'),
    ('{block}.{norm}.mlp_shared.0.{param}', '{block}.{norm}.mlp_shared.0.{param}'),
    ('{block}.{norm}.mlp_gamma.{param}', '{block}.{norm}.mlp_gamma.{param}'),
    ('{block}.{norm}.mlp_beta.{param}', '{block}.{norm}.mlp_beta.{param}'),
    ('{block}.{norm}.class_specified_affine.weight', '{block}.{norm}.class_affine.gamma'),
    ('{block}.{norm}.class_specified_affine.bias', '{block}.{norm}.class_affine.beta'),
    ('{block}.{norm}.class_specified_affine.dist_conv_w.{param}',
     '{block}.{norm}.class_affine.position_gamma.{param}'),
    ('{block}.{norm}.class_specified_affine.dist_conv_b.{param}',
     '{block}.{norm}.class_affine.position_beta.{param}'),
    ('{block}.{norm}.inst_conv.{param}', '{block}.{norm}.edge_affine.{param}'),
)

# Keys of our model that published files may lack, written as zeros, and why zero changes no
# output.
ZERO_FILLED_KEYS: Tuple[Tuple[str, str], ...] = (
    (r'.*\.param_free_norm\.num_batches_tracked',
     'BatchNorm/SyncBN of older torch did not save it; it only counts updates (used with '
     'momentum=None only)'),
    (r'style_encoder\.layers\.\d+\.bias',
     'the published encoder convs have no bias: the instance norm after each removes any '
     'per-channel constant'),
)

Shape = Sequence[int]  # a torch.Size or a tuple


class OfficialCheckpointError(ValueError):
    """A source file that is not a published SPADE/CLADE network, or does not fit the config."""


@lru_cache(maxsize=None)
def _key_pattern(template: str) -> re.Pattern:
    parts = re.split(r'(\{\w+\})', template)
    return re.compile(''.join(
        f'(?P<{part[1:-1]}>{_KEY_FIELDS[part[1:-1]]})' if part.startswith('{')
        else re.escape(part) for part in parts))


def official_generator_key(key: str) -> Optional[str]:
    """The published name of a :class:`SemanticGenerator` state-dict key, or ``None``."""
    for official, ours in GENERATOR_KEY_RULES:
        match = _key_pattern(ours).fullmatch(key)
        if match:
            return official.format(**match.groupdict())
    return None


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


@dataclass(frozen=True)
class GeneratorArchitecture:
    """The settings of a SPADE-style generator that its weights fix, read from the published
    key names and shapes (``None``: the weights do not tell).

    Attributes:
        norm: ``'SPADE'``, ``'CLADE'``, ``'CLADE-ICPE'`` or ``None`` (another norm).
        base_channels: ``ngf``; ``head_0`` is ``16 ngf`` wide.
        label_channels: channels of the label input: classes plus one with instance edges.
        num_classes: ``N_c`` (CLADE's bank has a row per class; SPADE's weights only give
            ``label_channels``).
        with_instance_edge: CLADE's ``inst_conv``; unknown for SPADE.
        z_channels: length of the style code when ``fc`` is a Linear (``--use_vae``).
        start_positions: ``sh * sw`` of the first feature map made by that Linear.
        most: has ``up_4`` (``num_upsampling_layers='most'``). ``'normal'`` and ``'more'`` have
            the same weights.
        running_stats: batch norm (saves running statistics) rather than instance norm.
        spectral_norm: convs store ``weight_orig``.
        spade_hidden_channels, spade_kernel_size: of SPADE's ``mlp_shared``.
    """
    norm: Optional[str] = None
    base_channels: Optional[int] = None
    label_channels: Optional[int] = None
    num_classes: Optional[int] = None
    with_instance_edge: Optional[bool] = None
    z_channels: Optional[int] = None
    start_positions: Optional[int] = None
    most: bool = False
    running_stats: bool = False
    spectral_norm: bool = False
    spade_hidden_channels: Optional[int] = None
    spade_kernel_size: Optional[int] = None

    @classmethod
    def from_official_shapes(cls, shapes: Mapping[str, Shape]) -> 'GeneratorArchitecture':
        """From ``{published key: shape}`` of a generator (its own, or ours renamed)."""
        def first(suffix):
            return next((tuple(s) for k, s in shapes.items() if k.endswith(suffix)), None)

        bank = first('.class_specified_affine.weight')
        mlp_shared = first('.mlp_shared.0.weight')
        head_conv = shapes.get('head_0.conv_0.weight_orig', shapes.get('head_0.conv_0.weight'))
        fc = tuple(shapes.get('fc.weight', ()))
        norm = 'SPADE' if mlp_shared else 'CLADE-ICPE' if first(
            '.class_specified_affine.dist_conv_w.weight') else 'CLADE' if bank else None
        base_channels = head_conv[0] // 16 if head_conv else None
        with_edge = bool(first('.inst_conv.weight')) if bank else None
        num_classes = bank[0] if bank else None
        if mlp_shared:
            label_channels = mlp_shared[1]
        elif len(fc) == 4:
            label_channels = fc[1]
        else:
            label_channels = num_classes + with_edge if bank else None
        vae = len(fc) == 2
        return cls(
            norm=norm, base_channels=base_channels, label_channels=label_channels,
            num_classes=num_classes, with_instance_edge=with_edge,
            z_channels=fc[1] if vae else None,
            start_positions=fc[0] // (16 * base_channels) if vae and base_channels else None,
            most=any(k.startswith('up_4.') for k in shapes),
            running_stats=first('.param_free_norm.running_mean') is not None,
            spectral_norm='head_0.conv_0.weight_orig' in shapes,
            spade_hidden_channels=mlp_shared[0] if mlp_shared else None,
            spade_kernel_size=mlp_shared[-1] if mlp_shared else None)

    @classmethod
    def of_generator(cls, generator: nn.Module) -> 'GeneratorArchitecture':
        """The architecture of a built :class:`SemanticGenerator`, including what its config
        says and its weights do not (class count and instance edges for SPADE)."""
        shapes = {}
        for key, tensor in generator.state_dict().items():
            official = official_generator_key(key)
            if official is not None:
                shapes[official] = tuple(tensor.shape)
        return replace(cls.from_official_shapes(shapes), num_classes=generator.num_classes,
                       with_instance_edge=generator.with_instance_edge)

    def fixes_to_match(self, config: 'GeneratorArchitecture') -> List[str]:
        """What to change in ``model.generator`` of a config whose generator is ``config`` so
        that it takes weights of this architecture; empty if nothing the weights tell differs."""
        gen = 'model.generator.'
        fixes = []
        if self.norm != config.norm:
            fixes.append(
                f"the source's norms are {self.norm}, the config's "
                f"{config.norm or 'not SPADE/CLADE'}: set {gen}norm_cfg=dict(type='{self.norm}') "
                f"(or take a configs/{self.norm.lower().replace('-', '_')}_*.py)"
                if self.norm else "the source's norms are not SPADE/CLADE/CLADE-ICPE")
        if self.z_channels != config.z_channels:
            fixes.append(
                f'the source starts from a style code of {self.z_channels} (trained with '
                f'--use_vae): set {gen}z_channels={self.z_channels} and {gen}out_size=(H, W), '
                f'the training crop' if self.z_channels else
                f'the source starts from the label map, not from a style code: remove '
                f'{gen}z_channels and {gen}style_encoder')
        elif self.start_positions and self.start_positions != config.start_positions:
            fixes.append(
                f"the source's fc makes a first feature map of {self.start_positions} positions "
                f"(sh * sw), the config's {config.start_positions}: set {gen}out_size to the "
                f'training crop (crop_size, aspect_ratio of the published options)')
        if self.num_classes is not None and self.num_classes != config.num_classes:
            fixes.append(
                f'class count: the source has {self.num_classes} classes, the config '
                f'{config.num_classes}: set {gen}num_classes={self.num_classes} (and a dataset '
                f'with these class ids)')
        if self.with_instance_edge is not None and \
                self.with_instance_edge != config.with_instance_edge:
            fixes.append(
                f'the source is {"" if self.with_instance_edge else "not "}conditioned on '
                f'instance edges: set {gen}with_instance_edge={self.with_instance_edge}')
        elif self.num_classes is None and self.label_channels is not None and \
                self.label_channels != config.label_channels:
            config_has = f'num_classes={config.num_classes}' + (
                ' + instance edge' if config.with_instance_edge else ', no instance edge')
            fixes.append(
                f'the source takes {self.label_channels} label channels, the config '
                f'{config.label_channels} ({config_has}): set {gen}num_classes='
                f'{self.label_channels} without instance edges, or {gen}num_classes='
                f'{self.label_channels - 1} with {gen}with_instance_edge=True')
        if self.base_channels != config.base_channels:
            fixes.append(f'base channels (ngf): source {self.base_channels}, config '
                         f'{config.base_channels}: set {gen}base_channels={self.base_channels}')
        if self.most != config.most:
            fixes.append(
                f"the source has an up_4 block: set {gen}num_upsampling_layers='most'"
                if self.most else f"the source has no up_4 block: set "
                f"{gen}num_upsampling_layers='normal' or 'more', as it was trained")
        if self.running_stats != config.running_stats:
            fixes.append(
                "the source's norms keep running statistics (batch norm): set param_free_norm="
                "'BN' or 'SyncBN' in the norm_cfg" if self.running_stats else
                "the source's norms keep no running statistics (instance norm): set "
                "param_free_norm='IN' in the norm_cfg")
        if self.spectral_norm != config.spectral_norm:
            fixes.append(f'the source is {"" if self.spectral_norm else "not "}spectrally '
                         f'normalised: set {gen}spectral_norm={self.spectral_norm}')
        for name, arg in (('spade_hidden_channels', 'hidden_channels'),
                          ('spade_kernel_size', 'kernel_size')):
            ours, theirs = getattr(self, name), getattr(config, name)
            if ours is not None and theirs is not None and ours != theirs:
                fixes.append(f"SPADE's {arg}: source {ours}, config {theirs}: set {arg}={ours} "
                             'in the norm_cfg')
        return fixes


@dataclass
class ConvertedGenerator:
    """A converted generator.

    Attributes:
        state_dict: ``{clade-mm generator key: tensor}`` (no ``generator.`` prefix), in the
            order of the generator's own state dict.
        source: what the source generator is.
        zero_filled: ``{key: why}`` for keys the source lacks that are exactly zero.
        unused: source keys left out (``allow_unused=True`` only); ``encoder:`` marks the
            encoder's.
    """
    state_dict: Dict[str, Tensor]
    source: GeneratorArchitecture
    zero_filled: Dict[str, str] = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)


def _shape(tensor: Tensor) -> List[int]:
    return list(tensor.shape)


def _listing(keys: Sequence[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f' and {len(keys) - limit} more' if len(keys) > limit else '')


def convert_official_state_dict(generator_state: Mapping[str, Tensor], generator: nn.Module,
                                encoder_state: Optional[Mapping[str, Tensor]] = None,
                                allow_unused: bool = False) -> ConvertedGenerator:
    """Rename a published generator (and style encoder) state dict into ``generator``'s keys.

    Every source key must land on a key of ``generator`` with the same shape, and every key of
    ``generator`` must come from the source (or be one of :data:`ZERO_FILLED_KEYS`).

    Args:
        generator_state: the published generator's ``state_dict`` (``*_net_G.pth``).
        generator: a :class:`SemanticGenerator` built from the target config (on any device,
            ``meta`` included: only its keys, shapes and settings are read).
        encoder_state: the published style encoder's ``state_dict`` (``*_net_E.pth``).
        allow_unused: leave out source keys without a counterpart (listed in the result and
            logged as a warning) instead of refusing.

    Raises:
        OfficialCheckpointError: naming the first shape mismatch, the unused source keys and
            the missing target keys, with what to change in the config.
    """
    target = generator.state_dict()
    names = {}  # published key -> ours, for every key of ours that has one
    for key in target:
        if key.startswith('style_encoder.'):
            continue
        official = official_generator_key(key)
        if official is not None:
            names[official] = key
    encoder_names = official_encoder_keys(generator.style_encoder) \
        if hasattr(generator, 'style_encoder') else {}
    sources = [('', generator_state, names)]
    if encoder_state is not None:
        sources.append(('encoder:', encoder_state, encoder_names))

    converted, mismatches, unused = {}, {}, []
    for tag, state, key_names in sources:
        for key, tensor in state.items():
            ours = key_names.get(key)
            if ours is None:
                unused.append(tag + key)
            elif tuple(tensor.shape) != tuple(target[ours].shape):
                mismatches[ours] = f'{tag}{key}: source {_shape(tensor)}, config ' \
                                   f'{_shape(target[ours])}'
            else:
                converted[ours] = tensor
    zero_filled = {}
    for key, tensor in target.items():
        if key in converted:
            continue
        why = next((why for pattern, why in ZERO_FILLED_KEYS if re.fullmatch(pattern, key)),
                   None)
        if why is not None:
            zero_filled[key] = why
            converted[key] = torch.zeros(tensor.shape, dtype=tensor.dtype)
    missing = [key for key in target if key not in converted and key not in mismatches]

    source = GeneratorArchitecture.from_official_shapes(
        {k: tuple(v.shape) for k, v in generator_state.items()})
    if mismatches or missing or (unused and not allow_unused):
        problems = []
        if mismatches:
            first, *others = mismatches.values()
            problems.append(f'shapes differ: {first}' + (
                f' (and {len(others)} more key{"s" if len(others) > 1 else ""})'
                if others else ''))
        if unused:
            problems.append(f'{len(unused)} source keys have no counterpart in the config\'s '
                            f'model: {_listing(unused)}')
        fixes = source.fixes_to_match(GeneratorArchitecture.of_generator(generator))
        if missing:
            problems.append(f'{len(missing)} keys of the config\'s model are not in the '
                            f'source: {_listing(missing)}')
            if encoder_state is None and any(k.startswith('style_encoder.') for k in missing):
                fixes.append('the config has a style encoder: give the published encoder '
                             '(*_net_E.pth) with --encoder too, or remove '
                             'model.generator.style_encoder')
        if encoder_state is not None and not encoder_names:
            fixes.append('an encoder was given, but the config\'s generator has none: set '
                         "model.generator.style_encoder=dict(type='StyleEncoder') (with "
                         'z_channels and out_size)')
        text = '\n  '.join(problems)
        text += ''.join(f'\n  likely fix: {fix}' for fix in fixes) if fixes else (
            '\n  no setting of the config explains this: is the source a generator of the '
            'published SPADE/CLADE code?')
        raise OfficialCheckpointError(text)
    if unused:
        print_log(f'left out {len(unused)} source keys without a counterpart in the config\'s '
                  f'model: {_listing(unused, limit=len(unused))}', logger='current',
                  level=logging.WARNING)
    state_dict = {key: converted[key] for key in target}
    return ConvertedGenerator(state_dict, source, zero_filled, unused)


def _describe_unknown(state: Mapping[str, Tensor], role: str) -> str:
    """Why ``state`` is not a published ``role`` ('generator' or 'encoder') state dict."""
    keys = list(state)
    if any(k.startswith('discriminator_') for k in keys):
        return 'it is a published discriminator (*_net_D.pth); convert the generator ' \
               '(*_net_G.pth)'
    if role == 'generator' and 'fc_mu.weight' in state:
        return 'it is a published style encoder (*_net_E.pth): give it as --encoder and ' \
               'the generator (*_net_G.pth) as the source'
    if role == 'encoder' and 'conv_img.weight' in state:
        return 'it is a generator (*_net_G.pth); the encoder is the *_net_E.pth beside it'
    if any(k.startswith(('generator.', 'generator_ema.')) for k in keys):
        return 'it is already a clade-mm checkpoint: give it to tools/test.py or ' \
               'tools/synthesize.py as it is'
    expected = 'fc.weight, head_0.conv_0.weight_orig, conv_img.weight' if role == 'generator' \
        else 'layer1.0.weight_orig, fc_mu.weight'
    return f'expected keys such as {expected}; it has {_listing(keys, 5) or "no keys"}'


def load_official_state_dict(path: str, role: str = 'generator') -> Dict[str, Tensor]:
    """Read a published ``*_net_G.pth`` (``role='generator'``) or ``*_net_E.pth``
    (``role='encoder'``) file as ``{key: tensor}`` on the CPU.

    A uniform ``module.`` prefix (a state dict saved from a DataParallel wrapper) is removed.
    Loading stays ``weights_only``.

    Raises:
        FileNotFoundError: naming the path, when it is not a file.
        OfficialCheckpointError: when the file is not a published ``role`` state dict.
    """
    kind = dict(generator='G', encoder='E')[role]
    if osp.isdir(path):
        found = sorted(n for n in os.listdir(path) if n.endswith(f'_net_{kind}.pth'))
        hint = f'; it holds {", ".join(found)}' if found else ''
        raise FileNotFoundError(f'{path} is a folder: give the {role} file itself, e.g. '
                                f'{osp.join(path, f"latest_net_{kind}.pth")}{hint}')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{role} checkpoint {path} not found: give the file the published code saved '
            f'(checkpoints/<name>/latest_net_{kind}.pth, or the pretrained models linked from '
            f'the SPADE and CLADE READMEs)')
    try:
        state = load_from_local(path, map_location='cpu')
    except CheckpointFileError as err:  # empty, damaged, or not a checkpoint: it says which
        raise OfficialCheckpointError(str(err)) from None
    except Exception as err:  # noqa: BLE001  (torch raises many kinds for a foreign file)
        raise OfficialCheckpointError(f'{path} cannot be read as a PyTorch state dict: '
                                      f'{err or type(err).__name__}') from err
    if isinstance(state, Mapping) and isinstance(state.get('state_dict'), Mapping):
        state = state['state_dict']
    if not isinstance(state, Mapping) or not state:
        held = 'an empty dict' if isinstance(state, Mapping) else f'a {type(state).__name__}'
        raise OfficialCheckpointError(
            f'{path} holds {held}, not the state dict of a published SPADE/CLADE {role}')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    not_tensors = [k for k, v in state.items() if not isinstance(v, Tensor)]
    required = 'conv_img.weight' if role == 'generator' else 'fc_mu.weight'
    if not_tensors or required not in state:
        why = f'{_listing(not_tensors, 3)} are not tensors' if not_tensors else \
            _describe_unknown(state, role)
        raise OfficialCheckpointError(
            f'{path} is not the state dict of a published SPADE/CLADE {role}: {why}')
    return dict(state)


def build_generator(cfg: Config, device: Union[str, torch.device] = 'meta') -> nn.Module:
    """The ``model.generator`` of a config, built in its default scope (the caller's default
    scope is left alone); on the ``meta`` device by default: keys and shapes, no memory."""
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmagic')), \
            torch.device(device):
        from mmagic.registry import MODELS
        return MODELS.build(cfg.model.generator)


def gan_state_dict(generator_state: Mapping[str, Tensor],
                   with_ema: bool) -> Dict[str, Tensor]:
    """:class:`SemanticGAN` keys for a generator's state dict: ``generator.*``, and with EMA
    the same tensors as ``generator_ema.module.*`` with ``generator_ema.steps = 0`` (no update
    has been averaged in). The discriminator is left out."""
    state = {f'generator.{k}': v for k, v in generator_state.items()}
    if with_ema:
        state.update({f'generator_ema.module.{k}': v for k, v in generator_state.items()})
        state['generator_ema.steps'] = torch.tensor(0, dtype=torch.long)
    return state


def convert_official_checkpoint(src: str, dst: str, config: str, encoder: Optional[str] = None,
                                allow_unused: bool = False,
                                cfg_options: Optional[dict] = None) -> dict:
    """Convert a published SPADE/CLADE generator file into a clade-mm checkpoint for ``config``.

    ``dst`` gets ``{'meta': {...}, 'state_dict': {...}}`` with :class:`SemanticGAN` keys (see
    :func:`gan_state_dict`), written atomically: what ``tools/test.py``, ``tools/synthesize.py``,
    ``load_checkpoint`` and the Runner's ``load_from`` load. The discriminator is not
    converted; loading lists its keys as missing (mmengine loads non-strictly).

    Args:
        src: the published generator, ``*_net_G.pth``.
        dst: the checkpoint to write.
        config: the clade-mm config whose generator the weights are for.
        encoder: the published style encoder, ``*_net_E.pth``, for a config with a style
            encoder.
        allow_unused: see :func:`convert_official_state_dict`.
        cfg_options: overrides merged into the config.

    Returns:
        The checkpoint's ``meta``: the sources, the config, the source's
        :class:`GeneratorArchitecture` as a dict, the zero-filled keys, the unused source keys.

    Raises:
        FileNotFoundError: a source file is missing.
        OfficialCheckpointError: a source is not a published network or does not fit the
            config (the message names the first mismatch and the likely fix).
    """
    if osp.exists(src) and osp.exists(dst) and osp.samefile(src, dst):
        raise OfficialCheckpointError(f'the output {dst} is the source itself: choose another '
                                      'path for the converted checkpoint')
    generator_state = load_official_state_dict(src, 'generator')
    encoder_state = load_official_state_dict(encoder, 'encoder') if encoder else None
    from ..apis.config import load_config  # apis builds on models: imported when used
    cfg = load_config(config, cfg_options)
    generator = build_generator(cfg)
    try:
        result = convert_official_state_dict(generator_state, generator, encoder_state,
                                             allow_unused)
    except OfficialCheckpointError as err:
        raise OfficialCheckpointError(f'{src} does not fit the generator of {config}:\n  '
                                      f'{err}') from None
    with_ema = cfg.model.get('ema_config') is not None
    meta = dict(
        converted_from=dict(generator=osp.abspath(src),
                            encoder=osp.abspath(encoder) if encoder else None),
        config=config, source_architecture=asdict(result.source),
        num_generator_keys=len(result.state_dict), with_ema=with_ema,
        zero_filled=sorted(result.zero_filled), unused_source_keys=result.unused,
        clade_mm_version=__version__, mmengine_version=mmengine.__version__,
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()))
    buffer = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=gan_state_dict(result.state_dict, with_ema)), buffer)
    atomic_write(dst, buffer.getvalue())
    return meta
