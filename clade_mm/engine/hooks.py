"""Hooks: sample grids written through mmengine's visualizer while training."""
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmagic.registry import HOOKS


def label_palette(num_classes: int) -> np.ndarray:
    """A fixed, distinct RGB colour per class (golden-ratio hues), ``(num_classes, 3)`` uint8."""
    import colorsys
    hues = (np.arange(num_classes) * 0.618033988749895) % 1.0
    return np.array([[int(255 * c) for c in colorsys.hsv_to_rgb(h, 0.65, 0.95)] for h in hues],
                    dtype=np.uint8)


def sample_grid(labels: np.ndarray, reals: np.ndarray, fakes: np.ndarray,
                palette: np.ndarray) -> np.ndarray:
    """Rows of ``label | real | generated``: ``labels`` (N, H, W), images (N, H, W, 3) RGB uint8."""
    rows = [np.concatenate([palette[lab % len(palette)], real, fake], axis=1)
            for lab, real, fake in zip(labels, reals, fakes)]
    return np.concatenate(rows, axis=0)


@HOOKS.register_module()
class SampleGridHook(Hook):
    """Every ``interval`` iterations and at the end, synthesise a fixed batch of training label
    maps and add a ``label | real | generated`` grid to the runner's visualizer (PNG files
    under ``work_dir/<timestamp>/vis_data/vis_image`` with the local backend).

    Args:
        interval: iterations between grids.
        num_samples: rows of the grid (taken from the first training batches).
        palette: ``(N_c, 3)`` RGB colours for the label column; default: distinct hues.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 1000, num_samples: int = 8,
                 palette: Optional[list] = None):
        self.interval = interval
        self.num_samples = num_samples
        self.palette = None if palette is None else np.asarray(palette, dtype=np.uint8)
        self._batch = None

    def before_train(self, runner) -> None:
        # Straight from the dataset: the training iterator (and its workers) stay untouched.
        dataset = runner.train_dataloader.dataset
        count = min(self.num_samples, len(dataset))
        self._batch = pseudo_collate([dataset[i] for i in range(count)])

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._write(runner)

    def after_train(self, runner) -> None:
        self._write(runner)

    @torch.no_grad()
    def _write(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        was_training = model.training
        model.eval()
        try:
            results = model.test_step(dict(self._batch))
        finally:
            model.train(was_training)
        labels = np.stack([r.label_map.squeeze(0).cpu().numpy().astype(np.int64) for r in results])
        to_rgb = lambda t: t.cpu().numpy().transpose(1, 2, 0)[..., ::-1].clip(0, 255).astype(  # noqa
            np.uint8)
        palette = self.palette if self.palette is not None else label_palette(
            model.generator.num_classes)
        grid = sample_grid(labels, np.stack([to_rgb(r.gt_img) for r in results]),
                           np.stack([to_rgb(r.fake_img) for r in results]), palette)
        runner.visualizer.add_image('samples', grid, step=runner.iter)


@HOOKS.register_module()
class InterruptedWriteCleanupHook(Hook):
    """Remove, when a run starts, the temporary files of checkpoint writes that a killed run
    left in the work directory (a hidden ``.iter_N.pth.XXXXXXXX.clade-mm-partial`` up to a
    checkpoint's size), and no other file."""
    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        if not is_main_process():
            return
        from .checkpoint_integrity import remove_interrupted_writes
        for path, size in remove_interrupted_writes(runner.work_dir):
            print_log(f'removed {path} ({size / 2**20:.1f} MB), left by an interrupted '
                      'checkpoint write', logger='current')
