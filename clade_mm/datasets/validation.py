"""The checks every sample passes, lazily at load time and in ``tools/check_dataset.py``.

A bad file must stop training before it becomes a device-side assertion deep inside torch:
each check raises a :class:`DatasetError` that names the file, the offending value and the fix.
"""
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

from ..layers.label_map import non_integer_ids_message


class DatasetError(ValueError):
    """A sample that cannot be trained on; the message names the file and the fix.

    ``kind`` sorts the problem for reports: ``'unreadable'``, ``'too_large'``, ``'format'``,
    ``'ids'``, ``'size'`` or ``'crop'``.
    """

    def __init__(self, message: str, kind: str = 'format'):
        super().__init__(message)
        self.kind = kind


def _name(path: Optional[str]) -> str:
    if not path:
        return '<array>'
    parent = osp.basename(osp.dirname(path))
    return f'{parent}/{osp.basename(path)}' if parent else osp.basename(path)


def label_ids(label: np.ndarray, path: Optional[str] = None) -> np.ndarray:
    """The ``(H, W)`` integer ids of a loaded label map, or a :class:`DatasetError`.

    A 3-channel map is accepted only when its channels are equal (a grey map saved as RGB);
    a colour mask needs the dataset's palette.
    """
    if label.ndim == 3 and label.shape[2] == 1:
        label = label[..., 0]
    if label.ndim == 3:
        if label.shape[2] in (3, 4) and all(np.array_equal(label[..., 0], label[..., c])
                                            for c in range(1, 3)):
            label = label[..., 0]
        else:
            raise DatasetError(
                f'label map {_name(path)} is a colour mask (shape {label.shape}), but class ids '
                'were expected: give the dataset a palette (palette=[[r, g, b], ...] or a '
                'palette file) to turn colours into ids, or save one id per pixel.')
    if label.ndim != 2:
        raise DatasetError(f'label map {_name(path)} has shape {label.shape}; expected (H, W)')
    if not np.issubdtype(label.dtype, np.integer):  # floats (NaN too), bools, objects
        raise DatasetError(non_integer_ids_message(f'label map {_name(path)}', label.dtype))
    return label


def check_label_range(label: np.ndarray, num_classes: int, path: Optional[str] = None,
                      label_mapping: Optional[Dict[int, int]] = None) -> None:
    """Every id must be a class (``0 .. num_classes - 1``) or a key of ``label_mapping``.

    Run on the ids as stored, before any remapping: a table lookup would wrap a negative id
    to a class from the end of the table, and a huge one would allocate a table its size.
    """
    low, high = int(label.min()), int(label.max())
    if low < 0:
        raise DatasetError(f'label id {low} in {_name(path)}: ids must be >= 0 (class ids '
                           '0..num_classes-1 as stored, before any label_mapping); save the '
                           'map as an 8- or 16-bit PNG of class ids.', 'ids')
    if high < num_classes:
        return
    mapped = set(label_mapping or ())
    beyond = [int(v) for v in np.unique(label[label >= num_classes]) if int(v) not in mapped]
    if not beyond:
        return
    high = beyond[-1]
    message = (f'label id {high} in {_name(path)}, but num_classes={num_classes} (ids 0..'
               f'{num_classes - 1}' + (f', or one of the label_mapping keys {sorted(mapped)})'
                                       if mapped else ')'))
    if high == 255 and not mapped:
        hint = ("255 is the usual don't-care value: map it to a class of its own with "
                f"LoadSemanticSample(label_mapping={{255: {num_classes}}}) and set "
                f'num_classes={num_classes + 1}.')
    elif label.dtype == np.uint16 and high >= 1000:
        hint = ('this 16-bit map looks like an instance map (ids >= 1000, e.g. '
                '*_instanceIds.png); check data_prefix/label_suffix.')
    else:
        hint = "did you forget the don't-care class? Count it in num_classes."
    raise DatasetError(f'{message}; {hint}', 'ids')


