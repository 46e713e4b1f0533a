"""Converting checkpoints of published codebases: the machinery all of them share.

A published codebase is one file of this folder that registers a :class:`PublishedCodebase`:
its key rules (published generator key -> ours, by templates), the keys our model has and its
files may lack (zero-filled, with why zero is exact), which published keys tell which norm
family a file holds, and how the keys of its style-encoder files map onto our encoder of its
kind (each codebase's mapping applies to its own encoder type); a codebase whose generator is
not SPADE's names our generator class for it, and one that publishes discriminator files maps
them the same way onto our discriminator of its kind. :mod:`.architecture` reads the
architecture of a published generator from its keys and shapes, once for every codebase, and
says what to change in a config that does not fit. Here: reading the published files, the
renaming with its checks, and writing a clade-mm checkpoint.
"""
import io
import logging
import os
import os.path as osp
import re
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import mmengine
import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from ..engine.checkpoint_integrity import CheckpointFileError, atomic_write, load_from_local
from ..models.builder import build_generator
from ..models.generator_weights import gan_state_dict, listing
from ..version import __version__

# What each ``{field}`` of a key template stands for.
KEY_FIELDS = {
    'block': r'head_0|G_middle_[01]|up_[0-4]',
    'norm': r'norm_[01s]',
    'conv': r'conv_[01s]',
    'param': r'weight|bias',
    'index': r'\d+',  # of a layer in a list (SEAN's per-class projections)
    'conv_param': r'weight_orig|weight_u|weight_v|weight|bias',
    'stat': r'running_mean|running_var|num_batches_tracked',
}

Shape = Sequence[int]  # a torch.Size or a tuple
# Our generator class for the published generators of SPADE's layout (head_0, G_middle_*,
# up_*), which SPADE, CLADE, INADE and SEAN share: a codebase's generator_type when it has none.
SPADE_GENERATOR = 'SemanticGenerator'


class OfficialCheckpointError(ValueError):
    """A source file that is not a published network, or does not fit the config."""


@dataclass(frozen=True)
class PublishedCodebase:
    """What converting one published codebase's files takes (see the module docstring).

    Attributes:
        name: the repository, e.g. ``'NVlabs/SPADE'``.
        generator_key_rules: ``(published template, our template)`` pairs; a template's
            ``{field}`` stands for a part of the key (:data:`KEY_FIELDS`).
        zero_filled_keys: ``(our key pattern, why zero changes no output)``.
        norm_signatures: ``(published key suffix, registered norm name)``, the most specific
            first: a file with such a key holds that norm family.
        encoder_keys: ``encoder module -> {published key: our key}`` for its style encoder.
        encoder_type: the class name of our encoder that ``encoder_keys`` maps onto (a
            subclass counts too); the mapping applies to encoders of that type only.
        encoder_signature: a key every published encoder file of the codebase has, and no
            other codebase's (it tells an encoder file from a generator file, and whose it is).
        encoder_fixes: ``(published encoder shapes, our encoder or None) -> [fix, ...]``:
            what to change in the config's ``style_encoder`` so that it takes that encoder;
            without it, a generic hint.
        prepare_generator: for files that are not a plain renaming: ``published generator
            state -> None`` when the file is not this codebase's, else ``(generator state,
            encoder state or None, {dropped key: why})``: keys renamed where a template cannot
            (SEAN's ``fc_mu<j>`` to a list index), an encoder the generator file holds split
            off, and keys no output depends on left out with the reason.
        files: what the codebase's files are called, for messages (``None``: SPADE's
            ``*_net_G.pth`` naming).
        generator_type: the class name of our generator that its generator files are of (a
            subclass counts too); ``None``: :data:`SPADE_GENERATOR`.
        generator_signature: a key every published generator file of the codebase has, and no
            other codebase's (needed with ``generator_type``, ``generator_fixes`` or
            ``adapt_to_config``: it tells whose a generator file is).
        generator_fixes: ``(published generator shapes, our generator) -> [fix, ...]``: what
            to change in the config's ``model.generator`` so that it takes a generator file of
            the codebase (instead of :meth:`GeneratorArchitecture.fixes_to_match`).
        discriminator_keys: ``discriminator module -> {published key: our key}`` for its
            discriminator files; ``None``: the codebase's discriminators are not converted.
        discriminator_type: the class name of our discriminator that ``discriminator_keys``
            maps onto (a subclass counts too).
        discriminator_signature: a key every published discriminator file of the codebase
            has, and no other file (it tells a discriminator file from a generator file).
        discriminator_fixes: ``(published discriminator shapes, our discriminator) -> [fix,
            ...]``: what to change in the config's ``model.discriminator``.
        adapt_to_config: ``(role, converted state, config) -> (state, [what changed, ...])``
            for a ``role`` (``'generator'``, also for an EMA file, or ``'discriminator'``)
            state of the codebase, renamed into our keys (without the ``generator.`` prefix):
            what the config asks beyond the names, e.g. another order of the classes.
    """
    name: str
    generator_key_rules: Tuple[Tuple[str, str], ...] = ()
    zero_filled_keys: Tuple[Tuple[str, str], ...] = ()
    norm_signatures: Tuple[Tuple[str, str], ...] = ()
    encoder_keys: Optional[Callable[[nn.Module], Dict[str, str]]] = None
    encoder_type: Optional[str] = None
    encoder_signature: Optional[str] = None
    encoder_fixes: Optional[Callable[[Mapping[str, Shape], Optional[nn.Module]],
                                     List[str]]] = None
    prepare_generator: Optional[Callable[[Mapping[str, Tensor]], Optional[Tuple[
        Dict[str, Tensor], Optional[Dict[str, Tensor]], Dict[str, str]]]]] = None
    files: Optional[str] = None
    generator_type: Optional[str] = None
    generator_signature: Optional[str] = None
    generator_fixes: Optional[Callable[[Mapping[str, Shape], nn.Module], List[str]]] = None
    discriminator_keys: Optional[Callable[[nn.Module], Dict[str, str]]] = None
    discriminator_type: Optional[str] = None
    discriminator_signature: Optional[str] = None
    discriminator_fixes: Optional[Callable[[Mapping[str, Shape], nn.Module], List[str]]] = None
    adapt_to_config: Optional[Callable[[str, Dict[str, Tensor], Any], Tuple[
        Dict[str, Tensor], List[str]]]] = None


