"""SemanticFID with a stand-in TorchScript 'Inception' (the real weights are not here)."""
import numpy as np
import pytest
import torch
from scipy import linalg

from clade_mm.evaluation import SemanticFID
from tests.weights import write_fake_inception


@pytest.fixture
def inception(tmp_path):
    return write_fake_inception(tmp_path / 'inception.pt')


def samples(seed, count=24, shift=0.0):
    rng = np.random.default_rng(seed)
    return [dict(fake_img=torch.from_numpy(np.clip(rng.normal(128 + shift, 40, (3, 32, 32)),
                                                   0, 255)),
                 gt_img=torch.from_numpy(np.clip(rng.normal(128, 40, (3, 32, 32)), 0, 255)))
            for _ in range(count)]


def reference_fid(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_missing_inception_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='inception-2015-12-05.pt'):
        SemanticFID(str(tmp_path / 'none.pt'))


def test_fid_matches_the_formula_and_caches_real_statistics(inception, tmp_path):
    cache = str(tmp_path / 'real_stats.pkl')
    metric = SemanticFID(inception, real_stats_cache=cache)
    batch = samples(0, shift=60)
    metric.process(None, batch[:12])
    metric.process(None, batch[12:])
    result = metric.compute_metrics(metric.results)
    fake = metric._features([s['fake_img'] for s in batch])
    real = metric._features([s['gt_img'] for s in batch])
    assert result['fid'] == pytest.approx(reference_fid(fake, real), rel=1e-4)

    cached = SemanticFID(inception, real_stats_cache=cache)  # no real images needed now
    cached.process(None, [dict(fake_img=s['fake_img']) for s in batch])
    assert cached.compute_metrics(cached.results)['fid'] == pytest.approx(result['fid'],
                                                                          rel=1e-6)
    near = SemanticFID(inception)
    near.process(None, samples(1, shift=0))
    assert near.compute_metrics(near.results)['fid'] < result['fid']
