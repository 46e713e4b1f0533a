"""What a checkpoint must hold for a config's generator, checked before a weight is copied.

mmengine loads leniently: a tensor of another shape is skipped with a warning and a missing key
keeps its random initial value, so a 6-class checkpoint "loads" into an 8-class config and the
model synthesises from a third of random weights. Here every tensor of the generator must be in
the checkpoint with its shape; otherwise the error names the first mismatch and what in the
config likely explains it, read from the shapes on both sides with the rules of the official
checkpoint converter. The discriminator and the optimizers are not checked: inference needs
neither.
"""
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

GENERATOR = 'generator.'
EMA = 'generator_ema.module.'


class GeneratorWeightsError(ValueError):
    """A checkpoint whose generator weights do not fit the config's generator."""


def listing(keys, limit: int = 8) -> str:
    """At most ``limit`` of ``keys``, and how many more there are."""
    shown = ', '.join(keys[:limit])
    return shown + (f' and {len(keys) - limit} more' if len(keys) > limit else '')


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


def normalised_ema_keys(state: Mapping[str, Tensor], prefix: str = '') -> Dict[str, Tensor]:
    """``state`` with EMA weights under ``generator_ema.module.`` (mmagic also saves and
    accepts them as ``generator_ema.<key>``)."""
    ema, steps = prefix + 'generator_ema.', prefix + 'generator_ema.steps'
    out = {}
    for key, value in state.items():
        if key.startswith(ema) and not key.startswith(prefix + EMA) and key != steps:
            key = prefix + EMA + key[len(ema):]
        out[key] = value
    return out


def likely_fixes(found: Mapping[str, Tuple[int, ...]], generator: nn.Module) -> List[str]:
    """Settings of ``model.generator`` that would make it take weights of shapes ``found``."""
    # The architecture reading of the published codebases' converters.
    from ..converters import official_generator_key
    from ..converters.base import generator_fixes
    shapes = {}
    for key, shape in found.items():
        official = official_generator_key(key)
        if official is not None:
            shapes[official] = shape
    fixes = []
    if shapes:
        # The converter's wording names the published file "the source": here, the checkpoint.
        fixes = [re.sub(r'\bsource\b', 'checkpoint', fix)
                 for fix in generator_fixes(shapes, generator)]
    has_encoder = any(k.startswith('style_encoder.') for k in found)
    if has_encoder != (getattr(generator, 'style_encoder', None) is not None):
        fixes.append(
            'the checkpoint has a style encoder: set model.generator.style_encoder (and '
            'z_channels) as it was trained' if has_encoder else
            'the config has a style encoder the checkpoint lacks: remove '
            'model.generator.style_encoder, or give a checkpoint trained with one')
    return fixes


def check_generator_weights(generator: nn.Module, state: Mapping[str, Tensor],
                            prefix: str = GENERATOR, source: str = 'the checkpoint') -> None:
    """Raise :class:`GeneratorWeightsError` unless ``state`` holds, under ``prefix``, exactly
    the keys of ``generator.state_dict()`` with their shapes.

    The message names the first differing tensor, how many more differ, and the likely fix.
    """
    expected = {k: tuple(v.shape) for k, v in generator.state_dict().items()}
    found = {k[len(prefix):]: tuple(v.shape) for k, v in state.items()
             if k.startswith(prefix) and isinstance(v, Tensor)}
    if not found:
        held = listing(sorted({k.split('.')[0] for k in state}), 5) or 'nothing'
        raise GeneratorWeightsError(
            f'{source} holds no generator weights ({prefix}*; it holds {held}). Give a '
            'checkpoint that clade-mm training wrote (work_dirs/<config>/iter_N.pth), or '
            'convert a published one with tools/convert_official_checkpoint.py.')
    wrong = [k for k in expected if k in found and found[k] != expected[k]]
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if not (wrong or missing or unexpected):
        return
    if wrong:
        key = wrong[0]
        first = (f'{prefix}{key} has shape {list(found[key])} in {source} but '
                 f'{list(expected[key])} in the config\'s generator')
    elif missing:
        first = f'{prefix}{missing[0]} of the config\'s generator is not in {source}'
    else:
        first = f'{prefix}{unexpected[0]} of {source} has no place in the config\'s generator'
    others = len(wrong) + len(missing) + len(unexpected) - 1
    text = first + (f' (and {others} more)' if others else '')
    fixes = likely_fixes(found, generator)
    text += ''.join(f'\n  likely cause: {fix}' for fix in fixes) if fixes else (
        '\n  no setting of the config explains it from the shapes: was the checkpoint made '
        'with this config?')
    raise GeneratorWeightsError(text)


def generator_state_dict(state: Mapping[str, Tensor], generator: nn.Module,
                         use_ema: bool = True,
                         source: str = 'the checkpoint') -> Tuple[Dict[str, Tensor], bool]:
    """The checked weights of ``generator`` in a :class:`SemanticGAN` checkpoint's
    ``state``: the EMA copy when there is one and ``use_ema``, else the trained generator.

    Returns:
        ``({generator key: tensor}, whether they are the EMA weights)``.
    """
    state = normalised_ema_keys(state)
    prefix = EMA if use_ema and any(k.startswith(EMA) for k in state) else GENERATOR
    check_generator_weights(generator, state, prefix, source)
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return weights, prefix == EMA


def check_gan_state_dict(model: nn.Module, state: Dict[str, Tensor], prefix: str = '',
                         source: str = 'the checkpoint') -> Optional[str]:
    """Check (and complete, in place) the state dict of a :class:`SemanticGAN` before it is
    loaded: the generator must fit; an EMA copy the checkpoint lacks is taken from the
    generator (as training starts it). Returns a note when it did that."""
    check_generator_weights(model.generator, state, prefix + GENERATOR, source)
    if not getattr(model, 'with_ema_gen', False):
        return None
    normalised = normalised_ema_keys(state, prefix)
    state.clear()
    state.update(normalised)
    if any(k.startswith(prefix + EMA) for k in state):
        check_generator_weights(model.generator_ema.module, state, prefix + EMA, source)
        return None
    generator = {k[len(prefix + GENERATOR):]: v for k, v in state.items()
                 if k.startswith(prefix + GENERATOR)}
    state.update({prefix + k: v for k, v in gan_state_dict(generator, with_ema=True).items()})
    return (f'{source} has no EMA generator: the EMA copy starts from its generator weights, '
            'as a new training run starts it')