CODEBASES: List[PublishedCodebase] = []


def register_codebase(codebase: PublishedCodebase) -> PublishedCodebase:
    CODEBASES.append(codebase)
    return codebase


def generator_key_rules() -> Tuple[Tuple[str, str], ...]:
    return tuple(rule for codebase in CODEBASES for rule in codebase.generator_key_rules)


def zero_filled_keys() -> Tuple[Tuple[str, str], ...]:
    return tuple(rule for codebase in CODEBASES for rule in codebase.zero_filled_keys)


def norm_signatures() -> Tuple[Tuple[str, str], ...]:
    return tuple(rule for codebase in CODEBASES for rule in codebase.norm_signatures)


def encoder_codebase(encoder: nn.Module) -> Optional[PublishedCodebase]:
    """The codebase whose encoder files convert into ``encoder`` (by its type), or ``None``."""
    kinds = {cls.__name__ for cls in type(encoder).__mro__}
    return next((codebase for codebase in CODEBASES if codebase.encoder_keys is not None
                 and codebase.encoder_type in kinds), None)


def encoder_file_codebase(state: Mapping[str, Tensor]) -> Optional[PublishedCodebase]:
    """The codebase whose published encoder ``state`` is (by its signature key), or ``None``."""
    return next((codebase for codebase in CODEBASES
                 if codebase.encoder_signature and codebase.encoder_signature in state), None)


def generator_file_codebase(state: Mapping[str, Any]) -> Optional[PublishedCodebase]:
    """The codebase whose published generator ``state`` (or ``{key: shape}``) is, by its
    ``generator_signature``; ``None`` for the codebases of SPADE's generator, which have none."""
    return next((codebase for codebase in CODEBASES
                 if codebase.generator_signature and codebase.generator_signature in state),
                None)


def discriminator_file_codebase(state: Mapping[str, Any]) -> Optional[PublishedCodebase]:
    """The codebase whose published discriminator ``state`` is (by its signature key), or
    ``None``."""
    return next((codebase for codebase in CODEBASES if codebase.discriminator_signature
                 and codebase.discriminator_signature in state), None)


