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

A generator with a noise map (a spatial random input, one a caller may give as a vector per
sample: ``vector_per_sample=True``, as a 3D noise is declared) is kept the same way, per class:
the page's last map holds one vector per class (the synthesizer draws one vector per image, and
re-draws the chosen classes' pixels with one vector), so the painter keeps that vector for each
class and gives back the map of the painted classes' vectors with each stroke: a region keeps
its look, pixels painted over take the vector of their new class, a class new to the page is
drawn from the seed (as a new page would draw it), and a re-roll re-draws the clicked class's
vector only (``resample_classes=``).

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
from ...datasets.transforms import resize_map

# Pages remembered for superseding; the oldest are forgotten first (a forgotten page's next
# request is simply computed).
MAX_CLIENTS = 256


class Superseded(Exception):
    """A newer request of the same page for the same model arrived while this one waited."""


class KeptInputs(NamedTuple):
    """A page's random inputs of its last image, for the ``seed`` and ``style`` of ``key``: by
    layout name, per-instance rows by instance id (``seen``: the ids whose rows were drawn), a
    noise map as one row per class id (``classes``: those whose rows were drawn)."""
    key: tuple
    inputs: Dict[str, np.ndarray]
    seen: Set[int]
    classes: Set[int] = frozenset()


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
        # What the model reads and draws comes from its layout inputs' declarations, whatever
        # the family is called.
        specs = generator.layout_inputs()
        # A generator that reads instance maps (instance edges, per-instance conditioning) gets
        # the painted label map as its instance map: each class region is one instance.
        self.instance_edges = any(spec.name == 'instances' for spec in specs)
        # Random inputs the synthesizer draws from the seed (a code z, per-instance noise, a
        # noise map it samples).
        self.seeded = any(SemanticSynthesizer.draws(spec) for spec in specs)
        # Per-instance noise: the page offers a re-roll tool for it.
        self.per_instance = {spec.name for spec in specs if spec.random and spec.per_instance}
        # Noise maps (a 3D noise) a caller may give back: kept per class, re-rolled by class.
        self.noise_maps = {spec.name for spec in specs
                           if spec.spatial and spec.random and spec.vector_per_sample}
        self.rerolls = (self.instance_edges and bool(self.per_instance)) or bool(self.noise_maps)
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

    @staticmethod
    def rerolled(labels: np.ndarray, reroll: Tuple[int, int]) -> int:
        """The region a re-roll at pixel ``(x, y)`` re-draws: the class there (the painter's
        instances are the class regions, so it is also the instance id)."""
        x, y = reroll
        return int(labels[y, x])

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
        noise or a noise map reuses the page's last random inputs (see the module);
        ``reroll=(x, y)`` re-draws the noise of the instance, or of the class, at that pixel
        (a fresh draw, not from ``seed``).
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

    def _synthesize_kept(self, labels: np.ndarray, instances: Optional[np.ndarray], client: str,
                         seed: Optional[int], style: Optional[str],
                         reroll: Optional[Tuple[int, int]], fixed: dict) -> np.ndarray:
        """The image with the page's kept random inputs: instances and classes new to the page
        and the re-rolled one drawn, the others as before; then keeps what was used. ``fixed``:
        inputs given as they are (style codes), not kept."""
        name = 'the painted label map'
        key = (seed, style)
        kept = self._kept.get(client)
        if kept is not None and kept.key != key:  # a new seed or style: everything anew
            kept = None
        present = set() if instances is None else {int(i) for i in np.unique(instances)}
        # the classes of the map the model reads (its size), whose pixels take a class's noise
        model_labels = resize_map(self.synth.fit(labels, name), self.size) \
            if self.noise_maps else None
        classes = set() if model_labels is None else {int(c) for c in np.unique(model_labels)}
        given, resample, resample_classes = {}, set(), set()
        if kept is not None:
            for input_name, value in kept.inputs.items():
                if input_name in self.per_instance and value.shape[1] <= max(present):
                    pad = np.zeros((value.shape[0], max(present) + 1 - value.shape[1])
                                   + value.shape[2:], value.dtype)  # ids new to the page
                    value = np.concatenate([value, pad], 1)
                elif input_name in self.noise_maps:  # each pixel its class's vector
                    value = np.ascontiguousarray(value[model_labels].transpose(2, 0, 1)[None])
                given[input_name] = value
            resample = present - kept.seen
            resample_classes = classes - kept.classes
        if reroll is not None:
            region = self.rerolled(labels, reroll)
            if self.per_instance:
                resample.add(region)
            if self.noise_maps:
                resample_classes.add(region)
            seed = None  # a re-roll is a new look each time
        again = dict(resample=sorted(resample) or None if self.per_instance else None,
                     resample_classes=sorted(resample_classes) or None if self.noise_maps
                     else None)
        images, used = self.synth.synthesize(
            labels, instances, style=style, seed=seed, name=name, return_inputs=True,
            **(again if kept is not None else {}), **given, **fixed)
        inputs = dict(used[0])
        ids = sorted(present)
        for input_name in self.per_instance & set(given):  # rows of ids absent now stay kept
            merged = given[input_name].copy()
            merged[:, ids] = inputs[input_name][:, ids]
            inputs[input_name] = merged
        for input_name in self.noise_maps & set(inputs):  # classes absent now stay kept
            noise = inputs[input_name][0]
            rows = kept.inputs[input_name].copy() if kept is not None else np.zeros(
                (self.num_classes, noise.shape[0]), noise.dtype)
            found, first = np.unique(model_labels.ravel(), return_index=True)
            rows[found] = noise.reshape(noise.shape[0], -1)[:, first].T
            inputs[input_name] = rows
        self._kept[client] = KeptInputs(key, inputs, present | (kept.seen if kept else set()),
                                        classes | (kept.classes if kept else set()))
        self._kept.move_to_end(client)
        while len(self._kept) > MAX_CLIENTS:
            self._kept.popitem(last=False)
        return images[0]
