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