def _kinds(module: nn.Module) -> set:
    return {cls.__name__ for cls in type(module).__mro__}


def _family_fix(source_type: str, module: nn.Module, part: str) -> Optional[str]:
    """How to take a published ``part`` (``'generator'``, ``'discriminator'``) of our class
    ``source_type`` when the config's is ``module``, or ``None`` when it is of that class."""
    if source_type in _kinds(module):
        return None
    if part == 'generator':
        names = '/'.join(c.name.rsplit('/', 1)[-1] for c in CODEBASES
                         if (c.generator_type or SPADE_GENERATOR) == source_type)
    else:
        names = '/'.join(c.name.rsplit('/', 1)[-1] for c in CODEBASES
                         if c.discriminator_type == source_type)
    return (f'the source is a published {names} {part} (ours: {source_type}), the config\'s '
            f'model.{part} a {type(module).__name__}: take a config whose model.{part}.type is '
            f"'{source_type}'")


def generator_fixes(shapes: Mapping[str, Shape], generator: nn.Module) -> List[str]:
    """What to change in the config's ``model.generator`` (``generator``) so that it takes a
    published generator of ``{key: shape}`` ``shapes``: another generator class when the file
    is of another, else the source codebase's ``generator_fixes``, else what the
    architectures' comparison says."""
    from .architecture import GeneratorArchitecture
    codebase = generator_file_codebase(shapes)
    family = _family_fix((codebase.generator_type if codebase else None) or SPADE_GENERATOR,
                         generator, 'generator')
    if family:
        return [family]
    if codebase is not None and codebase.generator_fixes is not None:
        return codebase.generator_fixes(shapes, generator)
    return GeneratorArchitecture.from_official_shapes(shapes).fixes_to_match(
        GeneratorArchitecture.of_generator(generator))


def prepare_generator_state(state: Mapping[str, Tensor]
                            ) -> Tuple[Mapping[str, Tensor], Optional[Dict[str, Tensor]],
                                       Dict[str, str]]:
    """``state`` as the key rules take it: the first codebase that recognises the file
    prepares it (see :attr:`PublishedCodebase.prepare_generator`); others are taken as they
    are."""
    for codebase in CODEBASES:
        if codebase.prepare_generator is not None:
            prepared = codebase.prepare_generator(state)
            if prepared is not None:
                return prepared
    return state, None, {}


def official_encoder_keys(encoder: nn.Module) -> Dict[str, str]:
    """Published style-encoder key -> ours, by the codebase whose encoder ``encoder`` is of;
    empty for an encoder no codebase publishes."""
    codebase = encoder_codebase(encoder)
    return codebase.encoder_keys(encoder) if codebase is not None else {}


def published_names(role: str = 'generator') -> str:
    """``'CLADE/INADE/SPADE'``: the registered codebases (that publish an encoder, for
    ``role='encoder'``; whose discriminators convert, for ``role='discriminator'``), for
    messages."""
    return '/'.join(codebase.name.rsplit('/', 1)[-1] for codebase in CODEBASES
                    if role == 'generator' or (role == 'encoder' and codebase.encoder_signature)
                    or (role == 'discriminator' and codebase.discriminator_signature))


def _encoder_fixes(encoder_state: Mapping[str, Tensor],
                   encoder: Optional[nn.Module]) -> List[str]:
    """What to change in the config's ``style_encoder`` (``encoder``, ``None`` if it has none)
    so that it takes ``encoder_state``: the source codebase's own hints if it has them."""
    source = encoder_file_codebase(encoder_state)
    ours = encoder_codebase(encoder) if encoder is not None else None
    if source is not None and source.encoder_fixes is not None:
        shapes = {k: tuple(v.shape) for k, v in encoder_state.items()}
        return source.encoder_fixes(shapes, encoder if ours is source else None)
    if encoder is None:
        kind = source.encoder_type if source is not None else 'StyleEncoder'
        return ['an encoder was given, but the config\'s generator has none: set '
                f"model.generator.style_encoder=dict(type='{kind}') (with z_channels and "
                'out_size)']
    if source is not None and ours is not source:
        return [f'the encoder is a published {source.name} encoder: set '
                f"model.generator.style_encoder=dict(type='{source.encoder_type}')"]
    return []


