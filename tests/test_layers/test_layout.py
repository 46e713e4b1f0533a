import threading

import numpy as np
import pytest
import torch
from scipy import ndimage

import clade_mm

from clade_mm.layers.label_map import LayoutError, instance_edges
from clade_mm.layers.layout import LayoutInput, SemanticLayout
from clade_mm.ops.positional_map import _icpe_map_vectorised, connected_components, icpe_map
from clade_mm.layers.context import semantic_layout
from tests.families import FAMILIES, declared_inputs


def reference_icpe(labels: np.ndarray, exclude=()) -> np.ndarray:
    """ICPE map of one (H, W) label map, written the slow, obvious way with scipy; classes in
    ``exclude`` get no map (the published util/cal_dist_masks.py skips class 0)."""
    h, w = labels.shape
    out = np.zeros((2, h, w))
    ys, xs = np.mgrid[0:h, 0:w]
    for cls in np.setdiff1d(np.unique(labels), exclude):
        comps, count = ndimage.label(labels == cls, structure=np.ones((3, 3)))
        for k in range(1, count + 1):
            mask = comps == k
            for axis, coord in enumerate((ys, xs)):
                offset = coord[mask] - coord[mask].mean()
                out[axis][mask] = offset / (np.abs(offset).max() + 1e-5)
    return out


def test_icpe_two_components_of_one_class_by_hand():
    labels = torch.zeros(1, 6, 8, dtype=torch.long)
    labels[0, 0:2, 0:3] = 1  # component A: rows 0-1, cols 0-2, centroid (0.5, 1)
    labels[0, 4:6, 5:8] = 1  # component B: rows 4-5, cols 5-7, centroid (4.5, 6)
    dist = icpe_map(labels)[0]
    eps = 1e-5
    # Component A: dy = (y - 0.5) / (0.5 + eps), dx = (x - 1) / (1 + eps).
    assert dist[0, 0, 0] == pytest.approx(-0.5 / (0.5 + eps))
    assert dist[0, 1, 2] == pytest.approx(0.5 / (0.5 + eps))
    assert dist[1, 0, 0] == pytest.approx(-1 / (1 + eps))
    assert dist[1, 1, 1] == pytest.approx(0.0)
    # Component B has its own centroid, not the class's overall one.
    assert dist[0, 4, 5] == pytest.approx(-0.5 / (0.5 + eps))
    assert dist[1, 5, 7] == pytest.approx(1 / (1 + eps))
    assert dist[1, 4, 6] == pytest.approx(0.0)
    np.testing.assert_allclose(dist.numpy(), reference_icpe(labels[0].numpy()), atol=1e-6)


def test_diagonal_touch_is_one_component_8_connectivity():
    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    labels[0, 0:2, 0:2] = 1
    labels[0, 2:4, 2:4] = 1
    comps = connected_components(labels)[0]
    assert comps[0, 0] == comps[3, 3]
    # The other diagonal joins class 0's two squares as well.
    assert comps[0, 3] == comps[3, 0]
    # Four-connected only, they would be apart: check with a gap instead.
    labels[0, 1, 1] = 0
    labels[0, 2, 2] = 0
    comps = connected_components(labels)[0]
    assert comps[0, 0] != comps[3, 3]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_icpe_matches_scipy_reference_on_random_maps(seed):
    g = torch.Generator().manual_seed(seed)
    # Blocky random maps: several components per class, some touching diagonally.
    coarse = torch.randint(0, 4, (2, 6, 7), generator=g)
    labels = coarse.repeat_interleave(3, 1).repeat_interleave(2, 2)
    dist = icpe_map(labels)
    for i in range(labels.shape[0]):
        np.testing.assert_allclose(dist[i].numpy(), reference_icpe(labels[i].numpy()), atol=1e-6)
    assert dist.abs().max() <= 1


@pytest.mark.parametrize('seed', [0, 1])
def test_icpe_kernel_equals_the_vectorised_reference_bit_for_bit(seed):
    g = torch.Generator().manual_seed(seed)
    # Noise of three classes: long, winding, diagonally touching components; odd sizes.
    noise = torch.randint(0, 3, (2, 61, 47), generator=g)
    blocky = torch.randint(0, 151, (1, 16, 16), generator=g).repeat_interleave(
        16, 1).repeat_interleave(16, 2)
    from clade_mm.ops import positional_map
    for labels in (noise, blocky):
        assert positional_map.supports(labels)
        kernel = icpe_map(labels, exclude_classes=(0,))
        reference = _icpe_map_vectorised(labels).masked_fill((labels == 0)[:, None], 0)
        assert torch.equal(kernel, reference)
    np.testing.assert_allclose(icpe_map(noise)[1].numpy(), reference_icpe(noise[1].numpy()),
                               atol=1e-6)


def test_icpe_flip_equivariance():
    labels = torch.randint(0, 3, (2, 5, 9), generator=torch.Generator().manual_seed(3))
    labels = labels.repeat_interleave(3, 1).repeat_interleave(2, 2)
    dist = icpe_map(labels)
    flipped = icpe_map(labels.flip(-1))
    expected = dist.flip(-1) * torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)
    torch.testing.assert_close(flipped, expected, atol=1e-6, rtol=0)


def test_instance_edges_by_hand():
    inst = torch.tensor([[[1, 1, 2],
                          [1, 1, 2],
                          [3, 3, 3]]])
    expected = torch.tensor([[0, 1, 1],
                             [1, 1, 1],
                             [1, 1, 1]], dtype=torch.float32)
    assert torch.equal(instance_edges(inst)[0, 0], expected)
    # A single instance has no edges.
    assert instance_edges(torch.ones(1, 4, 4, dtype=torch.long)).sum() == 0


