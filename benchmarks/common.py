"""What the benchmarks share: label maps, timing, quiet logs, the models they compare, the
published code, and the line that says which CPU a figure is from.

* Label maps: :func:`blocky_labels` (square regions of many classes, like a scene parsing map),
  :func:`scene` (such a map with the class count of one photo, and its instance map),
  :func:`stroke_maps` (a painter's strokes, one after the other), and :func:`required_inputs`,
  a valid value of every layout input a model cannot do without, the scene's where it has one
  (what a model can do without, it computes or draws itself, as in inference).
* Timing: :func:`interleaved_medians`, warm-up calls, then the calls in turn, so that machine
  noise hits all of them alike, and the median of each.
* :func:`quiet_logs`: mmengine's INFO messages (initialisation reports, the inference choice)
  kept out of the tables.
* Models: :func:`compared_norms`, plain BatchNorm (:data:`BASELINE`) and every registered
  conditional norm family (``clade_mm.layers.norm_families()``: the benchmarks name none);
  :func:`build_norm` a layer of one; :func:`build_generator` and :func:`build_gan` from a
  config file or a norm's registered name (then the family's :data:`SETTING` config, or for a
  norm without one the training configs' GAN with that norm).
* The published code from checkouts: :data:`PUBLISHED_CODEBASES`, one module each
  (:mod:`published_clade`, :mod:`published_inade`, :mod:`published_sean`,
  :mod:`published_oasis`), all with the same calls.
* :func:`cpu_line`: the CPU capability (``clade_mm.ops.cpu.cpu_capability()``), printed beside
  every figure.

The benchmarks are scripts (``python benchmarks/bench_*.py``) and import this as ``common``.
"""
import contextlib
import functools
import glob
import logging
import os
import os.path as osp
import statistics
import time
from typing import Callable, Dict, Hashable, List, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from clade_mm.layers import norm_families
from clade_mm.layers.layout import sample_inputs
from clade_mm.ops.cpu import cpu_capability
import published_clade
import published_inade
import published_oasis
import published_sean
from published_clade import published_generators, published_inputs  # noqa: F401

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
# The plain norm every family is measured against, by its mmcv name (nn.BatchNorm2d, affine).
BASELINE = 'BN'
# The training's GAN and optimizers; a norm's name replaces the GAN's norm_cfg.
MODEL_CONFIG = osp.join(ROOT, 'configs', '_base_', 'models', 'semantic_gan.py')
SCHEDULE_CONFIG = osp.join(ROOT, 'configs', '_base_', 'schedules', 'two_time_scale_adam.py')
# The dataset whose configs give each family's generator (``configs/*/<family>_ade20k.py``,
# found by the norm they hold): 151 classes at 256x256, the benchmarks' setting.
SETTING = 'ade20k'
# The published codebases the benchmarks can run from checkouts, each a module with
# ``OPTION`` (its command-line option), ``REPOSITORY``, ``published_generators(path,
# num_classes, size, ngf)`` -> ``{family: generator}`` and ``published_inputs(generator,
# labels, given)`` -> its keyword arguments (``given``: the layout's other inputs, by name).
PUBLISHED_CODEBASES = (published_clade, published_inade, published_sean, published_oasis)


def cpu_line() -> str:
    """``CPU: ...``: what decides the fast paths (kernel set, bfloat16 instructions, threads),
    and how busy the machine was."""
    return (f'CPU: {cpu_capability()}; {os.cpu_count()} cores, load average '
            f'{os.getloadavg()[0]:.2f}; torch {torch.__version__}')


