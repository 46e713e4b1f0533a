"""The painter's web server: the page and its JSON API, on Flask, bound to 127.0.0.1.

Routes (every error is JSON ``{"error": message, "status": code}`` with a 4xx status, or 500
for a bug, which is also logged with its traceback):

- ``GET /``, ``GET /static/...``: the page, served from the package.
- ``GET /api/models``: the models, their label size, classes (names, colours), style options.
- ``POST /api/synthesize``: ``{"model", "client", "seq", "labels", "seed"?, "style"?,
  "reroll"?}`` -> ``{"image": data URL, "compute_ms", "wait_ms", "server_ms", ...}``; 409 when
  a newer request of the same page superseded it (see :mod:`.model`). ``"reroll": {"x", "y"}``
  (a label pixel), for a model with per-instance noise or a noise map (``"reroll": true`` in
  its description), re-draws the noise of the region there (its instance, or its class's pixels
  of the noise map) and keeps the others' (the answer names it, ``"rerolled"``: the class id,
  which is the painter's instance id).
- ``POST /api/read-labels``: a label map file (multipart field ``file``), read and checked as
  ``tools/synthesize.py`` reads it (another aspect ratio than the canvas's is refused), resized
  to the canvas -> ``{"labels", ...}``.
- ``POST /api/save-labels``: ``{"labels"}`` -> the id PNG.
- ``POST /api/style``: a style image (multipart ``file``) -> ``{"style": token}``.
- ``POST /api/add-style-source``: for models with per-class style codes (SEAN; ``"class_styles":
  true`` in their description), a photo and its label map (multipart ``photo``, ``labels``) and
  the page's ``client``, encoded once by each such model -> ``{"source": token, "name",
  "labels_name", "width", "height", "classes"}`` (``classes``: the ids with a style in the
  photo). Synthesis requests for such a model name, per class, the source whose style paints
  it: ``"class_styles": [token, ...]`` (one per class). See :mod:`.styles`.
- ``POST /api/remove-style-source``: ``{"client", "source"}`` -> ``{"removed": token}``.

Uploads go to a temporary folder (``clade-paint-*``), bounded: see :class:`PaintApp`.
"""
import os
import os.path as osp
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.utils import secure_filename

from ...datasets import DatasetError
from ...datasets.image_files import image_size, read_image
from ...datasets.transforms import resize_map
from ...datasets.validation import check_label_range
from .model import PaintModel, Superseded
from .payload import (MAX_SIDE, RequestError, decode_labels, encode_labels, integer,
                      parse_json, png_bytes, png_data_url, shown, text, texts)
from .styles import StyleSources

STATIC = osp.join(osp.dirname(osp.abspath(__file__)), 'static')
# A 4096x4096 16-bit label map in base64 is 45 MB; a photo for the style encoder a few MB.
MAX_REQUEST_BYTES = 48 * 2**20
MAX_UPLOAD_PIXELS = MAX_SIDE * MAX_SIDE
MAX_STYLES = 16