@lru_cache(maxsize=None)
def _key_pattern(template: str) -> re.Pattern:
    parts = re.split(r'(\{\w+\})', template)
    return re.compile(''.join(
        f'(?P<{part[1:-1]}>{KEY_FIELDS[part[1:-1]]})' if part.startswith('{')
        else re.escape(part) for part in parts))


def official_generator_key(key: str) -> Optional[str]:
    """The published name of a :class:`SemanticGenerator` state-dict key, or ``None``."""
    for official, ours in generator_key_rules():
        match = _key_pattern(ours).fullmatch(key)
        if match:
            return official.format(**match.groupdict())
    return None


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
        dropped: ``{source key: why}`` for keys the codebase leaves out because no output
            depends on them.
    """
    state_dict: Dict[str, Tensor]
    source: 'GeneratorArchitecture'  # noqa: F821  (.architecture imports this module)
    zero_filled: Dict[str, str] = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)
    dropped: Dict[str, str] = field(default_factory=dict)


def _shape(tensor: Tensor) -> List[int]:
    return list(tensor.shape)


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
    from .architecture import GeneratorArchitecture
    generator_state, inner_encoder, dropped = prepare_generator_state(generator_state)
    if inner_encoder is not None:
        if encoder_state is not None:
            raise OfficialCheckpointError(
                'the generator file holds its style encoder already: give no --encoder')
        encoder_state = inner_encoder
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
        why = next((why for pattern, why in zero_filled_keys() if re.fullmatch(pattern, key)),
                   None)
        if why is not None:
            zero_filled[key] = why
            converted[key] = torch.zeros(tensor.shape, dtype=tensor.dtype)
    missing = [key for key in target if key not in converted and key not in mismatches]

    shapes = {k: tuple(v.shape) for k, v in generator_state.items()}
    source = GeneratorArchitecture.from_official_shapes(shapes)
    if mismatches or missing or (unused and not allow_unused):
        problems = _problems(mismatches, unused, missing)
        fixes = generator_fixes(shapes, generator)
        if missing and encoder_state is None and \
                any(k.startswith('style_encoder.') for k in missing):
            fixes.append('the config has a style encoder: give the published encoder '
                         '(*_net_E.pth) with --encoder too, or remove '
                         'model.generator.style_encoder')
        if encoder_state is not None:
            fixes += _encoder_fixes(encoder_state, getattr(generator, 'style_encoder', None))
        text = '\n  '.join(problems)
        text += ''.join(f'\n  likely fix: {fix}' for fix in fixes) if fixes else (
            '\n  no setting of the config explains this: is the source a generator of '
            f'{" or ".join(c.name for c in CODEBASES)}?')
        raise OfficialCheckpointError(text)
    if unused:
        print_log(f'left out {len(unused)} source keys without a counterpart in the config\'s '
                  f'model: {listing(unused, limit=len(unused))}', logger='current',
                  level=logging.WARNING)
    if dropped:
        print_log('left out, as no output depends on them: ' + '; '.join(
            f'{listing(keys)} ({why})' for why, keys in _by_reason(dropped).items()),
            logger='current', level=logging.INFO)
    state_dict = {key: converted[key] for key in target}
    return ConvertedGenerator(state_dict, source, zero_filled, unused, dropped)


def _problems(mismatches: Mapping[str, str], unused: Sequence[str],
              missing: Sequence[str]) -> List[str]:
    """The lines of a conversion error: the first shape mismatch, the unused source keys and
    the target keys the source lacks."""
    problems = []
    if mismatches:
        first, *others = mismatches.values()
        problems.append(f'shapes differ: {first}' + (
            f' (and {len(others)} more key{"s" if len(others) > 1 else ""})' if others else ''))
    if unused:
        problems.append(f'{len(unused)} source keys have no counterpart in the config\'s '
                        f'model: {listing(unused)}')
    if missing:
        problems.append(f'{len(missing)} keys of the config\'s model are not in the '
                        f'source: {listing(missing)}')
    return problems


def convert_discriminator_state_dict(state: Mapping[str, Tensor],
                                     discriminator: nn.Module) -> Dict[str, Tensor]:
    """Rename a published discriminator state dict into ``discriminator``'s keys (in its
    order), by the codebase whose file it is; every key on both sides must have its
    counterpart with the same shape.

    Raises:
        OfficialCheckpointError: naming the codebase whose discriminator ``discriminator`` is
            not, or the first shape mismatch, the unused and missing keys, and the fix.
    """
    codebase = discriminator_file_codebase(state)
    if codebase is None or codebase.discriminator_keys is None:
        raise OfficialCheckpointError(
            'no registered codebase converts this discriminator: expected keys such as '
            + ' or '.join(c.discriminator_signature for c in CODEBASES
                          if c.discriminator_signature))
    family = _family_fix(codebase.discriminator_type, discriminator, 'discriminator')
    if family:
        raise OfficialCheckpointError(f'likely fix: {family}')
    names = codebase.discriminator_keys(discriminator)
    target = discriminator.state_dict()
    converted, mismatches, unused = {}, {}, []
    for key, tensor in state.items():
        ours = names.get(key)
        if ours is None:
            unused.append(key)
        elif tuple(tensor.shape) != tuple(target[ours].shape):
            mismatches[ours] = f'{key}: source {_shape(tensor)}, config {_shape(target[ours])}'
        else:
            converted[ours] = tensor
    missing = [key for key in target if key not in converted and key not in mismatches]
    if mismatches or missing or unused:
        text = '\n  '.join(_problems(mismatches, unused, missing))
        fixes = codebase.discriminator_fixes(
            {k: tuple(v.shape) for k, v in state.items()}, discriminator) \
            if codebase.discriminator_fixes else []
        text += ''.join(f'\n  likely fix: {fix}' for fix in fixes) if fixes else (
            '\n  no setting of the config explains this: is the source a discriminator of '
            f'{codebase.name}?')
        raise OfficialCheckpointError(text)
    return {key: converted[key] for key in target}


def _by_reason(dropped: Mapping[str, str]) -> Dict[str, List[str]]:
    grouped: Dict[str, List[str]] = {}
    for key, why in dropped.items():
        grouped.setdefault(why, []).append(key)
    return grouped


def _describe_unknown(state: Mapping[str, Tensor], role: str) -> str:
    """Why ``state`` is not a published ``role`` ('generator', 'encoder' or 'discriminator')
    state dict."""
    keys = list(state)
    discriminator = discriminator_file_codebase(state)
    if discriminator is not None and role != 'discriminator':
        files = f' ({discriminator.files})' if discriminator.files else ''
        return f'it is a published {discriminator.name} discriminator: give it with ' \
               f'--discriminator, and a generator file as the source{files}'
    if any(k.startswith('discriminator_') for k in keys):
        return 'it is a published discriminator (*_net_D.pth); convert the generator ' \
               '(*_net_G.pth)' if role != 'discriminator' else \
               'it is a published SPADE-style multiscale discriminator (*_net_D.pth), which is ' \
               f'not converted (only the {published_names(role)} discriminators are)'
    if role == 'generator' and encoder_file_codebase(state) is not None:
        return 'it is a published style encoder (*_net_E.pth): give it as --encoder and ' \
               'the generator (*_net_G.pth) as the source'
    if role == 'encoder' and 'conv_img.weight' in state:
        return 'it is a generator (*_net_G.pth); the encoder is the *_net_E.pth beside it'
    if role == 'discriminator' and 'conv_img.weight' in state:
        return 'it is a generator: give it as the source, and the discriminator file beside ' \
               'it with --discriminator'
    if any(k.startswith(('generator.', 'generator_ema.')) for k in keys):
        return 'it is already a clade-mm checkpoint: give it to tools/test.py or ' \
               'tools/synthesize.py as it is'
    if role == 'generator':
        expected = 'fc.weight, head_0.conv_0.weight_orig, conv_img.weight'
    else:
        expected = ' or '.join(getattr(c, f'{role}_signature') for c in CODEBASES
                               if getattr(c, f'{role}_signature'))
    return f'expected keys such as {expected}; it has {listing(keys, 5) or "no keys"}'


def load_official_state_dict(path: str, role: str = 'generator') -> Dict[str, Tensor]:
    """Read a published ``*_net_G.pth`` (``role='generator'``; OASIS: ``*_G.pth`` or
    ``*_EMA.pth``), ``*_net_E.pth`` (``role='encoder'``) or discriminator (``role=
    'discriminator'``; OASIS's ``*_D.pth``) file as ``{key: tensor}`` on the CPU.

    A uniform ``module.`` prefix (a state dict saved from a DataParallel wrapper) is removed.
    Loading stays ``weights_only``.

    Raises:
        FileNotFoundError: naming the path, when it is not a file.
        OfficialCheckpointError: when the file is not a published ``role`` state dict.
    """
    kind = dict(generator='G', encoder='E', discriminator='D')[role]
    # OASIS saves <iter>_G.pth, <iter>_EMA.pth and <iter>_D.pth (no "net")
    name = f'latest_{kind}.pth' if role == 'discriminator' else f'latest_net_{kind}.pth'
    if osp.isdir(path):
        # INADE's downloads name the encoder *_net_IE.pth (its code loads *_net_E.pth)
        ends = (f'_{kind}.pth', ) + (('_net_IE.pth', ) if role == 'encoder' else ()) + (
            ('_EMA.pth', ) if role == 'generator' else ())
        found = sorted(n for n in os.listdir(path) if n.endswith(ends))
        hint = f'; it holds {", ".join(found)}' if found else ''
        raise FileNotFoundError(f'{path} is a folder: give the {role} file itself, e.g. '
                                f'{osp.join(path, name)}{hint}')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{role} checkpoint {path} not found: give the file the published code saved '
            f'(checkpoints/<name>/{name}, or the pretrained models linked from the '
            f'{", ".join(published_names(role).split("/"))} READMEs)')
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
            f'{path} holds {held}, not the state dict of a published {published_names(role)} '
            f'{role}')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    not_tensors = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if role == 'generator':
        found = 'conv_img.weight' in state
    elif role == 'encoder':
        found = encoder_file_codebase(state) is not None
    else:
        found = discriminator_file_codebase(state) is not None
    if not_tensors or not found:
        why = f'{listing(not_tensors, 3)} are not tensors' if not_tensors else \
            _describe_unknown(state, role)
        raise OfficialCheckpointError(
            f'{path} is not the state dict of a published {published_names(role)} {role}: '
            f'{why}')
    return dict(state)


def _build_discriminator(cfg) -> nn.Module:
    """The config's ``model.discriminator`` on the ``meta`` device (keys and shapes only)."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmagic')), \
            torch.device('meta'):
        from mmagic.registry import MODELS
        return MODELS.build(cfg.model.discriminator)


