"""The painter's wire format, read strictly: a malformed field is a :class:`RequestError`
naming the field, what was found and what is expected.

A label map travels as ``{"width": W, "height": H, "dtype": "uint8" | "uint16", "data": B}``
with ``B`` the base64 of its ``H * W`` ids, row by row (little-endian for uint16): the page keeps
its map as a typed array of ids, so no colour ever stands for a class on the wire.
"""
import base64
import binascii
import io
import json
from typing import Any, Optional

import numpy as np
from PIL import Image

# The largest label map side accepted (the shipped configs paint at most 512 wide).
MAX_SIDE = 4096
DTYPES = {'uint8': np.dtype('u1'), 'uint16': np.dtype('<u2')}
# JavaScript integers are exact up to 2 ** 53; seeds and sequence numbers stay far below.
MAX_INT = 2**53


class RequestError(Exception):
    """A request the painter refuses; ``status`` is the HTTP status (4xx)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def parse_json(data: bytes) -> dict:
    """A JSON object from a request body; malformed JSON, whatever is wrong with it, is a
    :class:`RequestError` (400)."""
    try:
        body = json.loads(data)
    except RecursionError:  # json reads a level per call: 100,000 '[' exhaust the stack
        raise RequestError('the request body is JSON nested too deeply to read (a painter '
                           'request nests 2 levels): send a JSON object') from None
    except ValueError as err:  # UnicodeDecodeError too
        raise RequestError(f'the request body is not valid JSON ({err}): send a JSON object')
    if not isinstance(body, dict):
        raise RequestError(f'the request body is JSON {type(body).__name__}, but a JSON '
                           'object {...} was expected')
    return body


def shown(value: Any) -> str:
    """A JSON value as an error message quotes it: a scalar as written (its first 40
    characters), a list or an object by its kind (either may be large, or too deep to write)."""
    if isinstance(value, (list, dict)):
        return 'a list' if isinstance(value, list) else 'an object'
    return json.dumps(value, ensure_ascii=False)[:40]


def integer(body: dict, key: str, low: int = 0, high: int = MAX_INT,
            default: Any = ...) -> Optional[int]:
    """``body[key]`` as an integer in ``low..high``; absent or null gives ``default``, or an
    error when there is none."""
    value = body.get(key)
    if value is None:
        if default is ...:
            raise RequestError(f'"{key}" is missing: give an integer {low}..{high}')
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f'"{key}" is {shown(value)}, but an integer {low}..{high} was '
                           'expected')
    if not low <= value <= high:
        raise RequestError(f'"{key}" is {value}, outside {low}..{high}')
    return value


def text(body: dict, key: str, max_length: int = 64, default: Any = ...) -> Optional[str]:
    """``body[key]`` as a non-empty string of at most ``max_length`` characters."""
    value = body.get(key)
    if value is None and default is not ...:
        return default
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise RequestError(f'"{key}" is {shown(value)}, but a string of 1 to {max_length} '
                           'characters was expected')
    return value


def texts(body: dict, key: str, count: int, what: str, max_length: int = 64) -> list:
    """``body[key]`` as a list of ``count`` strings of 1 to ``max_length`` characters (``what``
    says what an item is, for the message)."""
    value = body.get(key)
    expected = f'a list of {count} strings ({what})'
    if not isinstance(value, list):
        raise RequestError(f'"{key}" is {shown(value)}, but {expected} was expected')
    if len(value) != count:
        raise RequestError(f'"{key}" has {len(value)} items, but {expected} was expected')
    for index, item in enumerate(value):
        if not isinstance(item, str) or not 0 < len(item) <= max_length:
            raise RequestError(f'"{key}"[{index}] is {shown(item)}, but a string of 1 to '
                               f'{max_length} characters ({what}) was expected')
    return value


def decode_labels(value: Any) -> np.ndarray:
    """The ``(H, W)`` id array of a wire label map (ids are checked later, by the model)."""
    if not isinstance(value, dict):
        raise RequestError('"labels" must be an object {"width", "height", "dtype", "data"}')
    width = integer(value, 'width', 1, MAX_SIDE)
    height = integer(value, 'height', 1, MAX_SIDE)
    dtype = value.get('dtype')
    if not isinstance(dtype, str) or dtype not in DTYPES:  # a list is not hashable
        raise RequestError(f'"dtype" is {shown(dtype)}: one of {sorted(DTYPES)}')
    data = value.get('data')
    if not isinstance(data, str):
        raise RequestError('"data" must be a base64 string of the ids, row by row')
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise RequestError(f'"data" is not valid base64 ({err})')
    expected = width * height * DTYPES[dtype].itemsize
    if len(raw) != expected:
        raise RequestError(f'"data" holds {len(raw)} bytes, but a {width}x{height} {dtype} '
                           f'label map has {expected}')
    return np.frombuffer(raw, DTYPES[dtype]).reshape(height, width)


def encode_labels(ids: np.ndarray) -> dict:
    """An ``(H, W)`` id array in the wire format (uint8 when the ids fit)."""
    dtype = 'uint8' if ids.max(initial=0) < 256 else 'uint16'
    data = np.ascontiguousarray(ids, DTYPES[dtype]).tobytes()
    return dict(width=int(ids.shape[1]), height=int(ids.shape[0]), dtype=dtype,
                data=base64.b64encode(data).decode('ascii'))


def png_bytes(array: np.ndarray, compress_level: int = 1) -> bytes:
    """A PNG of an RGB image or an id map (8-bit, or 16-bit when the ids need it). Level 1
    by default: a stroke's answer should not wait for compression (on a 256x256 scene here,
    level 6 takes 13 ms instead of 6.5 for a file 9 % smaller)."""
    if array.ndim == 2 and array.max(initial=0) >= 256:
        image = Image.fromarray(array.astype(np.uint16))
    else:
        image = Image.fromarray(array.astype(np.uint8))
    out = io.BytesIO()
    image.save(out, 'PNG', compress_level=compress_level)
    return out.getvalue()


def png_data_url(image: np.ndarray) -> str:
    """An RGB image as a ``data:image/png;base64,...`` URL for an ``<img>``."""
    return 'data:image/png;base64,' + base64.b64encode(png_bytes(image)).decode('ascii')