def test_nearest_resize_equals_strided_sampling():
    labels = torch.randint(0, 10, (2, 32, 48))
    layout = SemanticLayout(labels)
    for k in (2, 4, 8):
        resized = layout.labels_at((32 // k, 48 // k), labels.device)
        assert torch.equal(resized, labels[:, ::k, ::k])


def test_derived_inputs_computed_once_per_resolution():
    calls = []
    counted = LayoutInput('counted', '(N, 1, H, W)', 'not needed', channels=1,
                          default=lambda layout, device: calls.append(1) or
                          layout.labels[:, None].float())
    layout = SemanticLayout(torch.randint(0, 3, (1, 16, 16)))
    first = layout.at(counted, (8, 8), torch.device('cpu'))
    again = layout.at(counted, (8, 8), torch.device('cpu'))
    layout.at(counted, (4, 4), torch.device('cpu'))
    assert first is again
    assert len(calls) == 1  # the full-resolution map is derived once for all sizes


def test_a_given_input_stands_in_for_the_computed_one():
    labels = torch.randint(0, 3, (2, 16, 16))
    given = torch.rand(2, 2, 16, 16)
    spec = LayoutInput('offsets', '(N, 2, H, W) float32', 'give offsets=', channels=2,
                       default=lambda layout, device: pytest.fail('computed anyway'))
    layout = SemanticLayout(labels, offsets=given)
    cpu = torch.device('cpu')
    assert torch.equal(layout.at(spec, (16, 16), cpu), given)
    assert torch.equal(layout.at(spec, (8, 8), cpu), given[..., ::2, ::2])
    with pytest.raises(LayoutError, match=r"'offsets' has shape \(2, 1, 16, 16\): expected 2 "
                                          r'channels.*\(N, 2, H, W\) float32'):
        SemanticLayout(labels, offsets=given[:, :1]).get(spec)
    with pytest.raises(LayoutError, match=r"'offsets' has dtype torch.int64: expected float"):
        SemanticLayout(labels, offsets=given.long()).get(spec)


def test_a_missing_required_input_names_itself_and_the_fix():
    spec = LayoutInput('noise', '(N, 4) float32', 'give noise=ARRAY', spatial=False)
    with pytest.raises(LayoutError, match=r"Toy reads the layout input 'noise' \(\(N, 4\) "
                                          r'float32\), which was not given: give noise=ARRAY'):
        SemanticLayout(torch.zeros(1, 4, 4, dtype=torch.long)).get(spec, owner='Toy')


@pytest.mark.parametrize('bad, message', [
    (torch.rand(1, 8, 8), 'class ids must be integers'),
    (torch.randint(0, 3, (1, 3, 8, 8)), 'RGB colour mask'),
    (torch.randint(0, 3, (1, 5, 8, 8)), 'argmax'),
    (torch.randint(0, 3, (8,)), 'expected'),
])
def test_bad_label_maps_are_named(bad, message):
    with pytest.raises(LayoutError, match=message):
        SemanticLayout(bad)


def test_instance_map_of_another_size():
    with pytest.raises(LayoutError, match='instance_map has shape'):
        SemanticLayout(torch.zeros(1, 8, 8, dtype=torch.long),
                       instances=torch.zeros(1, 4, 4, dtype=torch.long))


def test_nesting_restores_the_outer_layout():
    outer_labels = torch.zeros(1, 4, 4, dtype=torch.long)
    inner_labels = torch.ones(1, 4, 4, dtype=torch.long)
    assert clade_mm.current_layout() is None
    with semantic_layout(outer_labels) as outer:
        with semantic_layout(inner_labels) as inner:
            assert clade_mm.current_layout() is inner
        assert clade_mm.current_layout() is outer
    assert clade_mm.current_layout() is None


def test_layouts_are_private_to_their_thread():
    seen = {}
    barrier = threading.Barrier(2)

    def worker(name, value):
        with semantic_layout(torch.full((1, 4, 4), value)):
            barrier.wait()  # both threads are inside their own block now
            seen[name] = int(clade_mm.current_layout().labels[0, 0, 0])

    threads = [threading.Thread(target=worker, args=(f't{v}', v)) for v in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {'t1': 1, 't2': 2}
    assert clade_mm.current_layout() is None


@pytest.mark.parametrize('norm', FAMILIES)
def test_a_layout_of_another_aspect_ratio_is_refused_with_both_shapes(norm):
    from mmcv.cnn import build_norm_layer
    layer = build_norm_layer(dict(type=norm, num_classes=3), 4)[1].eval()
    features = torch.randn(1, 4, 8, 8)
    with semantic_layout(torch.zeros(1, 32, 48, dtype=torch.long)):
        with pytest.raises(LayoutError, match=r'label map is 32x48 \(HxW\) but the features are '
                                              r'8x8: their aspect ratios differ'):
            layer(features)
    labels = torch.randint(0, 3, (1, 32, 64))  # the same ratio as 8x16: resized, as before
    with semantic_layout(labels, **declared_inputs(layer, labels)):
        out = layer(torch.randn(1, 4, 8, 16))
    assert out.shape == (1, 4, 8, 16)
    labels = torch.zeros(1, 255, 256, dtype=torch.long)
    with semantic_layout(labels, **declared_inputs(layer, labels)):  # within a pixel
        layer(torch.randn(1, 4, 256, 256))
