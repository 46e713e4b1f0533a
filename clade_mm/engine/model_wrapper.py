"""The data-parallel wrapper of the semantic GAN (``model_wrapper_cfg`` in the runtime config)."""
from collections import OrderedDict

from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.model import MMSeparateDistributedDataParallel, is_model_wrapper
from mmengine.registry import MODEL_WRAPPERS
from torch import nn

from .. import layers


@MODEL_WRAPPERS.register_module()
class SemanticGANDataParallel(MMSeparateDistributedDataParallel):
    """mmengine's separate DDP for GANs, with synchronised conditional norms, on any device.

    As ``MMSeparateDistributedDataParallel`` (which mmagic's GAN configs use), the generator
    and the discriminator are wrapped in DDPs of their own, because each step updates only one
    of them. Two additions:

    * ``sync_conditional_norms``: the parameter-free BatchNorm of every conditional norm
      layer is synchronised (:func:`~clade_mm.layers.sync_conditional_norms`), as the
      reference trains, so ``k`` processes with batch ``b`` normalise like one process with
      batch ``k * b``. The
      runner builds this wrapper only when it runs distributed; on one process the norms stay
      plain (and keep the fused CPU kernels).
    * CPU training (gloo): the runner hands every DDP ``device_ids=[LOCAL_RANK]``, which torch
      accepts only for GPU modules; on the CPU they are dropped.
    * Checkpoints keep one-process keys (``generator.fc.weight``, not
      ``generator.module.fc.weight``): the runner saves ``model.state_dict()``, which would
      carry each inner DDP's ``module.``; mmengine's loader unwraps DDPs when it loads, so
      without this a distributed run could neither resume nor be tested on one process.

    Args:
        module: the :class:`~clade_mm.models.SemanticGAN`.
        broadcast_buffers, find_unused_parameters: as in torch's DDP.
        sync_conditional_norms: convert the conditional norms' batch norms (default True).
        **kwargs: passed to each DDP.
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = False,
                 find_unused_parameters: bool = False, sync_conditional_norms: bool = True,
                 **kwargs):
        if sync_conditional_norms:
            converted = layers.sync_conditional_norms(module, get_device())
            print_log(f'{converted} conditional norms synchronise their batch statistics '
                      'across processes', logger='current')
        if get_device() == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module, broadcast_buffers=broadcast_buffers,
                         find_unused_parameters=find_unused_parameters, **kwargs)
        module.register_state_dict_post_hook(_without_wrapper_prefixes)


def _without_wrapper_prefixes(model: nn.Module, state_dict: dict, prefix: str,
                              local_metadata: dict) -> None:
    """Rename ``{prefix}{child}.module.*`` to ``{prefix}{child}.*`` for each wrapped child."""
    wrapped = tuple(f'{prefix}{name}.' for name, child in model.named_children()
                    if is_model_wrapper(child))
    renamed = OrderedDict()
    for key, value in state_dict.items():
        for outer in wrapped:
            if key.startswith(outer + 'module.'):
                key = outer + key[len(outer + 'module.'):]
                break
        renamed[key] = value
    state_dict.clear()
    state_dict.update(renamed)
