"""Mean absolute difference between generated and real images, in grey levels."""
from typing import Optional, Sequence

import torch

from mmagic.evaluation.metrics.base_sample_wise_metric import BaseSampleWiseMetric
from mmagic.registry import METRICS


@METRICS.register_module()
class ImageL1(BaseSampleWiseMetric):
    """Mean absolute difference, in grey levels (0..255), between the generated image
    ``fake_key`` and the real one ``real_key`` of each test sample (both as the data
    preprocessor destructs them: the same channel order and range). Reported as ``L1/l1``.

    mmagic's own ``MAE`` reads the prediction from an ``output`` field that editors give and
    translation models (Pix2Pix, CycleGAN) do not; their IS and FID need Inception weights.
    This one runs in mmagic's evaluator on the samples such models return.
    """
    metric = 'l1'
    default_prefix = 'L1'

    def __init__(self, fake_key: str, real_key: str, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(gt_key=real_key, pred_key=fake_key, collect_device=collect_device,
                         prefix=prefix)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            fake = torch.as_tensor(sample[self.pred_key]).detach().float().cpu()
            real = torch.as_tensor(sample[self.gt_key]).detach().float().cpu()
            if fake.shape != real.shape:
                raise ValueError(f'{self.pred_key} has shape {tuple(fake.shape)} but '
                                 f'{self.gt_key} {tuple(real.shape)}: set fake_key and '
                                 'real_key to the generated and the real image of a sample')
            self.results.append({self.metric: float((fake - real).abs().mean())})
