"""Export a :class:`~clade_mm.models.SemanticGenerator` to ONNX and check it with onnxruntime.

The graph is the generator in eval mode, label map in, image out, CLADE's gather included
(spectral norm folded into the convolutions' weights):

=============  ==============================  =======  ========================================
input          shape                           dtype    when
=============  ==============================  =======  ========================================
``labels``     ``(batch, H, W)``               int64    always: class ids ``0..num_classes-1``
``instances``  ``(batch, H, W)``               int64    instance edges (``with_instance_edge``)
``z``          ``(batch, z_channels)``         float32  generators with ``z_channels``
``position``   ``(batch, 2, H, W)``            float32  CLADE-ICPE: ``icpe_map(labels)``
=============  ==============================  =======  ========================================

and one output, ``image`` ``(batch, 3, H, W)`` float32 in ``[-1, 1]`` (RGB). ``H, W`` are fixed
at export, ``batch`` is a dynamic axis unless a batch size is given.

What stays outside the graph, and why:

- CLADE-ICPE's positional map: it comes from the connected components of the label map, a
  data-dependent loop that a static graph cannot hold, so the caller computes it
  (:func:`clade_mm.layers.icpe_map`) and feeds it as ``position``.
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

from ..layers.clade import ClassAffine
from ..layers.layout import icpe_map, resize_nearest

OUTPUT_NAME = 'image'
BATCH_AXIS = 'batch'
# Instance ids of the random check inputs: only where they change matters (edges).
NUM_RANDOM_INSTANCES = 16


def require(module: str, purpose: str):
    """Import ``module`` or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f'{module} is needed to {purpose} but is not installed. Install the export '
            'requirements into the environment: pip install -r requirements/export.txt '
            '-c requirements/constraints.txt (tools/setup_env.sh does this).') from err


class GeneratorGraph(nn.Module):
    """The generator with the exported graph's inputs as its arguments.

    Shapes:
        ``forward(labels: (N, H, W) int64, instances: (N, H, W) int64 | None,
        z: (N, z_channels) | None, position: (N, 2, H, W) | None) -> (N, 3, H, W)``.
    """

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, labels: Tensor, instances: Optional[Tensor] = None,
                z: Optional[Tensor] = None, position: Optional[Tensor] = None) -> Tensor:
        # ONNX's Gather and ScatterElements read a negative index from the end (-1 is the last
        # class) where PyTorch would refuse it; past the last class, onnxruntime refuses it too.
        labels = labels.masked_fill(labels < 0, self.generator.num_classes)
        return self.generator(labels, instances, z, position)


def graph_input_names(generator: nn.Module) -> Tuple[str, ...]:
    """The inputs of ``generator``'s graph, in order (see the module docstring)."""
    names = ['labels']
    if generator.with_instance_edge:
        names.append('instances')
    if generator.z_channels is not None:
        names.append('z')
    if any(isinstance(m, ClassAffine) and m.with_position for m in generator.modules()):
        names.append('position')
    return tuple(names)


def random_label_maps(batch_size: int, size: Tuple[int, int], num_ids: int,
                      rng: torch.Generator) -> Tensor:
    """``(N, H, W)`` int64 maps of random ids in ``0..num_ids-1``, made of square regions.

    The regions' side, drawn once per call from 1 to 16 pixels, ranges the maps from per-pixel
    noise to a few large components per class (a non-trivial ICPE map).
    """
    cell = int(torch.randint(1, 17, (), generator=rng))
    coarse = (max(1, size[0] // cell), max(1, size[1] // cell))
    ids = torch.randint(0, num_ids, (batch_size, 1, *coarse), generator=rng)
    return resize_nearest(ids, size)[:, 0]


def random_inputs(generator: nn.Module, size: Tuple[int, int], batch_size: int,
                  rng: torch.Generator) -> Dict[str, Tensor]:
    """Random valid inputs for ``generator``'s graph, by input name, on its device."""
    device = next(generator.parameters()).device
    labels = random_label_maps(batch_size, size, generator.num_classes, rng)
    inputs = dict(labels=labels)
    names = graph_input_names(generator)
    if 'instances' in names:
        inputs['instances'] = random_label_maps(batch_size, size, NUM_RANDOM_INSTANCES, rng)
    if 'z' in names:
        inputs['z'] = torch.randn(batch_size, generator.z_channels, generator=rng)
    if 'position' in names:
        inputs['position'] = icpe_map(labels)
    return {name: tensor.to(device) for name, tensor in inputs.items()}


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
    require('onnxscript', 'export to ONNX (torch.onnx.export uses it)')
    from onnxscript import optimizer
    generator.eval()
    names = graph_input_names(generator)
    # torch.export specialises an axis of size 1, so a dynamic batch is traced with two maps.
    inputs = random_inputs(generator, tuple(size), batch_size or 2,
                           torch.Generator().manual_seed(seed))
    with torch.no_grad():
        # Eagerly first: a size or an input the generator refuses fails with its own message
        # here rather than deep inside the exporter.
        generator(inputs['labels'], inputs.get('instances'), inputs.get('z'))
    dynamic_shapes = None
    if batch_size is None:
        batch = torch.export.Dim(BATCH_AXIS, min=1)
        dynamic_shapes = {name: {0: batch} for name in names}
    with torch.no_grad(), warnings.catch_warnings():
        # Notices about the exporter's own internals, nothing a user can act on: a deprecated
        # pytree class, and that the inputs' shared batch axis is named once.
        warnings.filterwarnings('ignore', message='.*LeafSpec', category=FutureWarning)
        warnings.filterwarnings('ignore', message=f'.*axis name: {BATCH_AXIS} will not be used')
        program = torch.onnx.export(
            GeneratorGraph(generator).eval(), (), kwargs=inputs, input_names=list(names),
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

    Label maps (and instance maps, codes) are drawn from ``seed``, not the export's; the
    ``position`` input gets :func:`~clade_mm.layers.icpe_map` of the labels while PyTorch computes
    its own, so the check covers the documented contract. With a dynamic batch axis the checks
    alternate batches of 1 and 2. ``generator`` is put in eval mode, as it was exported.

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
            reference = generator(inputs['labels'], inputs.get('instances'), inputs.get('z'))
        (image, ) = session.run([OUTPUT_NAME],
                                {name: t.cpu().numpy() for name, t in inputs.items()})
        differences.append(float(np.abs(image - reference.cpu().numpy()).max()))
    return differences