def _adapted(codebase: Optional[PublishedCodebase], role: str, state: Dict[str, Tensor], cfg,
             notes: List[str]) -> Dict[str, Tensor]:
    """``state`` as ``codebase``'s ``adapt_to_config`` makes it for ``cfg``; its notes added to
    ``notes`` (each once)."""
    if codebase is None or codebase.adapt_to_config is None:
        return state
    state, said = codebase.adapt_to_config(role, state, cfg)
    notes.extend(note for note in said if note not in notes)
    return state


def convert_official_checkpoint(src: str, dst: str, config: str, encoder: Optional[str] = None,
                                allow_unused: bool = False,
                                cfg_options: Optional[dict] = None,
                                discriminator: Optional[str] = None,
                                ema: Optional[str] = None) -> dict:
    """Convert a published generator file (SPADE, CLADE, INADE, SEAN, OASIS: every registered
    codebase) into a clade-mm checkpoint for ``config``, with its discriminator and the
    averaged (EMA) generator where the codebase publishes them (OASIS).

    ``dst`` gets ``{'meta': {...}, 'state_dict': {...}}`` with :class:`SemanticGAN` keys (see
    :func:`gan_state_dict`), written atomically: what ``tools/test.py``, ``tools/synthesize.py``,
    ``load_checkpoint`` and the Runner's ``load_from`` load. Without ``discriminator`` the
    discriminator is not converted; loading lists its keys as missing (mmengine loads
    non-strictly). Without ``ema`` a config with an EMA generator gets the generator's weights
    there too.

    Args:
        src: the published generator, ``*_net_G.pth`` (OASIS: ``<iter>_G.pth``, or
            ``<iter>_EMA.pth`` to take the averaged weights as the generator).
        dst: the checkpoint to write.
        config: the clade-mm config whose generator the weights are for.
        encoder: the published style encoder, ``*_net_E.pth``, for a config with a style
            encoder.
        allow_unused: see :func:`convert_official_state_dict`.
        cfg_options: overrides merged into the config.
        discriminator: the published discriminator (OASIS: ``<iter>_D.pth``), for the config's
            ``model.discriminator``.
        ema: the published averaged generator (OASIS: ``<iter>_EMA.pth``, what its test script
            generates with), for the config's EMA generator (``model.ema_config``).

    Returns:
        The checkpoint's ``meta``: the sources, the config, the source's
        :class:`GeneratorArchitecture` as a dict, the zero-filled keys, the unused source keys,
        what the codebase changed for the config (``adapted``).

    Raises:
        FileNotFoundError: a source file is missing.
        OfficialCheckpointError: a source is not a published network or does not fit the
            config (the message names the first mismatch and the likely fix).
    """
    sources = dict(generator=src, encoder=encoder, discriminator=discriminator, ema=ema)
    for path in sources.values():
        if path and osp.exists(path) and osp.exists(dst) and osp.samefile(path, dst):
            raise OfficialCheckpointError(f'the output {dst} is the source {path} itself: '
                                          'choose another path for the converted checkpoint')
    generator_state = load_official_state_dict(src, 'generator')
    encoder_state = load_official_state_dict(encoder, 'encoder') if encoder else None
    disc_state = load_official_state_dict(discriminator, 'discriminator') \
        if discriminator else None
    ema_state = load_official_state_dict(ema, 'generator') if ema else None
    from ..apis.config import load_config
    cfg = load_config(config, cfg_options)
    with_ema = cfg.model.get('ema_config') is not None
    if ema and not with_ema:
        raise OfficialCheckpointError(
            f'{ema}: the config {config} has no EMA generator (model.ema_config): give the EMA '
            'file as the source to generate with its weights, or a config with ema_config')
    if discriminator and not cfg.model.get('discriminator'):
        raise OfficialCheckpointError(
            f'{discriminator}: the config {config} has no model.discriminator to take it')
    generator = build_generator(cfg)
    def fitting(source, part, convert):
        try:
            return convert()
        except OfficialCheckpointError as err:
            raise OfficialCheckpointError(f'{source} does not fit the {part} of {config}:\n  '
                                          f'{err}') from None

    result = fitting(src, 'generator', lambda: convert_official_state_dict(
        generator_state, generator, encoder_state, allow_unused))
    ema_result = None if ema_state is None else fitting(
        f'{ema} (the EMA generator)', 'generator', lambda: convert_official_state_dict(
            ema_state, generator, encoder_state, allow_unused))
    disc_weights = None if disc_state is None else fitting(
        discriminator, 'discriminator',
        lambda: convert_discriminator_state_dict(disc_state, _build_discriminator(cfg)))
    notes: List[str] = []
    try:
        weights = _adapted(generator_file_codebase(generator_state), 'generator',
                           result.state_dict, cfg, notes)
        state_dict = gan_state_dict(weights, with_ema)
        if ema_result is not None:
            ema_weights = _adapted(generator_file_codebase(ema_state), 'generator',
                                   ema_result.state_dict, cfg, notes)
            state_dict.update({f'generator_ema.module.{k}': v for k, v in ema_weights.items()})
        if disc_weights is not None:
            disc_weights = _adapted(discriminator_file_codebase(disc_state), 'discriminator',
                                    disc_weights, cfg, notes)
            state_dict.update({f'discriminator.{k}': v for k, v in disc_weights.items()})
    except OfficialCheckpointError as err:
        raise OfficialCheckpointError(f'{config}: {err}') from None
    meta = dict(
        converted_from={role: osp.abspath(path) if path else None
                        for role, path in sources.items()},
        config=config, source_architecture=asdict(result.source),
        num_generator_keys=len(result.state_dict), with_ema=with_ema,
        ema_from='ema' if ema_result is not None else ('generator' if with_ema else None),
        num_discriminator_keys=len(disc_weights) if disc_weights is not None else 0,
        zero_filled=sorted(result.zero_filled), unused_source_keys=result.unused,
        dropped_source_keys=sorted(result.dropped), adapted=notes,
        clade_mm_version=__version__, mmengine_version=mmengine.__version__,
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()))
    buffer = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=state_dict), buffer)
    atomic_write(dst, buffer.getvalue())
    return meta
