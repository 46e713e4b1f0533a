"""One model of the painter: a :class:`SemanticSynthesizer` shared by every request.

A stroke sends a request; the user keeps drawing, so requests of one page arrive faster than a
large generator answers them. Only the newest of a page matters. Each page (``client``)
numbers its requests (``seq``); a request that waits for the model while a newer one of the
same page arrives is answered :class:`Superseded` instead of being computed, so a slow
synthesis never has a queue of stale ones behind it.

A generator with per-instance noise (a layout input declared ``per_instance=True``) keeps, per
page, the random inputs of its last image: each stroke reuses them, so an instance keeps its
look while the page paints elsewhere; an instance new to the page gets its own draw; and a
re-roll re-draws the noise of one instance only (``resample=`` of
:meth:`SemanticSynthesizer.synthesize`).

A generator whose style encoder gives one style code per class (SEAN's) paints from codes the
page picks per class among its style sources (photos with their label maps, encoded once by
:meth:`PaintModel.encode_styles`; the server keeps them, see :mod:`.styles`).
"""
import os.path as osp
import threading
import time
from collections import OrderedDict
from typing import Dict, NamedTuple, Optional, Set, Tuple

import numpy as np

from ...apis import SemanticSynthesizer
from ...datasets.metainfo import class_metainfo

# Pages remembered for superseding; the oldest are forgotten first (a forgotten page's next
# request is simply computed).
MAX_CLIENTS = 256


class Superseded(Exception):
    """A newer request of the same page for the same model arrived while this one waited."""


class KeptInputs(NamedTuple):
    """A page's random inputs of its last image: by layout name, per-instance rows by instance
    id (``seen``: the ids whose rows were drawn), for the ``seed`` and ``style`` of ``key``."""
    key: tuple
    inputs: Dict[str, np.ndarray]
    seen: Set[int]


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
        encoder = getattr(generator, 'style_encoder', None)
        # An encoder that copies each instance's look by class needs the reference photo's
        # label map, which the page does not take: no style image for it.
        self.style_needs_labels = bool(getattr(encoder, 'needs_reference_labels', False))
        self.has_style_encoder = encoder is not None and not self.style_needs_labels
        # Per-class style codes (SEAN's encoder): the page offers a style slot per class, each
        # painted with the code of that class in a photo the user uploaded (a style source).
        self.class_styles = bool(getattr(encoder, 'per_class_codes', False))
        self.has_z = generator.z_channels is not None
        specs = generator.layout_inputs()
        # A generator that reads instance maps (instance edges, per-instance conditioning) gets
        # the painted label map as its instance map: each class region is one instance.
        self.instance_edges = any(spec.name == 'instances' for spec in specs)
        # Random inputs the synthesizer draws from the seed (a code z, per-instance noise).
        self.seeded = any(spec.random and spec.size is not None for spec in specs)
        # Per-instance noise: the page offers a re-roll tool for it.
        self.per_instance = {spec.name for spec in specs if spec.random and spec.per_instance}
        self.rerolls = self.instance_edges and bool(self.per_instance)
        self._model_lock = threading.Lock()
        self._slots_lock = threading.Lock()
        self._newest: 'OrderedDict[str, int]' = OrderedDict()
        self._kept: 'OrderedDict[str, KeptInputs]' = OrderedDict()  # under _model_lock

    def describe(self) -> dict:
        """What the page shows and needs: name, sizes, classes, style options."""
        return dict(
            norm=self.norm, config=osp.basename(self.config) if self.config else '',
            checkpoint=osp.basename(self.checkpoint) if self.checkpoint else None,
            height=self.size[0], width=self.size[1], num_classes=self.num_classes,
            classes=self.classes, style_encoder=self.has_style_encoder, seeded=self.seeded,
            instance_edges=self.instance_edges, reroll=self.rerolls,
            class_styles=self.class_styles)

    def instance_map(self, labels: np.ndarray) -> Optional[np.ndarray]:
        """The instance map the painter gives the generator for a painted label map: the label
        map itself (one instance per class, so edges run where classes meet), or ``None`` for
        a generator that reads none."""
        return labels if self.instance_edges else None

    def encode_styles(self, photo: str, labels: str) -> np.ndarray:
        """The per-class style codes of a photo and its label map (files), as
        :meth:`SemanticSynthesizer.encode_styles` reads, checks and encodes them: ``(classes,
        style_channels)``, zero rows for classes without pixels in the photo."""
        with self._model_lock:  # the encoder is part of the generator the strokes use
            return self.synth.encode_styles(photo, labels)

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
                   style: Optional[str] = None, reroll: Optional[Tuple[int, int]] = None,
                   style_codes: Optional[np.ndarray] = None) -> Tuple[np.ndarray, float, float]:
        """The image of a painted ``(H, W)`` class-id map, through
        :meth:`SemanticSynthesizer.synthesize` (which checks the ids).

        A generator that reads instance maps gets :meth:`instance_map` (the label map: each
        class region is one instance, so edges run where classes meet). One with per-instance
        noise reuses the page's last random inputs (see the module); ``reroll=(x, y)``
        re-draws the noise of the instance at that pixel (a fresh draw, not from ``seed``).
        ``style_codes``, ``(classes, style_channels)``: the per-class codes of a model with
        :attr:`class_styles`.

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
            instances = self.instance_map(labels)
            if seed is None and self.seeded:  # the same picture for the same strokes
                seed = 0
            given = {} if style_codes is None else dict(style_codes=style_codes)
            if self.rerolls:
                image = self._synthesize_kept(labels, instances, client, seed, style, reroll,
                                              given)
            else:
                image, = self.synth.synthesize(labels, instances, style=style, seed=seed,
                                               name='the painted label map', **given)
            return image, time.perf_counter() - started, started - arrived

    def _synthesize_kept(self, labels: np.ndarray, instances: np.ndarray, client: str,
                         seed: Optional[int], style: Optional[str],
                         reroll: Optional[Tuple[int, int]], fixed: dict) -> np.ndarray:
        """The image with the page's kept random inputs: instances new to the page and the
        re-rolled one drawn, the others as before; then keeps what was used. ``fixed``: inputs
        given as they are (style codes), not kept."""
        key = (seed, style)
        kept = self._kept.get(client)
        if kept is not None and kept.key != key:  # a new seed or style: everything anew
            kept = None
        present = {int(i) for i in np.unique(instances)}
        rows = max(present) + 1
        given, resample = {}, set()
        if kept is not None:
            for name, value in kept.inputs.items():
                if name in self.per_instance and value.shape[1] < rows:  # ids new to the page
                    pad = np.zeros((value.shape[0], rows - value.shape[1]) + value.shape[2:],
                                   value.dtype)
                    value = np.concatenate([value, pad], 1)
                given[name] = value
            resample = present - kept.seen
        if reroll is not None:
            x, y = reroll
            resample.add(int(instances[y, x]))
            seed = None  # a re-roll is a new look each time
        images, used = self.synth.synthesize(
            labels, instances, style=style, seed=seed, name='the painted label map',
            resample=sorted(resample) if given and resample else None, return_inputs=True,
            **given, **fixed)
        inputs = dict(used[0])
        ids = sorted(present)
        for name in self.per_instance & set(given):  # rows of ids absent now stay kept
            merged = given[name].copy()
            merged[:, ids] = inputs[name][:, ids]
            inputs[name] = merged
        self._kept[client] = KeptInputs(key, inputs, present | (kept.seen if kept else set()))
        self._kept.move_to_end(client)
        while len(self._kept) > MAX_CLIENTS:
            self._kept.popitem(last=False)
        return images[0]
