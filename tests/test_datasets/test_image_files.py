"""Every file is decoded whole or refused by name: truncated, corrupt, lossy or foreign files."""
import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from clade_mm.datasets import DatasetError, read_image, read_map


def photo(h=120, w=160, seed=0):
    """A photo-like image: smooth gradients plus texture, so a JPEG has real entropy."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w]
    base = np.stack([xs * 255 / w, ys * 255 / h, (xs + ys) * 127 / (h + w)], -1)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def encoded(array, fmt, **kwargs):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_a_whole_jpeg_reads_as_bgr_like_pil(tmp_path):
    path = tmp_path / 'photo.jpg'
    path.write_bytes(encoded(photo(), 'JPEG', quality=90))
    image = read_image(str(path))
    assert np.array_equal(image[..., ::-1], np.asarray(Image.open(path).convert('RGB')))


@pytest.mark.parametrize('fmt, keep', [('JPEG', 0.5), ('JPEG', 0.98), ('PNG', 0.5)])
def test_truncated_photos_are_refused_by_name(tmp_path, fmt, keep):
    data = encoded(photo(), fmt)
    path = tmp_path / 'images' / f'cut.{fmt.lower()}'
    path.parent.mkdir()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(DatasetError, match=r'image images/cut\.\w+ is truncated or corrupt') as err:
        read_image(str(path))
    assert err.value.kind == 'unreadable'


def test_truncated_files_are_refused_even_when_pil_is_told_to_accept_them(tmp_path):
    data = encoded(photo(), 'JPEG')
    path = tmp_path / 'cut.jpg'
    path.write_bytes(data[:len(data) // 2])
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as some libraries set it, process-wide
    try:
        with pytest.raises(DatasetError, match='truncated or corrupt'):
            read_image(str(path))
        assert ImageFile.LOAD_TRUNCATED_IMAGES  # and the caller's setting is left alone
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_corrupt_png_data_is_refused(tmp_path):
    data = bytearray(encoded(photo(), 'PNG'))
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    path = tmp_path / 'broken.png'
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match='broken.png is truncated or corrupt'):
        read_image(str(path))


def test_jpeg_label_maps_are_refused_as_lossy(tmp_path):
    ids = np.kron(np.arange(0, 160, 10).reshape(4, 4), np.ones((13, 13))).astype(np.uint8)
    path = tmp_path / 'labels' / 'a.jpg'
    path.parent.mkdir()
    path.write_bytes(encoded(ids, 'JPEG', quality=95))
    decoded = np.asarray(Image.open(path))
    assert (decoded != ids).mean() > 0.01  # what would be trained on: wrong ids at the borders
    with pytest.raises(DatasetError, match=r'label map labels/a.jpg is a JPEG: lossy') as err:
        read_map(str(path))
    assert err.value.kind == 'format'


@pytest.mark.parametrize('content, found', [
    (None, r'it is a NumPy \.npy array'),
    (b'id,class\n0,sky\n', 'its content is not an image PIL can read'),
])
def test_foreign_files_are_an_unsupported_format_not_corrupt(tmp_path, content, found):
    path = tmp_path / 'a.png'
    if content is None:
        np.save(tmp_path / 'a.npy', np.zeros((4, 4), np.uint8))
        content = (tmp_path / 'a.npy').read_bytes()
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=f'a.png is not a supported format \\({found}') as err:
        read_map(str(path))
    assert err.value.kind == 'format'


def test_empty_file(tmp_path):
    path = tmp_path / 'a.png'
    path.write_bytes(b'')
    with pytest.raises(DatasetError, match='a.png is an empty file'):
        read_map(str(path))


def test_maps_keep_their_stored_values(tmp_path):
    ids16 = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 9  # beyond 8 bits
    Image.fromarray(ids16).save(tmp_path / 'a16.png')
    assert np.array_equal(read_map(str(tmp_path / 'a16.png')), ids16)
    panoptic = np.zeros((8, 8, 3), np.uint8)
    panoptic[:, 4:] = (1, 2, 3)
    Image.fromarray(panoptic).save(tmp_path / 'p.png')
    assert np.array_equal(read_map(str(tmp_path / 'p.png')), panoptic)