class PaintApp:
    """The state behind the routes: the models and the uploads.

    Each upload is written to a folder of its own in one temporary folder, ``clade-paint-*``,
    and deleted, folder and all, once handled, refused or not; only the :data:`MAX_STYLES`
    newest style images stay, for their tokens. So the temporary folder holds at most
    ``MAX_STYLES`` style images plus the uploads in flight (two per style source upload, one
    per other request). :meth:`close` removes it. Style sources keep their codes, in memory
    (:class:`.styles.StyleSources`).
    """

    def __init__(self, models: Sequence[PaintModel]):
        if not models:
            raise ValueError('the painter needs at least one model')
        self.models: List[PaintModel] = list(models)
        self._uploads = tempfile.TemporaryDirectory(prefix='clade-paint-')
        self._styles: 'OrderedDict[str, str]' = OrderedDict()
        self._styles_lock = threading.Lock()
        self.style_sources = StyleSources()

    @property
    def upload_folder(self) -> str:
        """The temporary folder of the uploads."""
        return self._uploads.name

    def close(self) -> None:
        """Removes the uploads folder and all in it (once the server has stopped serving)."""
        with self._styles_lock:
            self._styles.clear()
        self.style_sources.clear()
        self._uploads.cleanup()

    def model(self, body: dict) -> PaintModel:
        index = integer(body, 'model', 0, len(self.models) - 1, default=0)
        return self.models[index]

    def form_model(self) -> PaintModel:
        """The model a multipart form names: its fields are strings, read as ``integer``
        reads JSON, so that an error names the field."""
        value = request.form.get('model')
        if value is not None and value.isdecimal():  # not '²', which isdigit() passes
            try:
                value = int(value)
            except ValueError:  # more digits than int() reads: refused as the string
                pass
        return self.model(dict(model=value))

    def class_style_models(self) -> List[int]:
        """The indices of the models with per-class style codes (SEAN)."""
        return [i for i, model in enumerate(self.models) if model.class_styles]

    def class_style_codes(self, body: dict, model: PaintModel,
                          client: str) -> Optional[np.ndarray]:
        """The ``(classes, style_channels)`` codes a synthesis request names, per class, by
        style source (``"class_styles"``), for a model with per-class style codes; ``None``
        for another model, which must not be sent any."""
        if not model.class_styles:
            if body.get('class_styles') is not None:
                raise RequestError(f'"class_styles": the {model.norm} model takes no per-class '
                                   'style codes (a SEAN model does); leave it out')
            return None
        if body.get('class_styles') is None:
            raise RequestError(
                f'"class_styles" is missing: the {model.norm} model paints each class in the '
                'style of that class in a photo. Add a style source first (a photo and its '
                'label map: /api/add-style-source, "Add style source" on the page), then name '
                f'one per class ({model.num_classes} source ids)')
        tokens = texts(body, 'class_styles', model.num_classes, 'a style source id per class')
        return self.style_sources.codes(client, tokens, self.models.index(model))

    @contextmanager
    def upload(self, what: str, keep: bool = False, field: str = 'file') -> Iterator[str]:
        """The request's multipart ``field``, written to a folder of its own (the file name
        stays: the checks name the file as the command line would). The folder is removed
        when the block ends; with ``keep``, only when it raises (a style image: ``add_style``
        keeps it)."""
        upload = request.files.get(field)
        if upload is None or not upload.filename:
            raise RequestError(f'send the {what} as the multipart form field "{field}"')
        folder = tempfile.mkdtemp(dir=self.upload_folder)
        kept = False
        try:
            path = osp.join(folder, 'uploaded', secure_filename(upload.filename) or 'file')
            os.makedirs(osp.dirname(path))
            upload.save(path)
            check_pixels(path, upload.filename)
            yield path
            kept = keep
        finally:
            if not kept:
                shutil.rmtree(folder, ignore_errors=True)

    def add_style(self, path: str) -> str:
        """Keeps an uploaded style image; its token is its upload's folder name. The oldest
        beyond :data:`MAX_STYLES` goes, folder and all."""
        token = osp.basename(osp.dirname(osp.dirname(path)))
        with self._styles_lock:
            self._styles[token] = path
            while len(self._styles) > MAX_STYLES:
                old, _ = self._styles.popitem(last=False)
                shutil.rmtree(osp.join(self.upload_folder, old), ignore_errors=True)
        return token

    def style(self, token: str) -> str:
        with self._styles_lock:
            path = self._styles.get(token)
        if path is None:
            raise RequestError(f'no style image "{token[:40]}" on the server (it keeps the '
                               f'{MAX_STYLES} newest): upload it again', 404)
        return path


def check_style_source_files() -> None:
    """A style source is a photo and its label map: a request missing either is refused,
    naming the file that came and the one to add."""
    photo, labels = (request.files.get(field) for field in ('photo', 'labels'))
    photo = photo.filename if photo is not None and photo.filename else None
    labels = labels.filename if labels is not None and labels.filename else None
    if photo and not labels:
        raise RequestError(f'style photo {photo} came without its label map: add the label map '
                           "of the photo's pixels (class ids, pixel-aligned with it; multipart "
                           'field "labels")')
    if labels and not photo:
        raise RequestError(f'label map {labels} came without its photo: add the photo whose '
                           'pixels it labels (multipart field "photo")')
    if not photo:
        raise RequestError('a style source is a photo and its label map: send them as the '
                           'multipart form fields "photo" and "labels"')


def check_pixels(path: str, name: str) -> None:
    """Refuses (413) an image of more than :data:`MAX_UPLOAD_PIXELS` before anything decodes
    it; a file that is not an image passes (its reader says what it is)."""
    width, height = image_size(path) or (0, 0)
    if width * height > MAX_UPLOAD_PIXELS:
        raise RequestError(f'{name} is {width}x{height} pixels; the painter reads at most '
                           f'{MAX_UPLOAD_PIXELS} pixels ({MAX_SIDE}x{MAX_SIDE})', 413)


