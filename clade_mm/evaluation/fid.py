"""FID of generated against real images of the test set, with mmagic's Inception and formula."""
import os
import os.path as osp
import pickle
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmagic.evaluation.metrics import FrechetInceptionDistance
from mmagic.registry import METRICS

INCEPTION_FILE = 'inception-2015-12-05.pt'


@METRICS.register_module()
class SemanticFID(BaseMetric):
    """Fréchet Inception distance between the generated images (``fake_key``) and the real
    ones (``real_key``) of the samples the test loop produces, one per label map.

    Features and distance come from mmagic's ``FrechetInceptionDistance`` (the StyleGAN
    TorchScript Inception, whose weights must be a local file). The real images' statistics are
    written to ``real_stats_cache`` on first use and read from it afterwards.

    Args:
        inception_path: the TorchScript Inception (``inception-2015-12-05.pt``), a local file.
        real_stats_cache: a ``.pkl`` for the real mean and covariance, or ``None``.
    """
    default_prefix = 'FID'

    def __init__(self, inception_path: str, real_stats_cache: Optional[str] = None,
                 fake_key: str = 'fake_img', real_key: str = 'gt_img',
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not inception_path or not osp.isfile(inception_path):
            raise FileNotFoundError(
                f'Inception weights for FID not found at {inception_path!r}: get the StyleGAN '
                f'TorchScript Inception ({INCEPTION_FILE}, as used by StyleGAN2-ADA and mmagic) '
                'on a machine with network access, put it there (or set inception_path in the '
                'config), or drop SemanticFID from test_evaluator.')
        self.fid = FrechetInceptionDistance(fake_nums=1, inception_style='StyleGAN',
                                            inception_path=inception_path)
        self.real_stats_cache = real_stats_cache
        self.fake_key, self.real_key = fake_key, real_key
        self.cached_real = None
        if real_stats_cache and osp.isfile(real_stats_cache):
            with open(real_stats_cache, 'rb') as f:
                self.cached_real = pickle.load(f)

    @torch.no_grad()
    def _features(self, images: Sequence) -> np.ndarray:
        batch = torch.stack([torch.as_tensor(img).float() for img in images])  # BGR 0..255
        return self.fid.forward_inception(batch).cpu().numpy().astype(np.float64)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        fake = self._features([s[self.fake_key] for s in data_samples])
        real = None if self.cached_real is not None else self._features(
            [s[self.real_key] for s in data_samples])
        self.results.append((fake, real))

    @staticmethod
    def statistics(features: np.ndarray) -> Dict[str, np.ndarray]:
        return dict(mean=features.mean(0), cov=np.cov(features, rowvar=False))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        fake = self.statistics(np.concatenate([f for f, _ in results]))
        if self.cached_real is not None:
            real = self.cached_real
        else:
            real = self.statistics(np.concatenate([r for _, r in results]))
            if self.real_stats_cache:
                os.makedirs(osp.dirname(osp.abspath(self.real_stats_cache)), exist_ok=True)
                with open(self.real_stats_cache, 'wb') as f:
                    pickle.dump(real, f)
        fid, mean_term, cov_term = FrechetInceptionDistance._calc_fid(
            fake['mean'], fake['cov'], real['mean'], real['cov'])
        return dict(fid=fid, mean=mean_term, cov=cov_term)
