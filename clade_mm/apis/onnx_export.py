"""Export a :class:`~clade_mm.models.SemanticGenerator` to ONNX and check it with onnxruntime.

The graph is the generator in eval mode, label map in, image out, the norms' gathers included
(spectral norm folded into the convolutions' weights). Its inputs are ``labels``
``(batch, H, W)`` int64 class ids ``0..num_classes-1``, then every layout input the generator
reads (its ``layout_inputs()``, declared by the generator and by each norm family, with their
shapes: ``instances`` with instance edges, ``z`` with ``z_channels``, CLADE-ICPE's
``position``...) that is a graph input; :func:`graph_input_names` lists them for a generator.
One output, ``image`` ``(batch, 3, H, W)`` float32 in ``[-1, 1]`` (RGB). ``H, W`` are fixed
at export, ``batch`` is a dynamic axis unless a batch size is given.

What stays outside the graph, and why:

- Inputs a family computes with data-dependent loops (CLADE-ICPE's positional map, from the
  connected components of the label map) cannot live in a static graph: the caller computes
  them (the input's declaration says how) and feeds them by name.
- The style encoder: ``z`` is an input (a random code, or the encoder's mean for a style image
  computed in PyTorch).
- The class-id check: a graph cannot raise the generator's message. Negative ids are mapped past
  the last class in the graph, so that onnxruntime (CPU) refuses every id outside
  ``0..num_classes-1`` with ``indices element out of data bounds`` instead of reading ``-1`` as
  the last class the way ONNX's Gather and ScatterElements do; other runtimes need not check
  at all, so the caller validates ids.
"""
import importlib
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from ..layers.layout import LayoutInput, random_ids, sample_inputs

OUTPUT_NAME = 'image'
BATCH_AXIS = 'batch'


def require(module: str, purpose: str):
    """Import ``module`` or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f'{module} is needed to {purpose} but is not installed. Install the export '
            'requirements into the environment: pip install -r requirements/export.txt '
            '-c requirements/constraints.txt (tools/setup_env.sh does this).') from err


def graph_inputs(generator: nn.Module) -> Tuple[LayoutInput, ...]:
    """The layout inputs of ``generator`` that its graph takes, in order."""
    return tuple(spec for spec in generator.layout_inputs() if spec.graph_input)


def graph_input_names(generator: nn.Module) -> Tuple[str, ...]:
    """The inputs of ``generator``'s graph, in order: ``labels``, then :func:`graph_inputs`."""
    return ('labels', ) + tuple(spec.name for spec in graph_inputs(generator))


class GeneratorGraph(nn.Module):
    """The generator with the exported graph's inputs as positional arguments, in the order
    of :func:`graph_input_names`.

    Shapes:
        ``forward(labels: (N, H, W) int64, *inputs) -> (N, 3, H, W)``.
    """

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator
        self.names = graph_input_names(generator)[1:]

    def forward(self, labels: Tensor, *inputs: Tensor) -> Tensor:
        # ONNX's Gather and ScatterElements read a negative index from the end (-1 is the last
        # class) where PyTorch would refuse it; past the last class, onnxruntime refuses it too.
        labels = labels.masked_fill(labels < 0, self.generator.num_classes)
        return self.generator(labels, **dict(zip(self.names, inputs)))


def random_label_maps(batch_size: int, size: Tuple[int, int], num_ids: int,
                      rng: torch.Generator) -> Tensor:
    """``(N, H, W)`` int64 maps of random ids in ``0..num_ids-1``, made of square regions.

    The regions' side, drawn once per call from 1 to 16 pixels, ranges the maps from per-pixel
    noise to a few large components per class (a non-trivial ICPE map).
    """
    return random_ids(torch.zeros(batch_size, *size, dtype=torch.long), rng, num_ids)


def random_inputs(generator: nn.Module, size: Tuple[int, int], batch_size: int,
                  rng: torch.Generator) -> Dict[str, Tensor]:
    """Random valid inputs for ``generator``'s graph, by input name, on its device: each
    layout input as its declaration samples it."""
    device = next(generator.parameters()).device
    labels = random_label_maps(batch_size, size, generator.num_classes, rng)
    inputs = dict(labels=labels,
                  **sample_inputs(generator, labels, rng, lambda spec: spec.graph_input))
    return {name: tensor.to(device) for name, tensor in inputs.items()}


def _reference(generator: nn.Module, inputs: Dict[str, Tensor]) -> Tensor:
    """The generator's own images for graph ``inputs``: inputs a family would compute itself
    (a given ``default``, not random) are left to it, so the check covers that contract."""
    own = {name: value for name, value in inputs.items() if name != 'labels'}
    for spec in graph_inputs(generator):
        if spec.default is not None and not spec.random:
            own.pop(spec.name)
    return generator(inputs['labels'], **own)