def create_app(models: Sequence[PaintModel],
               max_request_bytes: int = MAX_REQUEST_BYTES) -> Flask:
    """The painter's Flask app for ``models`` (one, or two to compare side by side)."""
    state = PaintApp(models)
    app = Flask(__name__, static_folder=STATIC, static_url_path='/static')
    app.config.update(MAX_CONTENT_LENGTH=max_request_bytes,
                      TRUSTED_HOSTS=['127.0.0.1', 'localhost'])  # no DNS rebinding
    app.json.sort_keys = False
    app.extensions['clade_paint'] = state

    @app.before_request
    def same_origin_only():
        # Another site's page may post to 127.0.0.1 too; browsers name it in Origin.
        origin = request.headers.get('Origin')
        if origin and origin != request.host_url.rstrip('/'):
            raise RequestError(f'requests from {origin} are refused: open the painter at '
                               f'{request.host_url}', 403)

    @app.get('/')
    def index():
        return send_from_directory(STATIC, 'index.html')

    @app.get('/api/models')
    def list_models():
        return jsonify(models=[dict(index=i, **m.describe()) for i, m in enumerate(state.models)],
                       max_request_bytes=max_request_bytes, max_side=MAX_SIDE)

    @app.post('/api/synthesize')
    def synthesize():
        start = time.perf_counter()
        body = json_body()
        model = state.model(body)
        labels = decode_labels(body.get('labels'))
        client, seq = text(body, 'client'), integer(body, 'seq')
        seed = integer(body, 'seed', 0, 2**32 - 1, default=None)
        style = text(body, 'style', default=None)
        if style is not None:
            if model.class_styles:
                raise RequestError(
                    f'the {model.norm} model paints each class in the style of a photo: add '
                    'the photo with its label map as a style source (/api/add-style-source) and '
                    'name a source per class with "class_styles", instead of "style"')
            if model.style_needs_labels:
                raise RequestError(
                    f"the {model.norm} model's encoder copies each instance's look by class "
                    "and needs the style photo's label map, which the painter does not take: "
                    'use tools/synthesize.py --reference PHOTO --reference-labels MAP')
            if not model.has_style_encoder:
                raise RequestError(f'the {model.norm} model has no style encoder: style images '
                                   'need a config with generator.style_encoder')
            style = state.style(style)
        reroll = pixel(body, 'reroll', labels)
        extra = {}
        if reroll is not None:
            if not model.rerolls:
                raise RequestError(f'"reroll": the {model.norm} model draws no per-instance '
                                   'noise and no noise map, so there is nothing to re-roll '
                                   '(its page shows no re-roll tool)')
            extra['rerolled'] = model.rerolled(labels, reroll)
        codes = state.class_style_codes(body, model, client)
        image, compute_s, wait_s = model.synthesize(labels, client, seq, seed, style, reroll,
                                                    codes)
        return jsonify(model=state.models.index(model), seq=seq, image=png_data_url(image),
                       compute_ms=round(compute_s * 1000, 2), wait_ms=round(wait_s * 1000, 2),
                       server_ms=round((time.perf_counter() - start) * 1000, 2), **extra)

    @app.post('/api/read-labels')
    def read_labels():
        model = state.form_model()
        with state.upload('label map') as path:
            ids = model.synth.read_labels(path)  # the command line's reading and checks
        # Another aspect ratio is refused, as on the command line, not squashed to the canvas.
        canvas = resize_map(model.synth.fit(ids, request.files['file'].filename), model.size)
        return jsonify(labels=encode_labels(canvas), name=request.files['file'].filename,
                       source_width=int(ids.shape[1]), source_height=int(ids.shape[0]),
                       resized=ids.shape != canvas.shape)

    @app.post('/api/save-labels')
    def save_labels():
        body = json_body()
        model = state.model(body)
        labels = decode_labels(body.get('labels'))
        check_label_range(labels, model.num_classes, 'the painted label map')
        return Response(png_bytes(labels, compress_level=6), mimetype='image/png',
                        headers={'Content-Disposition': 'attachment; filename=labels.png'})

    @app.post('/api/style')
    def upload_style():
        with state.upload('style image', keep=True) as path:
            image = read_image(path)  # as tools/synthesize.py --style reads it
            token = state.add_style(path)
        return jsonify(style=token, width=int(image.shape[1]), height=int(image.shape[0]))

    @app.post('/api/add-style-source')
    def add_style_source():
        client = text(dict(client=request.form.get('client')), 'client')
        indices = state.class_style_models()
        if not indices:
            names = [m.norm for m in state.models]
            raise RequestError(
                'style sources are for a model with per-class style codes (SEAN), and '
                f'{" and ".join(names)} {"has" if len(names) == 1 else "have"} none')
        check_style_source_files()
        with state.upload('style photo', field='photo') as photo, \
                state.upload("style photo's label map", field='labels') as labels:
            # the API reads, checks and encodes; a refused file raises before anything is kept
            codes = {i: state.models[i].encode_styles(photo, labels) for i in indices}
            size = image_size(photo)
        files = request.files
        source = state.style_sources.add(client, files['photo'].filename,
                                         files['labels'].filename, size, codes)
        return jsonify(source.describe())

    @app.post('/api/remove-style-source')
    def remove_style_source():
        body = json_body()
        source = state.style_sources.remove(text(body, 'client'), text(body, 'source'))
        return jsonify(removed=source.token)

    @app.errorhandler(RequestError)
    def request_error(err):
        return error(str(err), err.status)

    @app.errorhandler(Superseded)
    def superseded(err):
        return error(str(err), 409, superseded=True)

    @app.errorhandler(DatasetError)
    @app.errorhandler(ValueError)
    def bad_content(err):  # well-formed, but the model refuses it (ids, files, style)
        return error(str(err), 422)

    @app.errorhandler(HTTPException)
    def http_error(err):
        if err.code == 413:
            size = request.content_length
            return error(f'the request is {size if size is not None else "too many"} bytes; '
                         f'the painter accepts at most {max_request_bytes}', 413)
        return error(err.description, err.code)

    @app.errorhandler(Exception)
    def internal_error(err):
        app.logger.exception('painter: %s %s failed', request.method, request.path)
        return error(f'internal error ({type(err).__name__}: {err}); the server log has the '
                     'traceback', 500)

    return app


