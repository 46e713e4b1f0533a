"""The weights of the published OASIS networks in ``oasis_published/`` as a recipe, not files.

The published discriminator's widths are fixed (128, 128, 256, 256, 512, 512, whatever
``channels_D`` says), so its ``latest_D.pth`` holds 22.3 M values (89 MB) even beside a small
generator: too big to commit. ``manifest.json`` lists the published ``netG.state_dict()`` keys
(``generator``; the EMA generator has the same) and ``netD.state_dict()`` keys
(``discriminator``) in order with their shapes and dtypes, and every value is made again from
its file's tag and its key: a ``torch.Generator`` seeded with ``zlib.crc32('<tag>:<key>')``
(tags ``G``, ``EMA``, ``D``), scaled by the key's kind (README.md). ``published_state_dict(tag)``
is the state dict that ``make_reference.py`` loaded (strict) into the published network before
it computed ``reference.npz``; it needs torch only, not the published code.
``write_published_checkpoints(dir)`` saves the three files as the published
``utils.save_networks`` does (``torch.save(net.state_dict(), '<dir>/latest_<tag>.pth')``).
``noise_map()`` is the 3D noise map of ``reference.npz``'s ``image_map``, drawn again rather
than stored (128 KiB of incompressible values).
"""
import json
import math
import os
import os.path as osp
import zlib
from collections import OrderedDict
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F

HERE = osp.dirname(osp.abspath(__file__))
MANIFEST = osp.join(HERE, 'manifest.json')
TAGS = ('G', 'EMA', 'D')  # the published file name is latest_<tag>.pth
ROLES = dict(G='generator', EMA='generator', D='discriminator')  # manifest key of each tag
# Power iterations for the spectral-norm vectors, in float64 from a seeded start: a state as
# training leaves it (one iteration per step), u . (W v) close below the top singular value.
POWER_ITERATIONS = 50
# The 3D noise map given to the published generator for ``image_map``: its seed and shape
# (N, z_dim, H, W).
NOISE_MAP_SEED = 2
NOISE_MAP_SHAPE = (1, 8, 64, 64)

Manifest = Union[str, os.PathLike, dict]


def load_manifest(path: Union[str, os.PathLike] = MANIFEST) -> dict:
    with open(path) as f:
        return json.load(f)


def key_generator(tag: str, key: str) -> torch.Generator:
    """The CPU generator that makes the value of ``key`` in file ``tag``: seeded with the
    CRC-32 of ``'<tag>:<key>'``."""
    return torch.Generator().manual_seed(zlib.crc32(f'{tag}:{key}'.encode('utf-8')))


def _randn(tag: str, key: str, shape, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=key_generator(tag, key), dtype=dtype)


def _rand(tag: str, key: str, shape) -> torch.Tensor:
    return torch.rand(tuple(shape), generator=key_generator(tag, key), dtype=torch.float32)


def _weight(tag: str, key: str, shape) -> torch.Tensor:
    """Conv weights: N(0, 1) / sqrt(fan_in), fan_in = prod(shape[1:])."""
    return _randn(tag, key, shape) / math.sqrt(math.prod(shape[1:]))


def spectral_vectors(tag: str, prefix: str, orig_shape) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(weight_u, weight_v)`` of the spectral-norm conv ``prefix`` (``'body.0.conv_0.'``):
    ``POWER_ITERATIONS`` power iterations on its ``weight_orig`` flattened to (out, -1), in
    float64, from u ~ N(0, 1) seeded by the ``weight_u`` key, in torch's order (v from u, then
    u from v)."""
    w = _weight(tag, prefix + 'weight_orig', orig_shape).double().flatten(1)
    u = F.normalize(_randn(tag, prefix + 'weight_u', (w.shape[0], ), torch.float64), dim=0,
                    eps=1e-12)
    for _ in range(POWER_ITERATIONS):
        v = F.normalize(w.t() @ u, dim=0, eps=1e-12)
        u = F.normalize(w @ v, dim=0, eps=1e-12)
    return u.float(), v.float()


def value(tag: str, key: str, shape, dtype: str, shapes: Dict[str, Tuple[int, ...]],
          cache: Optional[dict] = None) -> torch.Tensor:
    """The recipe for one key of file ``tag``. ``shapes``: every key's shape of that network
    (``weight_u``/``weight_v`` are made from their ``weight_orig``); ``cache`` keeps each
    conv's (u, v) for its other key."""
    shape = tuple(shape)
    if key.endswith('num_batches_tracked'):  # never read (momentum 0.1): any count
        out = torch.randint(1, 100000, shape, generator=key_generator(tag, key))
    elif key.endswith('running_mean'):
        out = 0.2 * _randn(tag, key, shape)
    elif key.endswith('running_var'):
        out = _rand(tag, key, shape) + 0.5  # U(0.5, 1.5)
    elif key.endswith(('weight_u', 'weight_v')):
        prefix = key[:-len('weight_u')]
        cache = {} if cache is None else cache
        if prefix not in cache:
            cache[prefix] = spectral_vectors(tag, prefix, shapes[prefix + 'weight_orig'])
        u, v = cache[prefix]
        out = u if key.endswith('weight_u') else v
    elif key.endswith('.bias'):
        out = 0.1 * _randn(tag, key, shape)
    elif key.endswith(('.weight', '.weight_orig')) and len(shape) >= 2:
        out = _weight(tag, key, shape)
    else:
        raise KeyError(f'no recipe for {tag}:{key} {shape}')
    if tuple(out.shape) != shape:
        raise ValueError(f'{tag}:{key}: recipe made {tuple(out.shape)}, manifest says {shape}')
    return out.to(getattr(torch, dtype))


def published_state_dict(tag: str, manifest: Manifest = MANIFEST
                         ) -> 'OrderedDict[str, torch.Tensor]':
    """The published ``latest_<tag>.pth`` state dict that ``reference.npz`` was computed with
    (``tag`` one of :data:`TAGS`): the manifest's keys of its network in their order
    (``manifest`` a ``manifest.json`` path or its parsed content)."""
    if not isinstance(manifest, dict):
        manifest = load_manifest(manifest)
    entries = manifest[ROLES[tag]]
    shapes = {e['key']: tuple(e['shape']) for e in entries}
    cache: dict = {}
    return OrderedDict((e['key'], value(tag, e['key'], e['shape'], e['dtype'], shapes, cache))
                       for e in entries)


def write_published_checkpoints(directory: Union[str, os.PathLike],
                                manifest: Manifest = MANIFEST) -> Dict[str, str]:
    """``<directory>/latest_{G,EMA,D}.pth`` as the published ``utils.save_networks(...,
    latest=True)`` writes them (``torch.save(net.state_dict(), path)``; without the
    ``_metadata`` versions that a module's ``state_dict()`` carries, which loading does not
    need). Returns ``{tag: path}``."""
    if not isinstance(manifest, dict):
        manifest = load_manifest(manifest)
    paths = {}
    for tag in TAGS:
        paths[tag] = osp.join(str(directory), f'latest_{tag}.pth')
        torch.save(published_state_dict(tag, manifest), paths[tag])
    return paths


def noise_map() -> torch.Tensor:
    """The 3D noise map of ``image_map`` (``NOISE_MAP_SHAPE``, float32): N(0, 1) per pixel and
    channel from ``torch.Generator().manual_seed(NOISE_MAP_SEED)``. ``reference.npz`` keeps its
    sum of |value| (``z_map_abs_sum``) to check the draw."""
    return torch.randn(NOISE_MAP_SHAPE, generator=torch.Generator().manual_seed(NOISE_MAP_SEED))
