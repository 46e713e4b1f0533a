"""The weights of the published SEAN generator in ``sean_published/`` as a recipe, not a file.

Its ``latest_net_G.pth`` would hold 84.8 M values (339 MB: each of the 15 ACE norms with a style
branch has 19 ``Linear(512, 512)``), too big to commit. ``manifest.json`` lists the published
``netG.state_dict()`` keys in order with their shapes and dtypes, and every value is made again
from its key: a ``torch.Generator`` seeded with ``zlib.crc32(key)``, scaled by the key's kind
(README.md). ``published_state_dict(manifest)`` is the state dict that ``make_reference.py``
loaded (strict) into the published ``SPADEGenerator`` before it computed ``reference.npz``; it
needs torch only, not the published code. ``write_published_checkpoint(dir)`` saves it as the
published ``util.save_network`` does (``torch.save(state_dict, '<dir>/latest_net_G.pth')``).
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
CHECKPOINT_NAME = 'latest_net_G.pth'  # published name: '%s_net_%s.pth' % (which_epoch, 'G')
# Power iterations for the spectral-norm vectors, in float64 from a seeded start: far more
# than the top singular values' gaps need (make_reference.py checks sigma against an SVD).
POWER_ITERATIONS = 1000

Manifest = Union[str, os.PathLike, dict]


def load_manifest(path: Union[str, os.PathLike] = MANIFEST) -> dict:
    with open(path) as f:
        return json.load(f)


def key_generator(key: str) -> torch.Generator:
    """The CPU generator that makes the value of ``key``: seeded with its CRC-32."""
    return torch.Generator().manual_seed(zlib.crc32(key.encode('utf-8')))


def _randn(key: str, shape) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=key_generator(key), dtype=torch.float32)


def _rand(key: str, shape) -> torch.Tensor:
    return torch.rand(tuple(shape), generator=key_generator(key), dtype=torch.float32)


def _weight(key: str, shape) -> torch.Tensor:
    """Conv / linear weights: N(0, 1) / sqrt(fan_in), fan_in = prod(shape[1:]) (the
    published ConvTranspose2d's (in, out, k, k) included: an InstanceNorm follows it)."""
    return _randn(key, shape) / math.sqrt(math.prod(shape[1:]))


def spectral_vectors(prefix: str, orig_shape) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(weight_u, weight_v)`` of the spectral-norm conv ``prefix`` (``'up_0.conv_s.'``):
    ``POWER_ITERATIONS`` power iterations on its ``weight_orig`` flattened to (out, -1), in
    float64, from u ~ N(0, 1) seeded by the ``weight_u`` key, in torch's order (v from u, then
    u from v), so that ``u . (W v)`` is the top singular value of W."""
    w = _weight(prefix + 'weight_orig', orig_shape).double().flatten(1)
    u = F.normalize(torch.randn(w.shape[0], generator=key_generator(prefix + 'weight_u'),
                                dtype=torch.float64), dim=0, eps=1e-12)
    for _ in range(POWER_ITERATIONS):
        v = F.normalize(w.t() @ u, dim=0, eps=1e-12)
        u = F.normalize(w @ v, dim=0, eps=1e-12)
    return u.float(), v.float()


def value(key: str, shape, dtype: str, shapes: Dict[str, Tuple[int, ...]],
          cache: Optional[dict] = None) -> torch.Tensor:
    """The recipe for one key. ``shapes``: every key's shape (``weight_u``/``weight_v`` are
    made from their ``weight_orig``); ``cache`` keeps each conv's (u, v) for its other key."""
    shape = tuple(shape)
    if key.endswith('num_batches_tracked'):
        out = torch.zeros(shape, dtype=torch.int64)  # as the published net has it: never read
    elif key.endswith('running_mean'):
        out = 0.1 * _randn(key, shape)
    elif key.endswith('running_var'):
        out = _rand(key, shape) + 0.5  # U(0.5, 1.5)
    elif key.endswith(('blending_gamma', 'blending_beta')):
        out = _randn(key, shape)
    elif key.endswith('noise_var'):
        out = 0.5 * _randn(key, shape)
    elif key.endswith(('weight_u', 'weight_v')):
        prefix = key[:-len('weight_u')]
        cache = {} if cache is None else cache
        if prefix not in cache:
            cache[prefix] = spectral_vectors(prefix, shapes[prefix + 'weight_orig'])
        u, v = cache[prefix]
        out = u if key.endswith('weight_u') else v
    elif key.endswith('.bias'):
        out = 0.1 * _randn(key, shape)
    elif key.endswith(('.weight', '.weight_orig')) and len(shape) >= 2:
        out = _weight(key, shape)
    else:
        raise KeyError(f'no recipe for {key} {shape}')
    if tuple(out.shape) != shape:
        raise ValueError(f'{key}: recipe made {tuple(out.shape)}, manifest says {shape}')
    return out.to(getattr(torch, dtype))


def published_state_dict(manifest: Manifest = MANIFEST) -> 'OrderedDict[str, torch.Tensor]':
    """The published ``netG.state_dict()`` that ``reference.npz`` was computed with: the
    manifest's keys in its order (a ``manifest.json`` path or its parsed content)."""
    if not isinstance(manifest, dict):
        manifest = load_manifest(manifest)
    entries = manifest['entries']
    shapes = {e['key']: tuple(e['shape']) for e in entries}
    cache: dict = {}
    return OrderedDict((e['key'], value(e['key'], e['shape'], e['dtype'], shapes, cache))
                       for e in entries)


def write_published_checkpoint(directory: Union[str, os.PathLike],
                               manifest: Manifest = MANIFEST) -> str:
    """``<directory>/latest_net_G.pth`` as the published ``util.save_network`` writes it
    (``torch.save(net.cpu().state_dict(), path)``; without the ``_metadata`` versions that a
    module's ``state_dict()`` carries, which loading does not need). Returns its path."""
    path = osp.join(str(directory), CHECKPOINT_NAME)
    torch.save(published_state_dict(manifest), path)
    return path
