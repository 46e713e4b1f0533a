"""Style sources of the painter's pages, for models with per-class style codes (SEAN).

A style source is a photo with its label map, uploaded by a page: each such model encodes it
once (:meth:`PaintModel.encode_styles`, the API's ``encode_styles``) and the server keeps the
codes, not the files. A synthesis request then names, per class, the source whose code of
that class paints it; the server gathers those rows into the ``(classes, style_channels)``
codes the model takes.

Sources belong to the page that uploaded them (its client id): another page cannot name them.
Only the :data:`MAX_STYLE_SOURCES` most recently used (uploaded or painted with) are kept,
across pages; a forgotten one is refused with 404 and is uploaded again.
"""
import secrets
import threading
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy as np

from .payload import RequestError

# Sources kept across pages. A source holds a (classes, style_channels) float32 array per
# model: ADE20k's 151 x 512 codes are 0.3 MB, so at most about 20 MB for two models.
MAX_STYLE_SOURCES = 32


class StyleSource(NamedTuple):
    """One uploaded photo and label map, encoded: ``codes`` by model index, ``classes`` the
    ids with a style in the photo (a non-zero code for every model)."""
    token: str
    name: str
    labels_name: str
    width: int
    height: int
    codes: Dict[int, np.ndarray]
    classes: List[int]

    def describe(self) -> dict:
        """What the page shows of it."""
        return dict(source=self.token, name=self.name, labels_name=self.labels_name,
                    width=self.width, height=self.height, classes=self.classes)


def present_classes(codes: Dict[int, np.ndarray]) -> List[int]:
    """The classes with pixels in the photo as the encoders saw it: a zero code means none (the
    published SEAN's code of an absent class), for every model."""
    rows = np.all([code.any(axis=1) for code in codes.values()], axis=0)
    return np.flatnonzero(rows).tolist()


class StyleSources:
    """The pages' style sources by ``(client, token)``, least recently used forgotten first."""

    def __init__(self, limit: int = MAX_STYLE_SOURCES):
        self.limit = limit
        self._sources: 'OrderedDict[Tuple[str, str], StyleSource]' = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sources)

    def add(self, client: str, name: str, labels_name: str, size: Tuple[int, int],
            codes: Dict[int, np.ndarray]) -> StyleSource:
        """Keeps a page's new source (``size``: the photo's ``(width, height)``)."""
        with self._lock:
            token = secrets.token_hex(8)
            while (client, token) in self._sources:
                token = secrets.token_hex(8)
            source = StyleSource(token, name, labels_name, int(size[0]), int(size[1]), codes,
                                 present_classes(codes))
            self._sources[client, token] = source
            while len(self._sources) > self.limit:
                self._sources.popitem(last=False)
        return source

    def get(self, client: str, token: str) -> StyleSource:
        """A source of this page; it counts as used."""
        with self._lock:
            source = self._sources.get((client, token))
            if source is not None:
                self._sources.move_to_end((client, token))
        if source is None:
            raise RequestError(
                f'no style source "{token[:40]}" of this page on the server (it keeps the '
                f'{self.limit} most recently used, across pages): add its photo and label map '
                'again', 404)
        return source

    def remove(self, client: str, token: str) -> StyleSource:
        source = self.get(client, token)
        with self._lock:
            self._sources.pop((client, token), None)
        return source

    def clear(self) -> None:
        with self._lock:
            self._sources.clear()

    def codes(self, client: str, tokens: Sequence[str], model: int) -> np.ndarray:
        """The ``(classes, style_channels)`` codes of ``model`` with row ``j`` from the source
        ``tokens[j]``."""
        sources = {token: self.get(client, token) for token in dict.fromkeys(tokens)}
        rows = [sources[token].codes[model][j] for j, token in enumerate(tokens)]
        return np.stack(rows)
