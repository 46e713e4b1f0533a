"""Mixed-precision training for the generator and the discriminator, on a GPU or the CPU."""
from typing import Optional, Union

import torch
from mmengine.device import get_device
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper``, which also trains on the CPU.

    On a GPU (or NPU/MLU/MUSA) it is ``AmpOptimWrapper``: the forward pass runs under autocast
    (float16 unless ``dtype`` says otherwise) and a dynamic loss scaler of this wrapper's own
    scales the loss, so G and D, each with its wrapper, keep separate scales. On the CPU, which
    ``AmpOptimWrapper`` refuses, it autocasts to bfloat16: bfloat16 has float32's exponent range,
    so gradients do not underflow and the loss scaler is a disabled pass-through.

    Args:
        loss_scale: as ``AmpOptimWrapper`` (``'dynamic'``, a float, or GradScaler kwargs);
            unused on the CPU.
        dtype: autocast dtype; on the CPU only ``'bfloat16'`` (the default there).
        **kwargs: as ``OptimWrapper`` (``optimizer``, ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None, **kwargs):
        if get_device() != 'cpu':
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ValueError(f'MixedPrecisionOptimWrapper: dtype={dtype!r} on the CPU; CPU '
                             "autocast supports only bfloat16 (use dtype='bfloat16' or leave it "
                             'unset; float16 needs a GPU).')
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)
        self.cast_dtype = torch.bfloat16
