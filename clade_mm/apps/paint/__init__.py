"""Paint a scene: a browser painter whose label map a model turns into an image as you draw.

``tools/paint.py`` serves it; :func:`create_app` is the Flask app, :class:`PaintModel` one model
behind it (a :class:`~clade_mm.apis.SemanticSynthesizer` guarded for concurrent requests).
The page (``static/``) is plain HTML, CSS and JavaScript served from the package.
"""
from .launch import demo_checkpoint, load_models, serve
from .model import PaintModel, Superseded
from .server import create_app, make_paint_server, running_server

__all__ = ['PaintModel', 'Superseded', 'create_app', 'demo_checkpoint', 'load_models',
           'make_paint_server', 'running_server', 'serve']
