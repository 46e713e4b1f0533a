"""Reading image and map files whole, or refusing them by name.

Photos and maps are decoded with PIL, as the published SPADE/CLADE loaders do. PIL refuses a
truncated JPEG or PNG where OpenCV fills the missing rows with grey and carries on, so a cut-off
download stops here, named, instead of training on half-blank images. Label and instance maps
must be stored losslessly: a JPEG label map carries wrong ids along every region border.
"""
import io

import numpy as np
from mmengine.fileio import get
from PIL import Image, ImageFile, UnidentifiedImageError

from .validation import DatasetError, _name

# PIL's names of the formats that store ids exactly.
LOSSLESS_FORMATS = ('PNG', 'BMP', 'TIFF', 'PPM')
# Files that are often mistaken for maps, by their first bytes.
KNOWN_SIGNATURES = {b'\x93NUMPY': 'a NumPy .npy array', b'PK\x03\x04': 'a zip archive',
                    b'\x89HDF': 'an HDF5 file', b'%PDF': 'a PDF document'}


def _content(path: str) -> bytes:
    content = get(path)
    if not content:
        raise DatasetError(f'{_name(path)} is an empty file: re-copy or remove it.',
                           'unreadable')
    return content


def _decode(content: bytes, path: str, what: str) -> Image.Image:
    """A fully decoded PIL image, or a :class:`DatasetError` saying why not."""
    try:
        image = Image.open(io.BytesIO(content))
    except UnidentifiedImageError:
        kind = next((k for s, k in KNOWN_SIGNATURES.items() if content.startswith(s)), None)
        found = f'it is {kind}' if kind else 'its content is not an image PIL can read'
        fix = ('save it as JPEG or PNG' if what == 'image' else
               'save it as an 8- or 16-bit PNG of ids (BMP and TIFF work too)')
        raise DatasetError(f'{what} {_name(path)} is not a supported format ({found}): {fix}.',
                           'format') from None
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


def read_image(path: str) -> np.ndarray:
    """A photo as an ``(H, W, 3)`` uint8 BGR array (mmagic's channel order), fully decoded."""
    image = _decode(_content(path), path, 'image')
    return np.ascontiguousarray(np.asarray(image.convert('RGB'))[..., ::-1])


def read_map(path: str, what: str = 'label map') -> np.ndarray:
    """A label or instance map exactly as stored: palette indices, 8 or 16 bit values, or RGB
    for colour masks and panoptic PNGs. Lossy formats are refused."""
    image = _decode(_content(path), path, what)
    if image.format not in LOSSLESS_FORMATS:
        raise DatasetError(
            f'{what} {_name(path)} is a {image.format}: lossy compression changes the ids along '
            'region borders, so maps must be stored losslessly. Use the PNG maps of the '
            'dataset (or re-export them as PNG from their source).', 'format')
    return np.asarray(image)


def describe_map(array: np.ndarray) -> str:
    """``'8-bit ids'``, ``'16-bit ids'`` or ``'RGB'``: how a map read by :func:`read_map` is
    stored (for reports)."""
    return 'RGB' if array.ndim == 3 else f'{array.dtype.itemsize * 8}-bit ids'