def check_label_mapping(label_mapping: Dict[int, int], num_classes: int) -> None:
    """A ``label_mapping`` maps stored ids (>= 0) to classes ``0 .. num_classes - 1``."""
    for old, new in label_mapping.items():
        for what, value, low, high in (('key', old, 0, None), ('value', new, 0, num_classes - 1)):
            if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                    or value < low or (high is not None and value > high)):
                limits = f'0..{high}' if high is not None else '>= 0'
                raise ValueError(
                    f'label_mapping {{{old!r}: {new!r}}}: the {what} {value!r} must be an '
                    f'integer {limits} (keys are ids as stored, values classes of '
                    f'num_classes={num_classes})')


def check_embedded_palette(indices: np.ndarray, embedded: np.ndarray,
                           class_palette: Optional[np.ndarray],
                           path: Optional[str] = None) -> None:
    """A palette-mode map is read by its indices: its own colour table must agree with the
    dataset's class colours (``class_palette[id] = (r, g, b)``) for every index it uses, or
    be the grey ramp of an id map (index ``i`` shown as ``(i, i, i)``).

    A colour mask quantised to a palette PNG has indices in the order the quantiser chose;
    read as ids they would be wrong classes with no error anywhere else.
    """
    if class_palette is None:
        return
    used = np.unique(indices)
    used = used[(used < len(embedded)) & (used < len(class_palette))]
    stored = embedded[used]
    if (stored == used[:, None]).all():
        return
    wrong = np.flatnonzero((stored != class_palette[used]).any(axis=1))
    if not len(wrong):
        return
    index = int(used[wrong[0]])
    raise DatasetError(
        f'label map {_name(path)} is a palette image whose colours disagree with the '
        f"dataset's palette at {len(wrong)} of the {len(used)} indices it uses (index {index} "
        f'is {tuple(int(c) for c in embedded[index])} in the file, class {index} is '
        f'{tuple(int(c) for c in class_palette[index])}): it looks like a colour mask '
        'quantised to a palette, so its indices are not class ids. Save the class ids as an '
        '8-bit greyscale PNG, or give the colour mask as RGB with the dataset palette in '
        'LoadSemanticSample(palette=...).', 'format')


def check_same_size(image: np.ndarray, other: np.ndarray, image_path: Optional[str],
                    other_path: Optional[str], what: str,
                    scales: Sequence[int] = (1, )) -> None:
    """An image and its label (or instance) map must be pixel-aligned: the image is the map's
    size, or ``s`` times it in both directions for an ``s`` of ``scales`` (datasets that ship
    maps at a lower resolution than their photos; the pipeline then resizes both to one size)."""
    (height, width), (map_height, map_width) = image.shape[:2], other.shape[:2]
    if any(height == s * map_height and width == s * map_width for s in scales):
        return
    if tuple(scales) == (1, ):
        fix = (f'they must be pixel-aligned (resize the {what} with nearest neighbour, never '
               'interpolation).')
    else:
        allowed = ' or '.join(f'{s}x' for s in scales)
        fix = (f'the image must be {allowed} the size of its {what} in both directions '
               f'(map_scales={tuple(scales)} of LoadSemanticSample); a map of another size '
               'belongs to another photo or another resolution of the dataset.')
    raise DatasetError(
        f'image {_name(image_path)} is {width}x{height} but its {what} {_name(other_path)} is '
        f'{map_width}x{map_height}: {fix}', 'size')


def palette_to_ids(mask: np.ndarray, palette: np.ndarray, path: Optional[str] = None) -> np.ndarray:
    """Turn an ``(H, W, 3)`` RGB colour mask into ids with ``palette[id] = (r, g, b)``."""
    if mask.ndim != 3 or mask.shape[2] < 3:
        return mask
    rgb = mask[..., :3].astype(np.int64)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    table = {int((r << 16) | (g << 8) | b): i for i, (r, g, b) in enumerate(palette.tolist())}
    ids = np.full(codes.shape, -1, dtype=np.int64)
    for code in np.unique(codes):
        if int(code) not in table:
            r, g, b = (int(code) >> 16) & 255, (int(code) >> 8) & 255, int(code) & 255
            raise DatasetError(
                f'colour ({r}, {g}, {b}) in {_name(path)} is not in the palette '
                f'({len(palette)} colours): add it to the palette or fix the mask.')
        ids[codes == code] = table[int(code)]
    return ids.astype(np.uint16 if len(palette) > 256 else np.uint8)
