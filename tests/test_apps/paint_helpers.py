"""Shared by the painter's tests: a small model, the wire format, HTTP without a browser."""
import base64
import http.client
import io
import json
import urllib.parse

import numpy as np
from PIL import Image

from clade_mm.apps.paint import load_models
from tests.test_apis.test_synthesize import make_model


def paint_model(folder, **kwargs):
    """The painter's model of a small untrained synthetic-scene CLADE saved as a checkpoint
    (see make_model: class banks apart, so classes look different)."""
    config, checkpoint = make_model(folder, **kwargs)
    return load_models([(config, checkpoint)])[0]


def wire(ids):
    ids = np.asarray(ids)
    dtype = 'uint16' if ids.max() >= 256 else 'uint8'
    return dict(width=ids.shape[1], height=ids.shape[0], dtype=dtype,
                data=base64.b64encode(ids.astype('<u2' if dtype == 'uint16' else 'u1')
                                      .tobytes()).decode())


def unwire(labels):
    dtype = '<u2' if labels['dtype'] == 'uint16' else 'u1'
    return np.frombuffer(base64.b64decode(labels['data']), dtype).reshape(
        labels['height'], labels['width'])


def decode_image(data_url):
    assert data_url.startswith('data:image/png;base64,')
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(',', 1)[1]))))


def post(url, path, body, headers=None, timeout=60):
    """``(status, headers, parsed JSON or raw bytes)`` of a POST to a running server."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers = {'Content-Type': 'application/json', **(headers or {})}
    try:
        connection.request('POST', path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    kind = response.getheader('Content-Type', '')
    return response.status, response, json.loads(data) if 'json' in kind else data


def sean_paint_model(folder, seed=0):
    """The painter's model of the shipped synthetic-scene SEAN (configs/sean/sean_synthetic.py)
    with seeded random weights that let a style show (saved in ``folder``): its region encoder
    gives other codes for other photos, which is all the painter's style slots need."""
    from tests.paths import config_path
    from tests.test_apis.test_synthesize_sean import style_visible_checkpoint
    return load_models([(config_path('sean_synthetic'),
                         style_visible_checkpoint(folder, seed))])[0]


def style_source_files(folder, name, classes, seed):
    """A style source as files in ``folder``: ``name_map.png``, a 64x64 label map of horizontal
    bands of ``classes``, and ``name.png``, its photo: each band a random colour (from
    ``seed``) with a little noise, as a photo's regions differ. Returns both paths."""
    rng = np.random.default_rng(seed)
    band = -(-64 // len(classes))
    labels = np.repeat(np.repeat(np.asarray(classes, np.uint8), band)[:64, None], 64, axis=1)
    colours = rng.integers(0, 256, (len(classes), 3))
    photo = np.repeat(colours, band, axis=0)[:64, None] + rng.normal(0, 8, (64, 64, 3))
    photo_path, map_path = folder / f'{name}.png', folder / f'{name}_map.png'
    Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(photo_path)
    Image.fromarray(labels).save(map_path)
    return photo_path, map_path
