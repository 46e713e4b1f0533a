"""tools/check_dataset.py on the published SPADE/CLADE COCO-Stuff layout: a sound folder passes
with its figures, and every planted defect is named with its file."""
import io
import os
import subprocess
import sys

import numpy as np
from mmengine.config import Config
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


CELEBAMASK_HQ = 'configs/_base_/datasets/celebamask_hq.py'
CELEBAMASK_HQ_PALETTE = np.asarray(Config.fromfile(os.path.join(ROOT, CELEBAMASK_HQ)).palette,
                                   np.uint8)  # the colours of the dataset's vis/ pictures


def celebamask_hq_sample(root, split, name, photo_size=512, seed=0):
    """A sample of SEAN's CelebA-HQ folder: JPEG photo, 512x512 8-bit ids 0..18, and the
    colour picture of the ids in vis/."""
    rng = np.random.default_rng(seed)
    label = np.zeros((512, 512), np.uint8)  # background
    label[100:420, 140:380] = 1  # skin
    label[:100] = 13  # hair
    label[200:220, 190:240] = 4  # l_eye
    label[200:220, 280:330] = 5  # r_eye
    label[440:] = 18  # cloth
    photo = np.clip(rng.normal(120, 40, (photo_size, photo_size, 3)), 0, 255).astype(np.uint8)
    save(f'{root}/{split}/images/{name}.jpg', photo, quality=90)
    save(f'{root}/{split}/labels/{name}.png', label)
    save(f'{root}/{split}/vis/{name}.png', CELEBAMASK_HQ_PALETTE[label])
    return label


def check_celebamask_hq(root, *args):
    return subprocess.run(
        [sys.executable, 'tools/check_dataset.py', CELEBAMASK_HQ, *args, '--out-dir',
         f'{root}/out', '--cfg-options', f'train_dataloader.dataset.data_root={root}',
         f'test_dataloader.dataset.data_root={root}'],
        capture_output=True, text=True, cwd=ROOT)


def test_a_sound_celebamask_hq_folder_passes_with_its_figures(tmp_path):
    celebamask_hq_sample(tmp_path, 'train', '0', photo_size=1024)  # a CelebA-HQ original
    celebamask_hq_sample(tmp_path, 'train', '1', photo_size=512, seed=1)
    celebamask_hq_sample(tmp_path, 'train', '2', photo_size=1024, seed=2)
    celebamask_hq_sample(tmp_path, 'test', '28000', photo_size=1024)
    run = check_celebamask_hq(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    train, test = run.stdout.split('celebamask_hq, test split')
    assert 'pairs found        3' in train and 'missing partners   0' in train
    assert 'label ids seen     6 of num_classes=19 (ids 0..18)' in train
    assert "don't-care" not in train and 'instance maps' not in train
    assert '\nOK\n' in train
    assert 'pairs found        1' in test and '\nOK\n' in test
    assert (tmp_path / 'out/celebamask_hq_train_class_pixels.png').is_file()


def test_every_planted_celebamask_hq_defect_is_named_and_the_tool_exits_1(tmp_path):
    label = celebamask_hq_sample(tmp_path, 'train', '0', photo_size=1024)
    celebamask_hq_sample(tmp_path, 'train', '1')
    path = tmp_path / 'train/images/1.jpg'  # a download cut short
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    celebamask_hq_sample(tmp_path, 'train', '2')
    path = tmp_path / 'train/labels/2.png'
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    celebamask_hq_sample(tmp_path, 'train', '3')
    save(f'{tmp_path}/train/labels/3.png', np.where(label == 18, 19, label).astype(np.uint8))
    celebamask_hq_sample(tmp_path, 'train', '4')  # 255: SEAN's "unknown", not a class here
    save(f'{tmp_path}/train/labels/4.png', np.where(label == 0, 255, label).astype(np.uint8))
    celebamask_hq_sample(tmp_path, 'train', '5')  # the vis/ picture given as the label map
    save(f'{tmp_path}/train/labels/5.png', CELEBAMASK_HQ_PALETTE[label])
    celebamask_hq_sample(tmp_path, 'train', '6')
    os.remove(tmp_path / 'train/labels/6.png')
    celebamask_hq_sample(tmp_path, 'train', '7')
    os.remove(tmp_path / 'train/images/7.jpg')
    celebamask_hq_sample(tmp_path, 'train', '8', photo_size=1024)  # a map of a quarter size
    save(f'{tmp_path}/train/labels/8.png', label[::2, ::2])
    run = check_celebamask_hq(tmp_path, '--split', 'train')
    assert run.returncode == 1
    out = run.stdout
    expected = [
        'image images/1.jpg is truncated or corrupt',
        'label map labels/2.png is truncated or corrupt',
        'label id 19 in labels/3.png, but num_classes=19 (ids 0..18)',
        "label id 255 in labels/4.png, but num_classes=19 (ids 0..18); 255 is the usual "
        "don't-care value",
        'label map labels/5.png is a colour mask',
        '6: no partner file',
        '7: no partner file',
        'image images/8.jpg is 1024x1024 but its label map labels/8.png is 256x256: the image '
        'must be 1x or 2x the size of its label map',
    ]
    for line in expected:
        assert line in out, f'{line!r} not in the report:\n{out}'
    assert 'pairs found        7' in out and 'missing partners   2' in out and 'ERRORS' in out
    assert 'images/0.jpg' not in out  # the sound sample is not blamed
