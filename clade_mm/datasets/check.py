"""Scan a whole dataset with the checks the pipeline runs lazily, and report."""
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.utils import ProgressBar

from mmagic.registry import DATASETS, TRANSFORMS

from .validation import DatasetError


@dataclass
class DatasetReport:
    num_classes: int
    dont_care_class: Optional[int]
    pairs: int = 0
    unpaired: List[str] = field(default_factory=list)
    problems: Dict[str, List[str]] = field(default_factory=lambda: defaultdict(list))
    pixels: Optional[np.ndarray] = None  # per-class pixel counts of the readable samples
    instance_maps: Counter = field(default_factory=Counter)  # how they are stored: count
    palette_indexed: int = 0  # label maps stored as palette PNGs, read by their indices
    palette_colours: set = field(default_factory=set)  # the colours those indices show
    class_palette: bool = False  # whether the config gives class colours to check them with

    @property
    def ok(self) -> bool:
        return not self.unpaired and not any(self.problems.values())

    def format(self) -> str:
        seen = [] if self.pixels is None else np.flatnonzero(self.pixels).tolist()
        lines = [f'pairs found        {self.pairs}']
        lines += self._listed('missing partners', [f'{stem}: no partner file (image, label '
                                                   'or instance map)' for stem in self.unpaired])
        titles = dict(unreadable='unreadable files', too_large='too large',
                      size='size mismatches', ids='ids out of range', format='wrong formats',
                      crop='too small to crop')
        for kind, title in titles.items():
            lines += self._listed(title, self.problems.get(kind, []))
        lines.append(f'label ids seen     {len(seen)} of num_classes={self.num_classes}'
                     + (f' (ids {seen[0]}..{seen[-1]})' if seen else ''))
        if self.dont_care_class is not None and self.pixels is not None:
            share = self.pixels[self.dont_care_class] / max(self.pixels.sum(), 1)
            lines.append(f"don't-care pixels  {int(self.pixels[self.dont_care_class])} "
                         f'({share:.1%}, class {self.dont_care_class})')
        if self.palette_indexed:
            checked = ('each agrees with metainfo.palette' if self.class_palette else
                       'read as ids by their indices, their colours unchecked: give the '
                       "dataset's metainfo.palette to check them, or save ids as greyscale")
            lines.append(f'palette-indexed    {self.palette_indexed} label maps '
                         f'({len(self.palette_colours)} distinct palette colours; {checked})')
        if self.instance_maps:
            kinds = ', '.join(f'{n} {kind}' for kind, n in sorted(self.instance_maps.items()))
            lines.append(f'instance maps      {sum(self.instance_maps.values())} ({kinds})')
        lines.append('OK' if self.ok else 'ERRORS: fix the files above before training')
        return '\n'.join(lines)

    @staticmethod
    def _listed(title: str, messages: List[str], most: int = 20) -> List[str]:
        lines = [f'{title:<18} {len(messages)}'] + [f'    {m}' for m in messages[:most]]
        if len(messages) > most:
            lines.append(f'    ... and {len(messages) - most} more')
        return lines


def defined_splits(cfg, splits: Sequence[str]) -> Dict[str, str]:
    """The splits of ``cfg`` that name a dataset with a ``LoadSemanticSample`` pipeline, each
    mapped to the first split with the same dataset settings (itself, or e.g. ``'test'`` for
    a ``val`` split that reuses the test dataset)."""
    found: Dict[str, str] = {}
    for split in splits:
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
        if not dataset.get('type') or not any(
                t.get('type') == 'LoadSemanticSample' for t in dataset.get('pipeline', [])):
            continue
        found[split] = next((s for s in found
                             if cfg[f'{s}_dataloader']['dataset'] == dataset), split)
    return found


def scan_dataset(dataset_cfg: dict, progress: bool = True) -> DatasetReport:
    """Pair the files of ``dataset_cfg`` and run its ``LoadSemanticSample`` on every sample."""
    cfg = dict(dataset_cfg)
    pipeline = cfg.pop('pipeline', [])
    loader_cfg = next((t for t in pipeline if t.get('type') == 'LoadSemanticSample'), None)
    if loader_cfg is None:
        raise ValueError('the dataset pipeline has no LoadSemanticSample: nothing to check with')
    cfg['lazy_init'] = True
    dataset = DATASETS.build(cfg)
    loader = TRANSFORMS.build(loader_cfg)
    samples, unpaired = dataset.pair_files()
    report = DatasetReport(loader.num_classes, getattr(dataset, 'dont_care_class', None),
                           pairs=len(samples), unpaired=unpaired,
                           class_palette=dataset.metainfo.get('palette') is not None)
    counts = Counter()
    bar = ProgressBar(len(samples)) if progress and samples else None
    for sample in samples:
        try:
            results = loader.transform(dataset.pipeline_input(sample))
        except DatasetError as err:
            report.problems[err.kind].append(str(err))
        else:
            ids, n = np.unique(results['label'], return_counts=True)
            counts.update(dict(zip(ids.tolist(), n.tolist())))
            if results['label_storage'] == 'palette-indexed':
                report.palette_indexed += 1
                report.palette_colours.update(map(tuple, results['label_palette_colours']))
            if 'instance_storage' in results:
                report.instance_maps[results['instance_storage']] += 1
        if bar:
            bar.update()
    if bar:
        print()
    report.pixels = np.zeros(max([loader.num_classes] + [k + 1 for k in counts]), np.int64)
    for cls, n in counts.items():
        report.pixels[cls] = n
    return report


def plot_histogram(report: DatasetReport, path: str, title: str) -> None:
    """Per-class pixel counts as a bar chart (log scale)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, len(report.pixels) / 12), 3.5))
    colours = ['tab:grey' if i == report.dont_care_class else 'tab:blue'
               for i in range(len(report.pixels))]
    ax.bar(range(len(report.pixels)), np.maximum(report.pixels, 0), color=colours, width=0.9)
    ax.set_yscale('log')
    ax.set(title=title, xlabel='class id', ylabel='pixels')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
