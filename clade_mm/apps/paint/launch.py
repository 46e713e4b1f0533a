"""Loading the painter's models and serving them (what ``tools/paint.py`` runs)."""
import glob
import os.path as osp
import re
import signal
import threading
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

from ...apis import SemanticSynthesizer, load_config
from .model import PaintModel
from .server import close_paint_server, make_paint_server


def demo_checkpoint(work_dir: str) -> Optional[str]:
    """The newest checkpoint that training wrote to ``work_dir`` (its ``last_checkpoint``,
    else the highest ``iter_N.pth``), or ``None``."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            path = f.read().strip()
        for candidate in (path, osp.join(work_dir, osp.basename(path))):
            if candidate and osp.isfile(candidate):
                return candidate
    iterations = [(int(re.search(r'iter_(\d+)\.pth$', p).group(1)), p)
                  for p in glob.glob(osp.join(work_dir, 'iter_*.pth'))]
    return max(iterations)[1] if iterations else None


def load_models(specs: Sequence[Tuple[str, Optional[str]]], cfg_options: Optional[dict] = None,
                device: str = 'cpu', precision: str = 'auto') -> List[PaintModel]:
    """One :class:`PaintModel` per ``(config, checkpoint)``; models shown side by side must
    paint the same classes. ``precision`` as :class:`SemanticSynthesizer`'s."""
    models = [PaintModel(SemanticSynthesizer(load_config(config, cfg_options), checkpoint,
                                             device=device, precision=precision),
                         config, checkpoint)
              for config, checkpoint in specs]
    first = models[0]
    for other in models[1:]:
        names = [c['name'] for c in first.classes], [c['name'] for c in other.classes]
        if other.num_classes != first.num_classes or names[0] != names[1]:
            raise ValueError(
                f'{other.config} paints {other.num_classes} classes and {first.config} '
                f'{first.num_classes}, or the same number with other names: --compare needs '
                'two models of one dataset (e.g. its CLADE and SPADE configs)')
    return models


def describe(model: PaintModel) -> str:
    weights = osp.basename(model.checkpoint) if model.checkpoint else 'initial weights'
    return (f'{model.norm} ({osp.basename(model.config)}, {weights}; '
            f'{model.size[1]}x{model.size[0]}, {model.num_classes} classes)')


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (``kill``, a service manager) raises KeyboardInterrupt as Ctrl-C does, so that
    both stop the server the same way; its default would end the process at once, leaving the
    uploads folder behind. Only the main thread can set a handler: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def serve(models: Sequence[PaintModel], port: int = 8765) -> None:
    """Serve the painter on 127.0.0.1 until Ctrl-C or SIGTERM; prints the URL. Either way the
    uploads folder is removed."""
    with sigterm_as_ctrl_c():
        server = make_paint_server(models, port)
        try:
            print('clade-mm painter: ' + ' vs '.join(describe(m) for m in models))
            print(f'open http://127.0.0.1:{server.server_port}/ in a browser (Ctrl-C stops)',
                  flush=True)
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            close_paint_server(server)
