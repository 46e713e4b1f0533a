"""Condition the norms of any OpenMMLab model on the label map of each batch.

A model that clade-mm did not write (mmagic's Pix2Pix, an mmseg segmentor...) calls its
conditional norms without knowing of a layout. :func:`condition_on_batch_layout` patches one
model instance so that every ``train_step``, ``val_step``, ``test_step`` and ``forward`` runs
inside the layout of its own batch, taken after the data preprocessor (padding and resizing
apply to images and maps alike). The model keeps its class, its optimizer wrappers, its hooks
and its checkpoint keys: a checkpoint of the conditioned model loads into the plain one.

In a config, :class:`SemanticLayoutHook` does it when the Runner starts::

    model = dict(generator=dict(norm_cfg=dict(type='CLADE', num_classes=6)),
                 data_preprocessor=dict(non_image_keys=['label']))
    custom_hooks = [dict(type='SemanticLayoutHook', label_key='label')]
"""
import contextvars
import functools
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmagic.registry import HOOKS

from ..layers import (LayoutError, SemanticLayout, current_layout, reset_current_layout,
                      set_current_layout)

# Set inside a step: the preprocessor then makes its batch's layout current until the step ends.
_in_step = contextvars.ContextVar('clade_mm_in_layout_step', default=False)
STEPS = ('train_step', 'val_step', 'test_step')


def _batch_input(inputs, key: Optional[str], role: str) -> Optional[torch.Tensor]:
    if key is None:
        return None
    found = inputs.get(key) if isinstance(inputs, dict) else None
    if found is None:
        held = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise LayoutError(
            f"the batch has no {role} '{key}' among its inputs ({held}): add '{key}' to "
            f"PackInputs(keys=[...]) at the end of the pipeline, and to "
            f"model.data_preprocessor.non_image_keys so that it is stacked, not normalised")
    if isinstance(found, (list, tuple)):
        found = torch.stack(list(found))
    return found


def _maps(inputs, key: Optional[str], role: str) -> Optional[torch.Tensor]:
    found = _batch_input(inputs, key, role)
    if found is None:
        return None
    if found.is_floating_point():
        raise LayoutError(
            f"the {role} '{key}' reached the model as {found.dtype} values: the data "
            f"preprocessor normalised it as an image. Add '{key}' to "
            'model.data_preprocessor.non_image_keys.')
    return found.long()


def batch_layout(inputs, label_key: str = 'label', instance_key: Optional[str] = None,
                 layout_keys: Optional[Dict[str, str]] = None) -> SemanticLayout:
    """The layout of a preprocessed batch's ``inputs`` (a dict of tensors)."""
    named = {name: _batch_input(inputs, key, f'layout input {name}')
             for key, name in (layout_keys or {}).items()}
    return SemanticLayout(_maps(inputs, label_key, 'label map'),
                          instances=_maps(inputs, instance_key, 'instance map'), **named)


def condition_on_batch_layout(model: nn.Module, label_key: str = 'label',
                              instance_key: Optional[str] = None,
                              layout_keys: Optional[Dict[str, str]] = None) -> nn.Module:
    """Patch ``model`` (an mmengine ``BaseModel``, unwrapped) in place and return it.

    Args:
        label_key: the key of the ``(N, 1, H, W)`` (or ``(N, H, W)``) integer class-id maps
            in the preprocessed ``inputs``.
        instance_key: the key of the instance maps, for norms with instance edges.
        layout_keys: ``{batch key: layout input name}`` of any other input the norms read
            (e.g. ``dict(position='position')`` for published CLADE-ICPE maps), as the GAN
            model's ``layout_keys``.
    """
    if getattr(model, '_clade_mm_layout_keys', None) is not None:
        return model  # once is enough (a second Runner phase, test after train)
    model._clade_mm_layout_keys = (label_key, instance_key, layout_keys)
    preprocessor = model.data_preprocessor
    preprocess = preprocessor.forward

    @functools.wraps(preprocess)
    def preprocess_and_enter(*args, **kwargs):
        data = preprocess(*args, **kwargs)
        if _in_step.get():  # the enclosing step restores the previous layout when it ends
            set_current_layout(batch_layout(data['inputs'], label_key, instance_key,
                                            layout_keys))
        return data

    preprocessor.forward = preprocess_and_enter

    def in_batch_layout(step):
        @functools.wraps(step)
        def run(*args, **kwargs):
            layout_token = set_current_layout(current_layout())
            step_token = _in_step.set(True)
            try:
                return step(*args, **kwargs)
            finally:
                _in_step.reset(step_token)
                reset_current_layout(layout_token)
        return run

    for name in STEPS:
        setattr(model, name, in_batch_layout(getattr(model, name)))

    forward = model.forward

    @functools.wraps(forward)
    def forward_in_layout(inputs, *args, **kwargs):
        # Called with preprocessed inputs: their maps, else the step's layout.
        if isinstance(inputs, dict) and inputs.get(label_key) is not None:
            token = set_current_layout(
                batch_layout(inputs, label_key, instance_key, layout_keys))
            try:
                return forward(inputs, *args, **kwargs)
            finally:
                reset_current_layout(token)
        return forward(inputs, *args, **kwargs)

    model.forward = forward_in_layout
    return model


@HOOKS.register_module()
class SemanticLayoutHook(Hook):
    """Condition the model's conditional norms (any family set by ``norm_cfg``)
    on each batch's label map, for any model: see :func:`condition_on_batch_layout`.

    Args:
        label_key: key of the class-id maps in the preprocessed inputs (put it in the
            pipeline's ``PackInputs(keys=...)`` and the preprocessor's ``non_image_keys``).
        instance_key: key of the instance maps, if the norms use instance edges.
        layout_keys: ``{batch key: layout input name}`` of other inputs the norms read.
    """
    priority = 'VERY_HIGH'

    def __init__(self, label_key: str = 'label', instance_key: Optional[str] = None,
                 layout_keys: Optional[Dict[str, str]] = None):
        self.label_key, self.instance_key = label_key, instance_key
        self.layout_keys = layout_keys

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        condition_on_batch_layout(model, self.label_key, self.instance_key, self.layout_keys)