def pixel(body: dict, key: str, labels) -> Optional[Tuple[int, int]]:
    """``body[key]``, ``{"x", "y"}``, as a pixel ``(x, y)`` of ``labels``; absent or null:
    ``None``."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RequestError(f'"{key}" is {shown(value)}, but an object {{"x", "y"}} (a pixel of '
                           'the label map) was expected')
    height, width = labels.shape[:2]
    return integer(value, 'x', 0, width - 1), integer(value, 'y', 0, height - 1)


def json_body() -> dict:
    if request.mimetype != 'application/json':
        raise RequestError(f'send JSON with Content-Type: application/json (got '
                           f'{request.mimetype or "none"})', 415)
    return parse_json(request.get_data(cache=False))


def error(message: str, status: int, **extra) -> Response:
    response = jsonify(error=message, status=status, **extra)
    response.status_code = status
    return response


class QuietRequestHandler(WSGIRequestHandler):
    """Logs failed requests only: a stroke is a request, and 2xx lines would flood the
    terminal (409, a superseded stroke, is normal too)."""

    def log_request(self, code='-', size='-'):
        code_number = getattr(code, 'value', code)
        if isinstance(code_number, int) and code_number >= 400 and code_number != 409:
            super().log_request(code, size)


def make_paint_server(models: Sequence[PaintModel], port: int = 8765, **kwargs):
    """A threaded server for the painter on ``127.0.0.1:port`` (0: a free port); its
    ``server_port`` is the port. Raises OSError when the port is taken. Once it stops
    serving, :func:`close_paint_server` closes it."""
    return make_server('127.0.0.1', port, create_app(models, **kwargs), threaded=True,
                       request_handler=QuietRequestHandler)


def close_paint_server(server) -> None:
    """Closes a painter server that stopped serving: its socket, and its uploads folder."""
    server.server_close()
    server.app.extensions['clade_paint'].close()


@contextmanager
def running_server(models: Sequence[PaintModel], port: int = 0, **kwargs) -> Iterator[str]:
    """Serve in a background thread; yields the page's URL and stops on exit (tests and
    benchmarks)."""
    server = make_paint_server(models, port, **kwargs)
    thread = threading.Thread(target=server.serve_forever, name='paint-server', daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_port}/'
    finally:
        server.shutdown()
        close_paint_server(server)
        thread.join()
