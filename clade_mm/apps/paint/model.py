"""One model of the painter: a :class:`SemanticSynthesizer` shared by every request.

A stroke sends a request; the user keeps drawing, so requests of one page arrive faster than a
large generator answers them. Only the newest of a page matters. Each page (``client``)
numbers its requests (``seq``); a request that waits for the model while a newer one of the
same page arrives is answered :class:`Superseded` instead of being computed, so a slow
synthesis never has a queue of stale ones behind it.
"""
import os.path as osp
import threading
import time
from collections import OrderedDict
from typing import Optional, Tuple

import numpy as np

from ...apis import SemanticSynthesizer
from ...datasets.metainfo import class_metainfo

# Pages remembered for superseding; the oldest are forgotten first (a forgotten page's next
# request is simply computed).
MAX_CLIENTS = 256


class Superseded(Exception):
    """A newer request of the same page for the same model arrived while this one waited."""


class PaintModel:
    """A synthesizer, what the page needs to know about it, and its request slots.

    Args:
        synthesizer: the model; it is only ever used by one request at a time.
        config, checkpoint: the files it came from (shown on the page).
    """

    def __init__(self, synthesizer: SemanticSynthesizer, config: str = '',
                 checkpoint: Optional[str] = None):
        self.synth = synthesizer
        generator = synthesizer.generator
        self.num_classes = int(generator.num_classes)
        if not synthesizer.image_size:
            raise ValueError(f'{config or "the config"} sets no image_size: the painter needs '
                             "the model's label map size (image_size = (h, w) in the config)")
        self.size = tuple(int(s) for s in synthesizer.image_size)  # (h, w)
        self.norm = str(synthesizer.cfg.model.generator.norm_cfg.get('type', '?'))
        self.config, self.checkpoint = config, checkpoint
        self.classes = class_metainfo(synthesizer.cfg, self.num_classes)
        self.has_style_encoder = getattr(generator, 'style_encoder', None) is not None
        self.has_z = generator.z_channels is not None
        # A generator that reads instance maps (instance edges, per-instance conditioning) gets
        # the painted label map as its instance map: each class region is one instance.
        self.instance_edges = any(spec.name == 'instances'
                                  for spec in generator.layout_inputs())
        self._model_lock = threading.Lock()
        self._slots_lock = threading.Lock()
        self._newest: 'OrderedDict[str, int]' = OrderedDict()

    def describe(self) -> dict:
        """What the page shows and needs: name, sizes, classes, style options."""
        return dict(
            norm=self.norm, config=osp.basename(self.config) if self.config else '',
            checkpoint=osp.basename(self.checkpoint) if self.checkpoint else None,
            height=self.size[0], width=self.size[1], num_classes=self.num_classes,
            classes=self.classes, style_encoder=self.has_style_encoder, seeded=self.has_z,
            instance_edges=self.instance_edges)

    def _claim(self, client: str, seq: int) -> None:
        with self._slots_lock:
            newest = self._newest.get(client)
            if newest is not None and seq <= newest:
                raise Superseded(f'request {seq} of this page arrived after its request '
                                 f'{newest}')
            self._newest[client] = seq
            self._newest.move_to_end(client)
            while len(self._newest) > MAX_CLIENTS:
                self._newest.popitem(last=False)

    def _still_newest(self, client: str, seq: int) -> None:
        with self._slots_lock:
            newest = self._newest.get(client, seq)
        if newest != seq:
            raise Superseded(f'request {seq} of this page was superseded by its request '
                             f'{newest} while it waited')

    def synthesize(self, labels: np.ndarray, client: str, seq: int, seed: Optional[int] = None,
                   style: Optional[str] = None) -> Tuple[np.ndarray, float, float]:
        """The image of a painted ``(H, W)`` class-id map, through
        :meth:`SemanticSynthesizer.synthesize` (which checks the ids).

        A generator that reads instance maps gets the label map as its instance map: each class
        region is one instance, so edges run where classes meet.

        Returns:
            ``(image, compute_s, wait_s)``: the ``(h, w, 3)`` uint8 RGB image, the seconds the
            synthesis took and the seconds the request waited for the model.

        Raises:
            Superseded: a newer request of ``client`` arrived before this one ran.
        """
        self._claim(client, seq)
        arrived = time.perf_counter()
        with self._model_lock:
            started = time.perf_counter()
            self._still_newest(client, seq)
            instances = labels if self.instance_edges else None
            if seed is None and self.has_z:  # the same picture for the same strokes
                seed = 0
            image, = self.synth.synthesize(labels, instances, style=style, seed=seed,
                                           name='the painted label map')
            return image, time.perf_counter() - started, started - arrived
