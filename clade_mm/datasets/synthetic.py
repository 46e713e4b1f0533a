"""Procedural scenes to train and test on without any download.

Each scene is a (label map, photo, instance map) triple: a sky above a wavy horizon, ground of
grass and water, a few trees (several instances of one class) and rocks, sometimes a building.
Classes have distinct colours *and* textures (gradient, stripes, waves, blotches, speckle,
windows) with a per-image lighting shift, so a generator must use the label map to paint the
right texture in the right place; large flat regions are the case CLADE is about.
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

CLASSES = ('sky', 'grass', 'water', 'tree', 'rock', 'building')
# Mean RGB of each class; the textures vary around it.
COLOURS = np.array([[120, 170, 235], [70, 160, 60], [40, 80, 160], [20, 90, 35],
                    [130, 125, 120], [170, 80, 60]], dtype=np.float32)
SKY, GRASS, WATER, TREE, ROCK, BUILDING = range(len(CLASSES))


def _texture(cls: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """An (h, w) field of brightness offsets characteristic of class ``cls``."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if cls == SKY:  # brighter towards the horizon
        return 40 * ys / h - 20
    if cls == GRASS:  # fine vertical blades
        return 18 * np.sin(xs * 1.7 + rng.uniform(0, 6)) + rng.normal(0, 6, (h, w))
    if cls == WATER:  # horizontal waves
        return 25 * np.sin(ys * 0.9 + 0.3 * np.sin(xs * 0.2) + rng.uniform(0, 6))
    if cls == TREE:  # blotchy foliage
        coarse = rng.normal(0, 22, (h // 4 + 1, w // 4 + 1))
        return np.kron(coarse, np.ones((4, 4)))[:h, :w]
    if cls == ROCK:  # speckle
        return rng.normal(0, 25, (h, w))
    # building: a grid of dark windows
    return np.where((ys.astype(int) % 6 < 3) & (xs.astype(int) % 6 < 3), -60.0, 10.0)


def make_scene(size: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene.

    Returns:
        ``label`` (size, size) uint8 class ids, ``image`` (size, size, 3) uint8 RGB and
        ``instance`` (size, size) uint16 ids (``class * 1000 + k``, unique per object).
    """
    label = np.full((size, size), SKY, dtype=np.uint8)
    instance = np.zeros((size, size), dtype=np.uint16)
    ys, xs = np.mgrid[0:size, 0:size]
    horizon = size * rng.uniform(0.3, 0.6) + size * 0.05 * np.sin(
        xs[0] / size * rng.uniform(2, 8) + rng.uniform(0, 6))
    ground = ys >= horizon[None, :]
    label[ground] = GRASS
    # water: a band below the horizon with a wavy top edge
    water_top = size * rng.uniform(0.55, 0.85) + size * 0.04 * np.sin(xs[0] / size * 9)
    if rng.random() < 0.7:
        label[ground & (ys >= water_top[None, :])] = WATER
    if rng.random() < 0.4:  # a building standing on the horizon
        left = int(rng.uniform(0, 0.7) * size)
        width = int(rng.uniform(0.15, 0.3) * size)
        base = int(horizon[min(left + width // 2, size - 1)])
        top = max(0, base - int(rng.uniform(0.15, 0.35) * size))
        label[top:base, left:left + width] = BUILDING
        instance[top:base, left:left + width] = BUILDING * 1000 + 1
    for k in range(int(rng.integers(1, 5))):  # trees: several instances of one class
        cx, cy = rng.uniform(0.05, 0.95) * size, horizon.mean() + rng.uniform(-0.05, 0.2) * size
        rx, ry = rng.uniform(0.05, 0.12) * size, rng.uniform(0.08, 0.18) * size
        crown = ((xs - cx) / rx) ** 2 + ((ys - (cy - ry)) / ry) ** 2 <= 1
        label[crown] = TREE
        instance[crown] = TREE * 1000 + k + 1
    for k in range(int(rng.integers(0, 3))):  # rocks on the ground
        cx, cy = rng.uniform(0.1, 0.9) * size, rng.uniform(0.75, 0.95) * size
        r = rng.uniform(0.03, 0.07) * size
        rock = ((xs - cx) / (1.5 * r)) ** 2 + ((ys - cy) / r) ** 2 <= 1
        label[rock] = ROCK
        instance[rock] = ROCK * 1000 + k + 1
    stuff = instance == 0
    instance[stuff] = label[stuff].astype(np.uint16) * 1000

    light = rng.uniform(-25, 25)  # per-image lighting: colours vary, classes stay apart
    image = np.empty((size, size, 3), dtype=np.float32)
    for cls in range(len(CLASSES)):
        mask = label == cls
        if mask.any():
            shade = _texture(cls, size, size, rng)[mask]
            image[mask] = COLOURS[cls] + light + shade[:, None]
    image += rng.normal(0, 3, image.shape)
    return label, np.clip(image, 0, 255).astype(np.uint8), instance


SYNTHETIC_FOLDERS = ('images', 'labels', 'instances')


def synthetic_file_names(num_train: int = 200, num_val: int = 40) -> Dict[str, List[str]]:
    """``{'train/images': [...], ...}``: the files :func:`write_synthetic_dataset` writes."""
    return {f'{split}/{folder}': [f'{index:05d}.png' for index in range(count)]
            for split, count in (('train', num_train), ('val', num_val))
            for folder in SYNTHETIC_FOLDERS}


def write_synthetic_dataset(root: str, num_train: int = 200, num_val: int = 40, size: int = 64,
                            seed: int = 0,
                            write: Optional[Callable[[str, bytes], None]] = None
                            ) -> Dict[str, int]:
    """Write ``root/{train,val}/{images,labels,instances}/NNNNN.png``; returns the counts.

    Deterministic for a seed: the same call writes the same files. ``write(path, png_bytes)``
    writes one file (default: a plain file write); ``tools/make_synthetic_dataset.py`` passes
    one that never replaces a file it did not write.
    """
    import cv2
    if write is None:
        def write(path, data):
            with open(path, 'wb') as f:
                f.write(data)
    counts = {}
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        for folder in SYNTHETIC_FOLDERS:
            os.makedirs(osp.join(root, split, folder), exist_ok=True)
        for index in range(count):
            label, image, instance = make_scene(size, rng)
            name = f'{index:05d}.png'
            for folder, array in zip(SYNTHETIC_FOLDERS, (image[..., ::-1], label, instance)):
                png = cv2.imencode('.png', array)[1].tobytes()
                write(osp.join(root, split, folder, name), png)
        counts[split] = count
    return counts
