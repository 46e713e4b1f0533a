"""tools/check_dataset.py on the published SPADE/CLADE COCO-Stuff layout: a sound folder passes
with its figures, and every planted defect is named with its file."""
import io
import os
import subprocess
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def save(path, array, fmt=None, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, fmt, **kwargs)


def spade_sample(root, split, name, h=120, w=160, seed=0):
    """A COCO-Stuff sample as SPADE ships them: JPEG photo, 8-bit ids with 255, 8-bit instances."""
    rng = np.random.default_rng(seed)
    label = np.full((h, w), 156, np.uint8)  # sky-other
    label[h // 2:] = 123  # grass
    label[h // 3:h // 2 + 10, w // 4:w // 2] = 0  # a person
    label[:5] = 255
    instance = label.copy()
    instance[label == 0] = 1
    photo = np.clip(rng.normal(120, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    save(f'{root}/{split}_img/{name}.jpg', photo, quality=90)
    save(f'{root}/{split}_label/{name}.png', label)
    save(f'{root}/{split}_inst/{name}.png', instance)
    return photo, label


def check(root, split='train'):
    return subprocess.run(
        [sys.executable, 'tools/check_dataset.py', 'configs/clade/clade_coco_stuff.py', '--split',
         split, '--out-dir', f'{root}/out', '--cfg-options',
         f'train_dataloader.dataset.data_root={root}',
         f'test_dataloader.dataset.data_root={root}'],
        capture_output=True, text=True, cwd=ROOT)


def test_a_sound_spade_layout_folder_passes_with_its_figures(tmp_path):
    for i in range(3):
        spade_sample(tmp_path, 'train', f'00000000001{i}', seed=i)
    spade_sample(tmp_path, 'val', '000000000139')
    run = check(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert 'pairs found        3' in out and 'missing partners   0' in out
    assert 'label ids seen     4 of num_classes=183 (ids 0..182)' in out
    share = 5 / 120  # the five rows of 255 -> don't-care class 182
    assert f"don't-care pixels  {3 * 5 * 160} ({share:.1%}, class 182)" in out
    assert 'instance maps      3 (3 8-bit ids)' in out
    assert out.rstrip().endswith('OK') or '\nOK\n' in out
    val = check(tmp_path, 'test')
    assert val.returncode == 0 and 'pairs found        1' in val.stdout


def test_every_planted_defect_is_named_and_the_tool_exits_1(tmp_path):
    photo, label = spade_sample(tmp_path, 'train', 'good')
    spade_sample(tmp_path, 'train', 'truncated_photo')
    data = (tmp_path / 'train_img/truncated_photo.jpg').read_bytes()
    (tmp_path / 'train_img/truncated_photo.jpg').write_bytes(data[:len(data) * 2 // 3])
    spade_sample(tmp_path, 'train', 'jpeg_label')
    buffer = io.BytesIO()
    Image.fromarray(label).save(buffer, 'JPEG')
    (tmp_path / 'train_label/jpeg_label.png').write_bytes(buffer.getvalue())
    spade_sample(tmp_path, 'train', 'id_too_high')
    save(f'{tmp_path}/train_label/id_too_high.png', np.where(label == 0, 200, label))
    spade_sample(tmp_path, 'train', 'colour_mask')
    save(f'{tmp_path}/train_label/colour_mask.png',
         np.stack([label, label // 2, np.zeros_like(label)], -1))
    spade_sample(tmp_path, 'train', 'no_label')
    os.remove(tmp_path / 'train_label/no_label.png')
    spade_sample(tmp_path, 'train', 'small_label')
    save(f'{tmp_path}/train_label/small_label.png', label[:60, :80])
    spade_sample(tmp_path, 'train', 'numpy_label')
    with open(tmp_path / 'train_label/numpy_label.png', 'wb') as f:
        np.save(f, label)
    run = check(tmp_path)
    assert run.returncode == 1
    out = run.stdout
    expected = [
        'image train_img/truncated_photo.jpg is truncated or corrupt',
        'label map train_label/jpeg_label.png is a JPEG: lossy compression',
        'label id 200 in train_label/id_too_high.png, but num_classes=183',
        'label map train_label/colour_mask.png is a colour mask',
        'no_label: no partner file',
        'image train_img/small_label.jpg is 160x120 but its label map '
        'train_label/small_label.png is 80x60',
        'label map train_label/numpy_label.png is not a supported format (it is a NumPy',
    ]
    for line in expected:
        assert line in out, f'{line!r} not in the report:\n{out}'
    assert 'pairs found        7' in out and 'ERRORS' in out


def test_255_without_a_mapping_is_named_with_the_fix(tmp_path):
    spade_sample(tmp_path, 'train', 'a')
    run = subprocess.run(
        [sys.executable, 'tools/check_dataset.py', 'configs/clade/clade_coco_stuff.py', '--out-dir',
         f'{tmp_path}/out', '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}',
         'train_dataloader.dataset.pipeline.0.label_mapping=None'],
        capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert ("label id 255 in train_label/a.png, but num_classes=183 (ids 0..182); 255 is the "
            "usual don't-care value") in run.stdout
