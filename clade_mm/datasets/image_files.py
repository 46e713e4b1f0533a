"""Reading image and map files whole, or refusing them by name.

Photos and maps are decoded with PIL, as the published SPADE/CLADE loaders do. PIL refuses a
truncated JPEG or PNG where OpenCV fills the missing rows with grey and carries on, so a cut-off
download stops here, named, instead of training on half-blank images. Label and instance maps
must be stored losslessly: a JPEG label map carries wrong ids along every region border.

How large a file may be is this project's decision, not PIL's: a file of more than
``max_pixels`` pixels (:data:`DEFAULT_MAX_PIXELS` unless the reader is given another limit, e.g.
``LoadSemanticSample(max_pixels=...)``) is refused by name and size before it is decoded, so a
batch goes on with the next file. PIL's own decompression-bomb guard would stop with a message
that names neither the file nor its size, and only above 179 million pixels.
"""
import io
import warnings
from typing import NamedTuple, Optional

import numpy as np
from mmengine.fileio import get
from PIL import Image, ImageFile, UnidentifiedImageError

from .validation import DatasetError, _name

# PIL's names of the formats that store ids exactly.
LOSSLESS_FORMATS = ('PNG', 'BMP', 'TIFF', 'PPM')
# Files that are often mistaken for maps, by their first bytes.
KNOWN_SIGNATURES = {b'\x93NUMPY': 'a NumPy .npy array', b'PK\x03\x04': 'a zip archive',
                    b'\x89HDF': 'an HDF5 file', b'%PDF': 'a PDF document'}
# 8192 x 8192: four times the largest photos of the supported datasets (ADE20k's reach about
# 4000 x 3000), and 64 MB per 8-bit map or 192 MB per photo once decoded.
DEFAULT_MAX_PIXELS = 8192 * 8192


def _content(path: str) -> bytes:
    content = get(path)
    if not content:
        raise DatasetError(f'{_name(path)} is an empty file: re-copy or remove it.',
                           'unreadable')
    return content


def _stored_size(content: bytes) -> Optional[tuple]:
    """``(width, height)`` from the header of a file PIL refuses to open as too large: its
    format plugins read headers without PIL's size guard, which lives in ``Image.open``."""
    Image.init()
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        accepted = accept is None or accept(content[:16])
        if accepted and not isinstance(accepted, str):  # a str is PIL's "almost" warning
            try:
                return factory(io.BytesIO(content)).size
            except Exception:  # not this format: try the next, as Image.open does
                continue
    return None


def image_size(path: str) -> Optional[tuple]:
    """``(width, height)`` of an image file from its header, whatever its size (PIL's
    decompression-bomb guard does not apply), or ``None`` if it is no image PIL reads."""
    with open(path, 'rb') as f:
        content = f.read()
    return _stored_size(content)


def _refuse_size(path: str, what: str, size: Optional[tuple], max_pixels: int) -> None:
    shape = f'{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels' if size else \
        'larger than PIL opens'
    raise DatasetError(
        f'{what} {_name(path)} is {shape}, over the limit of {max_pixels:,} pixels: shrink or '
        'tile it, or raise the limit (max_pixels of LoadSemanticSample in the config, '
        '--max-pixels of tools/synthesize.py).', 'too_large')


def _decode(content: bytes, path: str, what: str,
            max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """A fully decoded PIL image of at most ``max_pixels`` pixels, or a :class:`DatasetError`
    saying why not."""
    try:
        with warnings.catch_warnings():  # the size is checked below, against our own limit
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
    except Image.DecompressionBombError:
        _refuse_size(path, what, _stored_size(content), max_pixels)
    except UnidentifiedImageError:
        kind = next((k for s, k in KNOWN_SIGNATURES.items() if content.startswith(s)), None)
        found = f'it is {kind}' if kind else 'its content is not an image PIL can read'
        fix = ('save it as JPEG or PNG' if what == 'image' else
               'save it as an 8- or 16-bit PNG of ids (BMP and TIFF work too)')
        raise DatasetError(f'{what} {_name(path)} is not a supported format ({found}): {fix}.',
                           'format') from None
    if image.width * image.height > max_pixels:
        _refuse_size(path, what, image.size, max_pixels)
    # Some libraries switch this on globally; a truncated file must still be refused here.
    truncated_ok = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    except Exception as err:  # PIL raises OSError, SyntaxError, ValueError... for broken data
        raise DatasetError(
            f'{what} {_name(path)} is truncated or corrupt ({image.format}: {err}): re-copy or '
            're-download it, or remove the sample.', 'unreadable') from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok
    return image


def read_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A photo as an ``(H, W, 3)`` uint8 BGR array (mmagic's channel order), fully decoded."""
    image = _decode(_content(path), path, 'image', max_pixels)
    return np.ascontiguousarray(np.asarray(image.convert('RGB'))[..., ::-1])


class StoredMap(NamedTuple):
    """A map as stored, and the colour table of a palette-mode (``P``) file: ``(N, 3)``
    int64, ``palette[index] = (r, g, b)``; ``None`` for every other file."""
    array: np.ndarray
    palette: Optional[np.ndarray]


def read_stored_map(path: str, what: str = 'label map',
                    max_pixels: int = DEFAULT_MAX_PIXELS) -> StoredMap:
    """A label or instance map exactly as stored: palette indices (with the file's palette),
    8 or 16 bit values, or RGB for colour masks and panoptic PNGs. Lossy formats are
    refused."""
    image = _decode(_content(path), path, what, max_pixels)
    if image.format not in LOSSLESS_FORMATS:
        raise DatasetError(
            f'{what} {_name(path)} is a {image.format}: lossy compression changes the ids along '
            'region borders, so maps must be stored losslessly. Use the PNG maps of the '
            'dataset (or re-export them as PNG from their source).', 'format')
    palette = None
    if image.mode == 'P':
        colours = np.frombuffer(bytes(image.getpalette('RGB') or b''), np.uint8)
        palette = colours.reshape(-1, 3).astype(np.int64)
    return StoredMap(np.asarray(image), palette)


def read_map(path: str, what: str = 'label map',
             max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The array of :func:`read_stored_map` (palette-mode files give their indices)."""
    return read_stored_map(path, what, max_pixels).array


def describe_map(array: np.ndarray) -> str:
    """``'8-bit ids'``, ``'16-bit ids'`` or ``'RGB'``: how a map read by :func:`read_map` is
    stored (for reports)."""
    return 'RGB' if array.ndim == 3 else f'{array.dtype.itemsize * 8}-bit ids'
