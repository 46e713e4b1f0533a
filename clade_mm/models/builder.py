"""A config's generator alone: for inference, conversion and checks, without the losses (and
the weight files they read) that building the whole training model needs."""
from typing import Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope


def build_generator(cfg: Config, device: Union[str, torch.device] = 'meta') -> nn.Module:
    """The ``model.generator`` of a config, built in its default scope (the caller's default
    scope is left alone); on the ``meta`` device by default: keys and shapes, no memory."""
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmagic')), \
            torch.device(device):
        from mmagic.registry import MODELS
        return MODELS.build(cfg.model.generator)