# --- label maps ----------------------------------------------------------------------------
def blocky_labels(num_classes: int, height: int, width: Optional[int] = None, seed: int = 0,
                  block: int = 16) -> torch.Tensor:
    """A ``(1, H, W)`` int64 label map of ``block``-pixel squares of random classes."""
    width = height if width is None else width
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, num_classes, (1, height // block, width // block), generator=g)
    return coarse.repeat_interleave(block, 1).repeat_interleave(block, 2)


def scene(num_classes: int, height: int, width: Optional[int] = None, seed: int = 0,
          grid: int = 16, classes_present: int = 20, split_classes: int = 4,
          pieces: int = 3) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """A label map laid out as :func:`blocky_labels` lays it out (``grid`` x ``grid`` squares:
    16-pixel ones at 256x256) but of ``classes_present`` classes (of ``num_classes``; an ADE20k
    photo has about 10-20), and its instance map: one instance per class present, as ADE20k's
    instances are made (renumbered ``0..K-1``), except for ``split_classes`` classes whose
    squares belong to ``pieces`` objects each (several people, several cars). The layout is
    the same at every size; the defaults give 20 classes and 28 instances.

    Returns ``(labels, inputs)``: ``(1, H, W)`` int64 class ids and ``{'instances': (1, H, W)
    int64 ids}``, the layout inputs a scene gives (:func:`required_inputs` hands them to
    whoever declares them)."""
    width = height if width is None else width
    g = torch.Generator().manual_seed(seed)
    palette = torch.randperm(num_classes, generator=g)[:min(classes_present, num_classes)]
    coarse = palette[torch.randint(0, len(palette), (1, grid, grid), generator=g)]
    present, instances = torch.unique(coarse, return_inverse=True)
    split = present[torch.randperm(len(present), generator=g)[:split_classes]]
    next_id = len(present)
    for cls in split.tolist():  # piece 0 keeps the class's instance id, the others get new ids
        where = coarse == cls
        piece = torch.randint(0, pieces, (int(where.sum()), ), generator=g)
        ids = instances[where]
        for k in range(1, pieces):
            ids[piece == k] = next_id
            next_id += 1
        instances[where] = ids
    _, instances = torch.unique(instances, return_inverse=True)  # 0..K-1 (a piece may be empty)

    def full(ids):
        return torch.nn.functional.interpolate(ids[:, None].float(), size=(height, width),
                                               mode='nearest')[:, 0].long()

    return full(coarse), {'instances': full(instances)}


def stroke_maps(height: int, width: int, num_classes: int, count: int, seed: int = 0):
    """``count`` ``(H, W)`` id maps, each the one before plus a brush polyline of a random
    class (the first stroke on a map of two halves, classes 0 and 1), and each stroke as
    ``(class, (3, 2) x-y points, brush diameter)``."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((height, width), np.uint8 if num_classes <= 256 else np.uint16)
    ids[height // 2:] = 1 % num_classes
    radius = max(2, min(height, width) // 20)
    ys, xs = np.mgrid[0:height, 0:width]
    maps, paths = [], []
    for _ in range(count):
        points = rng.uniform([0, 0], [width, height], (3, 2))
        cls = int(rng.integers(0, num_classes))
        for (xa, ya), (xb, yb) in zip(points[:-1], points[1:]):
            for t in np.linspace(0, 1, 24):
                x, y = xa + (xb - xa) * t, ya + (yb - ya) * t
                ids[(xs + 0.5 - x) ** 2 + (ys + 0.5 - y) ** 2 <= radius ** 2] = cls
        maps.append(ids.copy())
        paths.append((cls, points, 2 * radius))
    return maps, paths


def required_inputs(reader: nn.Module, labels: torch.Tensor, seed: int = 0,
                    given: Optional[Mapping[str, torch.Tensor]] = None
                    ) -> Dict[str, torch.Tensor]:
    """A value of every layout input ``reader`` (a generator or a norm) declares without a
    default, for ``labels``: ``given``'s by name (a :func:`scene`'s instance map), else a valid
    one drawn as the declaration samples it; inputs with a default are left to ``reader``, which
    computes or draws them inside the measured call, as inference does."""
    if not hasattr(reader, 'layout_inputs'):  # the plain BatchNorm baseline
        return {}
    given = given or {}
    inputs = sample_inputs(reader, labels, torch.Generator().manual_seed(seed),
                           lambda spec: spec.default is None and spec.name not in given)
    inputs.update({spec.name: given[spec.name] for spec in reader.layout_inputs()
                   if spec.default is None and spec.name in given})
    return inputs


# --- timing --------------------------------------------------------------------------------
def interleaved_medians(calls: Mapping[Hashable, Callable[[], object]], repeats: int,
                        warmup: int = 1, warm_every_time: bool = False) -> Dict[Hashable, float]:
    """Median seconds of each of ``calls`` (``{key: fn}``), timed ``repeats`` times in turn.

    ``warmup`` untimed calls of each come first or, with ``warm_every_time``, before every
    timed call (for calls that change state between repeats: a layer switched between eval and
    training mode)."""
    times = {key: [] for key in calls}
    for fn in calls.values():
        for _ in range(0 if warm_every_time else warmup):
            fn()
    for _ in range(repeats):
        for key, fn in calls.items():
            for _ in range(warmup if warm_every_time else 0):
                fn()
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(t) for key, t in times.items()}


@contextlib.contextmanager
def quiet_logs(level: int = logging.INFO):
    """Messages of ``level`` and below (mmengine's initialisation reports, the inference
    choice) are dropped inside the block, from every logger, including ones made inside."""
    previous = logging.root.manager.disable
    logging.disable(level)
    try:
        yield
    finally:
        logging.disable(previous)


# --- models --------------------------------------------------------------------------------
def compared_norms() -> List[str]:
    """:data:`BASELINE`, then every registered conditional norm family, by registered name,
    then the models of :func:`setting_configs` that are no family's (CLADE-OASIS: CLADE's norm
    in OASIS's generator), by name."""
    families = list(norm_families())
    return [BASELINE, *families, *(name for name in setting_configs() if name not in families)]


def pairs(names: List[str]) -> List[Tuple[str, str]]:
    """``(later, earlier)`` for every two of ``names``: what the ratios compare."""
    return [(later, earlier) for i, later in enumerate(names) for earlier in names[:i]]