def export_generator(generator: nn.Module, path: str, size: Tuple[int, int],
                     batch_size: Optional[int] = None, opset: Optional[int] = None,
                     seed: int = 0) -> Tuple[str, ...]:
    """Export ``generator`` (put in eval mode) to the ONNX file ``path``.

    Args:
        generator: a :class:`~clade_mm.models.SemanticGenerator`.
        path: the ``.onnx`` file; weights go into it (beside it, as ``path.data``, only past
            ONNX's 2 GB limit).
        size: ``(H, W)`` of the label maps, a multiple of ``2 ** num_upsampling_layers``.
        batch_size: fixed batch size, or ``None`` for a dynamic ``batch`` axis.
        opset: ONNX opset, or ``None`` for the exporter's default.
        seed: of the random label maps that are traced.

    Returns:
        The names of the graph's inputs.
    """
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise ValueError(f'batch_size={batch_size!r}: a fixed batch size >= 1, or None for a '
                         'dynamic batch axis')
    require('onnxscript', 'export to ONNX (torch.onnx.export uses it)')
    from onnxscript import optimizer
    generator.eval()
    names = graph_input_names(generator)
    # torch.export specialises an axis of size 1, so a dynamic batch is traced with two maps.
    inputs = random_inputs(generator, tuple(size), 2 if batch_size is None else batch_size,
                           torch.Generator().manual_seed(seed))
    with torch.no_grad():
        # Eagerly first: a size or an input the generator refuses fails with its own message
        # here rather than deep inside the exporter.
        _reference(generator, inputs)
    dynamic_shapes = None
    if batch_size is None:
        batch = torch.export.Dim(BATCH_AXIS, min=1)
        # As the graph's signature: labels, then its other inputs as one *inputs tuple.
        dynamic_shapes = ({0: batch}, ) + (
            (tuple({0: batch} for _ in names[1:]), ) if len(names) > 1 else ())
    with torch.no_grad(), warnings.catch_warnings():
        # Notices about the exporter's own internals, nothing a user can act on: a deprecated
        # pytree class, and that the inputs' shared batch axis is named once.
        warnings.filterwarnings('ignore', message='.*LeafSpec', category=FutureWarning)
        warnings.filterwarnings('ignore', message=f'.*axis name: {BATCH_AXIS} will not be used')
        program = torch.onnx.export(
            GeneratorGraph(generator).eval(), tuple(inputs[name] for name in names),
            input_names=list(names),
            output_names=[OUTPUT_NAME], opset_version=opset, dynamic_shapes=dynamic_shapes,
            dynamo=True, verbose=False)
    # The exporter folds constants only up to small sizes; folding what derives from the weights
    # alone (each spectral-normed conv's weight / sigma) leaves plain convolutions in the graph.
    largest_weight = max(p.numel() for p in generator.parameters())
    optimizer.optimize(program.model, input_size_limit=largest_weight,
                       output_size_limit=largest_weight)
    program.save(path)  # external data only when the weights exceed the 2 GB protobuf limit
    return names


def verify_onnx(path: str, generator: nn.Module, num_checks: int = 3,
                seed: int = 1) -> Sequence[float]:
    """Run the ONNX file with onnxruntime and ``generator`` with PyTorch on random inputs.

    Label maps and every graph input are drawn from ``seed``, not the export's, as their
    declarations sample them; an input the generator would compute itself (CLADE-ICPE's
    ``position``) is given to the graph while PyTorch computes its own, so the check covers the
    documented contract. With a dynamic batch axis the checks alternate batches of 1 and 2.
    ``generator`` is put in eval mode, as it was exported.

    Returns:
        The max absolute difference of each check, in the images' ``[-1, 1]`` units.
    """
    ort = require('onnxruntime', 'check the exported model')
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    labels_shape = next(i.shape for i in session.get_inputs() if i.name == 'labels')
    fixed_batch, size = labels_shape[0], tuple(labels_shape[1:])
    generator.eval()
    rng = torch.Generator().manual_seed(seed)
    differences = []
    for check in range(num_checks):
        batch_size = fixed_batch if isinstance(fixed_batch, int) else 1 + check % 2
        inputs = random_inputs(generator, size, batch_size, rng)
        with torch.no_grad():
            reference = _reference(generator, inputs)
        (image, ) = session.run([OUTPUT_NAME],
                                {name: t.cpu().numpy() for name, t in inputs.items()})
        differences.append(float(np.abs(image - reference.cpu().numpy()).max()))
    return differences

