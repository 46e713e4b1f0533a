"""The current layout: how a label map reaches norms that are called as ``norm(x)``.

Conditional norms sit where ordinary norms sit, so the models that hold them (an mmcv
``ConvModule``, an mmseg ``ResNet``) call them as ``norm(x)``: there is no argument through
which a label map could reach them. :func:`semantic_layout` makes one layout current for the
duration of a ``with`` block, and every conditional norm inside reads it. The current layout is
a context variable: private to the thread or task that entered it.

Gradient checkpointing recomputes a forward pass during backward, usually after the ``with``
block has exited. :func:`install_layout_aware_recomputation` (run when ``clade_mm`` is
imported) wraps ``torch.utils.checkpoint.checkpoint`` so that the recomputation re-enters the
layout that was current in the original forward. Code calling it as
``torch.utils.checkpoint.checkpoint`` or ``cp.checkpoint`` (mmcv, mmseg, mmagic) gets the
wrapper; a function imported by name before ``clade_mm`` was imported does not.
"""
import contextvars
import functools
from contextlib import contextmanager
from typing import Optional

import torch.utils.checkpoint
from torch import Tensor

from .layout import LayoutError, SemanticLayout

_current = contextvars.ContextVar('clade_mm_semantic_layout', default=None)


@contextmanager
def semantic_layout(label_map, **inputs: Optional[Tensor]):
    """Make a semantic layout current for every conditional norm called inside the block.

    Works in unmodified models (the norms read it themselves), nests (the innermost wins and
    the outer one is back on exit), is private to the thread or task that entered it, and is
    carried into gradient-checkpointed recomputation.

    Args:
        label_map: a :class:`~clade_mm.layers.layout.SemanticLayout`, or the label map of one.
        **inputs: named inputs of a new layout (``instances=``, ``position=``...).

    Example::

        with clade_mm.semantic_layout(labels):     # labels: (N, H, W) int64
            image = generator(noise)

    Yields:
        The :class:`SemanticLayout`, whose per-resolution maps are shared by all norms.
    """
    if isinstance(label_map, SemanticLayout):
        if any(v is not None for v in inputs.values()):
            raise LayoutError(f'pass {", ".join(inputs)} when building the SemanticLayout, '
                              'not here')
        layout = label_map
    else:
        layout = SemanticLayout(label_map, **inputs)
    token = _current.set(layout)
    try:
        yield layout
    finally:
        _current.reset(token)


def current_layout() -> Optional[SemanticLayout]:
    """The innermost layout entered with :func:`semantic_layout` in this context, or None."""
    return _current.get()


def set_current_layout(layout: Optional[SemanticLayout]) -> contextvars.Token:
    """Make ``layout`` current until :func:`reset_current_layout` with the returned token; for
    code whose enter and exit are in different calls (a wrapped training step)."""
    return _current.set(layout)


def reset_current_layout(token: contextvars.Token) -> None:
    _current.reset(token)


@contextmanager
def restored_layout(layout: Optional[SemanticLayout]):
    """Re-enter ``layout`` (possibly None) exactly as it was; used by recomputation hooks."""
    token = _current.set(layout)
    try:
        yield
    finally:
        _current.reset(token)


_recomputation_installed = False


def install_layout_aware_recomputation() -> None:
    """Wrap ``torch.utils.checkpoint.checkpoint`` once (see the module docstring)."""
    global _recomputation_installed
    if _recomputation_installed:
        return
    original = torch.utils.checkpoint.checkpoint

    @functools.wraps(original)
    def checkpoint(function, *args, **kwargs):
        layout = current_layout()
        if layout is None:
            return original(function, *args, **kwargs)

        def run_in_layout(*inner_args, **inner_kwargs):
            with restored_layout(layout):
                return function(*inner_args, **inner_kwargs)

        return original(run_in_layout, *args, **kwargs)

    torch.utils.checkpoint.checkpoint = checkpoint
    _recomputation_installed = True
