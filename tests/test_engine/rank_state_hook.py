"""A hook for the distributed-training test: each process saves what it trained."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from clade_mm.layers import ConditionalNorm


@HOOKS.register_module()
class SaveRankStateHook(Hook):
    """After training, write ``rank{R}.pth``: the model's weights and its norms' types."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        norm_types = sorted({type(m.param_free_norm).__name__ for m in model.modules()
                             if isinstance(m, ConditionalNorm)})
        torch.save(dict(state_dict=model.state_dict(), norm_types=norm_types),
                   osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