def build_norm(name: str, num_features: int, num_classes: int) -> nn.Module:
    """A norm layer by registered name, from mmengine's root registry (the baseline's is
    mmcv's); a conditional family gets ``num_classes``."""
    import mmcv.cnn  # noqa: F401  (registers mmcv's norms, the baseline's among them)
    cfg = dict(type=name, num_features=num_features)
    if name in norm_families():
        cfg['num_classes'] = num_classes
    return MODELS.build(cfg)


@functools.lru_cache(maxsize=None)
def setting_configs() -> Dict[str, str]:
    """``{name: config file}`` of the :data:`SETTING` configs (``configs/*/*_<SETTING>.py``):
    a family's by the registered norm its generator holds; where several hold one norm, the
    file named after it (``clade_ade20k.py`` for CLADE) is the family's and each other is a
    model of its own, named by its file (``clade_oasis_ade20k.py``: ``'CLADE-OASIS'``)."""
    by_norm: Dict[str, List[str]] = {}
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '*', f'*_{SETTING}.py'))):
        norm = Config.fromfile(path).model.generator.norm_cfg.type
        by_norm.setdefault(norm, []).append(path)
    found = {}
    for norm, paths in by_norm.items():
        own = f'{norm.lower().replace("-", "_")}_{SETTING}.py'
        if len(paths) > 1 and not any(osp.basename(p) == own for p in paths):
            raise SystemExit(f'{len(paths)} {SETTING} configs with {norm} generators '
                             f'({", ".join(paths)}) and none named {own}: the benchmarks '
                             'need to know which is the family\'s')
        for path in paths:
            stem = osp.basename(path)[:-len(f'_{SETTING}.py')]
            name = norm if len(paths) == 1 or osp.basename(path) == own else \
                stem.upper().replace('_', '-')
            found[name] = path
    return found


def model_config(model: str, num_classes: Optional[int] = None, base_channels: int = 64,
                 size: Optional[int] = None) -> Config:
    """The config of ``model``: a config file as it is; or a norm's registered name, then the
    family's :data:`SETTING` config (:func:`setting_configs`: its generator as trained, a code
    ``z`` and a style encoder included) or, for a norm without one (the plain baseline), the
    training configs' GAN and optimizers (:data:`MODEL_CONFIG`, :data:`SCHEDULE_CONFIG`) with
    that norm; either with ``num_classes`` classes, ``base_channels`` (ngf), ``size`` x
    ``size`` images where the generator is built for one size (``out_size``) and no VGG loss
    (its weights are a local file)."""
    if model.endswith('.py'):
        return Config.fromfile(model)
    if model in setting_configs():
        cfg = Config.fromfile(setting_configs()[model])
        generator = cfg.model.generator
    else:
        cfg = Config.fromfile(MODEL_CONFIG)
        cfg.optim_wrapper = Config.fromfile(SCHEDULE_CONFIG).optim_wrapper
        generator = cfg.model.generator
        generator.norm_cfg = dict(type=model)
    if num_classes is not None or generator.get('num_classes') is None:
        generator.num_classes = cfg.model.discriminator.num_classes = num_classes
    generator.base_channels = base_channels
    if generator.get('out_size') is not None and size is not None:
        generator.out_size = (size, size)
    cfg.model.perceptual_loss = None
    return cfg


def build_generator(model: str, num_classes: Optional[int] = None, base_channels: int = 64,
                    size: Optional[int] = None) -> nn.Module:
    """The generator of :func:`model_config`, initialised, in eval mode, on the CPU."""
    import clade_mm.models
    generator = clade_mm.models.build_generator(
        model_config(model, num_classes, base_channels, size), 'cpu')
    generator.init_weights()
    return generator.eval()


def build_gan(model: str, num_classes: Optional[int] = None, base_channels: int = 64,
              size: Optional[int] = None):
    """The GAN of :func:`model_config`, initialised, and its optimizers (an
    ``OptimWrapperDict``), as training builds them."""
    import clade_mm.models  # noqa: F401  (registers the GAN's modules)
    from mmengine.optim import build_optim_wrapper
    cfg = model_config(model, num_classes, base_channels, size)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmagic')):
        from mmagic.registry import MODELS as MMAGIC_MODELS
        gan = MMAGIC_MODELS.build(cfg.model)
        gan.init_weights()
        return gan, build_optim_wrapper(gan, cfg.optim_wrapper)


def demo_model() -> Tuple[str, str]:
    """``(config, work dir)`` of the demo's model: the one ``tools/paint.py`` serves without
    arguments, which ``make demo`` trains (read from that tool, so that they agree)."""
    import importlib.util
    path = osp.join(ROOT, 'tools', 'paint.py')
    spec = importlib.util.spec_from_file_location('paint_tool', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.DEMO_CONFIG, tool.DEMO_WORK_DIR
