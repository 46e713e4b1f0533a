"""The names and colours of a config's classes, wherever the config keeps them.

OpenMMLab configs give a dataset ``metainfo=dict(classes=..., palette=...)``; the shipped
dataset configs do, and name them once at the top (``class_names``, ``palette``). Colour-mask
datasets have their colours in ``LoadSemanticSample(palette=...)``. Tools that show classes to a
person (the painter) read them through :func:`class_metainfo`, so a new dataset needs no code.
"""
from typing import List

from mmengine.config import Config

from .transforms import load_palette


def _datasets(cfg: Config) -> List[dict]:
    """The dataset settings of the config's test dataloader, then of its training one."""
    return [(cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
            for split in ('test', 'train')]


def _first(values):
    return next((v for v in values if v is not None), None)


def dataset_palette(cfg: Config):
    """The class colours the config gives its dataset (``metainfo['palette']``, the config's
    ``palette``, or the colour-mask palette of ``LoadSemanticSample``) as an ``(N, 3)`` array,
    or ``None``."""
    datasets = _datasets(cfg)
    loaders = [t for d in datasets for t in d.get('pipeline', [])
               if t.get('type') == 'LoadSemanticSample']
    palette = _first([(d.get('metainfo') or {}).get('palette') for d in datasets]
                     + [cfg.get('palette')] + [t.get('palette') for t in loaders])
    return load_palette(palette)


def class_metainfo(cfg: Config, num_classes: int) -> List[dict]:
    """One entry per class id: ``dict(id, name, colour=[r, g, b], dont_care, unused)``.

    Names come from the datasets' ``metainfo['classes']``, else the config's ``class_names``,
    else ``'class <id>'``. Colours come from ``metainfo['palette']``, the config's ``palette``
    or the ``LoadSemanticSample`` palette, else they are the distinct hues of the training
    sample grids. ``dont_care`` marks the dataset's ``dont_care_class``, ``unused`` the config's
    ``unused_ids`` (ids that never occur in the data). A list of names or colours of another
    length than ``num_classes`` is an error that says so.
    """
    datasets = _datasets(cfg)
    metas = [d.get('metainfo') or {} for d in datasets]
    names = _first([m.get('classes') for m in metas] + [cfg.get('class_names')])
    colours = dataset_palette(cfg)
    if colours is None:
        from ..engine.hooks import label_palette  # the colours of the training sample grids
        colours = label_palette(num_classes)
    for what, values in (('class names', names), ('palette colours', colours)):
        if values is not None and len(values) != num_classes:
            raise ValueError(
                f"the config's dataset has {len(values)} {what} but the generator "
                f'{num_classes} classes: give one per class id 0..{num_classes - 1} '
                "(the don't-care class included) in the dataset's metainfo")
    if names is None:
        names = [f'class {i}' for i in range(num_classes)]
    dont_care = _first(d.get('dont_care_class') for d in datasets)
    unused = set(cfg.get('unused_ids') or ())
    return [dict(id=i, name=str(names[i]).strip(), colour=[int(c) for c in colours[i]],
                 dont_care=i == dont_care, unused=i in unused) for i in range(num_classes)]
