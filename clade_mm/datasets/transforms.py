"""Loading and cropping of (image, label map, instance map) samples, with their checks."""
import io
from typing import Dict, Optional, Sequence, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get
from PIL import Image

from mmagic.datasets.transforms import Crop
from mmagic.registry import TRANSFORMS

from .validation import (DatasetError, _name, check_label_range, check_same_size, label_ids,
                         palette_to_ids)


def load_palette(palette: Union[None, str, Sequence]) -> Optional[np.ndarray]:
    """A palette as an ``(N, 3)`` array, from a list of ``[r, g, b]`` or a text file with one
    ``r g b`` (or ``r,g,b``) line per class id."""
    if palette is None:
        return None
    if isinstance(palette, str):
        with open(palette) as lines:
            rows = [line.replace(',', ' ').split()[:3] for line in lines if line.strip()]
        palette = [[int(v) for v in row] for row in rows]
    array = np.asarray(palette, dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f'a palette is a list of [r, g, b] colours, got shape {array.shape}')
    return array


def decode_panoptic(rgb: np.ndarray) -> np.ndarray:
    """COCO panoptic PNG colours to segment ids: ``id = R + 256 G + 256^2 B``."""
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


@TRANSFORMS.register_module()
class LoadSemanticSample(BaseTransform):
    """Load ``img``, ``label`` and (if the sample has one) ``instance``, and check them.

    The image is decoded as BGR colour; label and instance maps are read as they are stored
    (palette PNGs give their indices, 16-bit PNGs their 16-bit values; no colour conversion).
    Then, in order: an RGB colour mask becomes ids through ``palette``; ids are remapped by
    ``label_mapping``; and every check of :mod:`clade_mm.datasets.validation` runs, so that a
    bad file stops with its name, the value and the fix.

    Args:
        num_classes: ids must lie in ``0 .. num_classes - 1`` after remapping.
        palette: colours of the classes, ``[[r, g, b], ...]`` or a file of ``r g b`` lines,
            for datasets whose label maps are colour masks.
        label_mapping: ``{raw_id: class_id}``, e.g. ``{255: 182}`` for COCO-Stuff's don't-care.
        instance_format: ``'ids'`` (one id per pixel) or ``'panoptic'`` (COCO panoptic PNG
            colours, decoded to segment ids).

    Adds: ``img`` (H, W, 3) uint8 BGR, ``label`` (H, W) uint8 (int16 beyond 256 classes),
    ``instance`` (H, W) int16 (instances renumbered 0..K-1; edges only need equality), and the
    metadata mmagic's packing and preprocessing expect.
    """

    def __init__(self, num_classes: int, palette: Union[None, str, Sequence] = None,
                 label_mapping: Optional[Dict[int, int]] = None,
                 instance_format: str = 'ids'):
        if instance_format not in ('ids', 'panoptic'):
            raise ValueError(f"instance_format={instance_format!r}: 'ids' or 'panoptic'")
        self.num_classes = num_classes
        self.palette = load_palette(palette)
        self.label_mapping = dict(label_mapping or {})
        self.instance_format = instance_format

    @staticmethod
    def _read(path: str, as_map: bool) -> np.ndarray:
        """An image as BGR colour, or a map exactly as stored (PIL: palette indices, 16 bit,
        RGB order for colour masks)."""
        content = get(path)
        if not content:
            raise DatasetError(f'{_name(path)} is an empty file: re-copy or remove it.',
                               'unreadable')
        try:
            array = np.asarray(Image.open(io.BytesIO(content))) if as_map else \
                mmcv.imfrombytes(content, flag='color', backend='cv2')
        except Exception as err:  # the decoders raise many kinds of errors for broken files
            raise DatasetError(f'{_name(path)} cannot be decoded ({err}): the file is corrupt '
                               'or not an image; re-copy or remove it.', 'unreadable') from err
        if array is None:
            raise DatasetError(f'{_name(path)} cannot be decoded: the file is corrupt or not an '
                               'image; re-copy or remove it.', 'unreadable')
        return array

    def _remap(self, label: np.ndarray) -> np.ndarray:
        if not self.label_mapping:
            return label
        table = np.arange(max(int(label.max()), max(self.label_mapping)) + 1, dtype=np.int64)
        for old, new in self.label_mapping.items():
            table[old] = new
        return table[label]

    def label_map(self, raw: np.ndarray, path: Optional[str] = None) -> np.ndarray:
        """A label map as stored -> checked ``(H, W)`` class ids (palette, remapping, range)."""
        if self.palette is not None:
            raw = palette_to_ids(raw, self.palette, path)
        label = self._remap(label_ids(raw, path))
        check_label_range(label, self.num_classes, path)
        return label

    def transform(self, results: dict) -> dict:
        img_path, label_path = results['img_path'], results['label_path']
        image = self._read(img_path, as_map=False)
        label = self.label_map(self._read(label_path, as_map=True), label_path)
        check_same_size(image, label, img_path, label_path, 'label map')
        results['img'] = image
        # uint8 / int16: types that OpenCV resizes and torch stacks without surprises
        results['label'] = label.astype(np.uint8 if self.num_classes <= 256 else np.int16)
        results['img_channel_order'] = 'bgr'
        results['img_color_type'] = 'color'
        results['ori_img_shape'] = image.shape
        instance_path = results.get('instance_path')
        if instance_path:
            instance = self._read(instance_path, as_map=True)
            if self.instance_format == 'panoptic':
                instance = decode_panoptic(instance)
            elif instance.ndim == 3:
                raise DatasetError(
                    f'instance map {_name(instance_path)} has {instance.shape[2]} channels: '
                    "for COCO panoptic PNGs set instance_format='panoptic'.")
            check_same_size(image, instance, img_path, instance_path, 'instance map')
            # Only equality between neighbours matters (edges): renumber 0..K-1 to fit int16.
            compact = np.unique(instance, return_inverse=True)[1].reshape(instance.shape)
            results['instance'] = compact.astype(np.int16)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_classes={self.num_classes}, '
                f'palette={None if self.palette is None else len(self.palette)}, '
                f'label_mapping={self.label_mapping}, instance_format={self.instance_format!r})')


@TRANSFORMS.register_module()
class SemanticCrop(Crop):
    """mmagic's ``Crop``, but an image smaller than the crop is an error, not a smaller crop
    that would only fail when the batch is stacked."""

    def transform(self, results: dict) -> dict:
        data = results[self.keys[0]]
        height, width = data.shape[:2]
        crop_h, crop_w = self.crop_size
        if height < crop_h or width < crop_w:
            raise DatasetError(
                f'crop {crop_w}x{crop_h} is larger than the image '
                f'{_name(results.get("img_path"))} ({width}x{height}): resize first (a Resize '
                'before the crop in the pipeline, as the dataset configs do) or crop smaller.',
                'crop')
        return super().transform(results)
