"""The painter's style slots, for a model with per-class style codes (the shipped synthetic-scene
SEAN, random weights at which a style shows): an uploaded photo and label map become a style
source, encoded once by the API; each class is painted with the code of the source picked for
it; bad uploads are refused naming the file and change nothing; other models are not affected.
The browser path is in test_paint_browser.py.

Untrained, the model paints every pixel 0 or 255 and a class's style reaches the whole image
through its low-resolution blocks: a new style for a class shows as pixels flipping, so the
tests hold the image to the API's image of the chosen codes, exactly, rather than to where it
changes."""
import io
import itertools
import os

import numpy as np
import pytest
from PIL import Image

from clade_mm.apps.paint import create_app
from clade_mm.datasets import DatasetError
from tests.test_apps.paint_helpers import (decode_image, paint_model, sean_paint_model,
                                           style_source_files, wire)

SKY, GRASS, WATER, TREE, ROCK, BUILDING = range(6)
# Request numbers: each request a newer one, as a page numbers its strokes.
SEQ = itertools.count(1)


@pytest.fixture(scope='module')
def sean(tmp_path_factory):
    return sean_paint_model(tmp_path_factory.mktemp('sean'))


@pytest.fixture(scope='module')
def clade(tmp_path_factory):
    return paint_model(tmp_path_factory.mktemp('clade'))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Source a: a photo of all six classes; source b: of sky, grass, tree and rock only."""
    folder = tmp_path_factory.mktemp('sources')
    return dict(a=style_source_files(folder, 'a', range(6), seed=1),
                b=style_source_files(folder, 'b', [SKY, GRASS, TREE, ROCK], seed=2))


def scene():
    """Sky, grass and a tree: no water, rock or building."""
    labels = np.full((64, 64), SKY, np.uint8)
    labels[40:] = GRASS
    labels[8:30, 4:24] = TREE
    return labels


def add_source(client, files, page='page', fields=('photo', 'labels')):
    data = dict(client=page)
    for field, path in zip(('photo', 'labels'), files):
        if field in fields:
            data[field] = (io.BytesIO(path.read_bytes()), path.name)
    return client.post('/api/add-style-source', data=data)


def image(client, labels, class_styles, page='page', model=1):
    """The painted image of ``model``."""
    response = client.post('/api/synthesize', json=dict(
        model=model, client=page, seq=next(SEQ), labels=wire(labels),
        class_styles=class_styles))
    answer = response.get_json()
    assert response.status_code == 200, answer
    return decode_image(answer['image']).astype(int)


def api_image(model, labels, codes):
    return model.synth.synthesize(labels, style_codes=codes, seed=0)[0].astype(int)


def test_only_a_model_with_per_class_codes_has_style_slots(clade, sean, files):
    client = create_app([clade, sean]).test_client()
    described = client.get('/api/models').get_json()['models']
    assert [m['class_styles'] for m in described] == [False, True]
    assert not described[1]['style_encoder']  # no whole-photo style image for SEAN
    labels = wire(scene())
    # Before a source exists, a SEAN request is refused saying what to do (not a 500).
    refused = client.post('/api/synthesize', json=dict(model=1, client='p', seq=1,
                                                       labels=labels)).get_json()
    assert refused['status'] == 400
    assert '"class_styles" is missing: the SEAN model paints each class' in refused['error']
    assert 'Add a style source first (a photo and its label map' in refused['error']
    style = client.post('/api/synthesize', json=dict(model=1, client='p', seq=2, labels=labels,
                                                     style='x')).get_json()
    assert style['status'] == 400 and 'as a style source' in style['error']
    # CLADE paints as before, and takes no per-class styles.
    answer = client.post('/api/synthesize', json=dict(model=0, client='p', seq=3,
                                                      labels=labels)).get_json()
    assert np.array_equal(decode_image(answer['image']), clade.synth.synthesize(scene())[0])
    clade_styles = client.post('/api/synthesize', json=dict(
        model=0, client='p', seq=4, labels=labels, class_styles=['x'] * 6)).get_json()
    assert clade_styles['status'] == 400
    assert '"class_styles": the CLADE model takes no per-class style codes' in \
        clade_styles['error']
    # A painter without such a model takes no style sources.
    plain = create_app([clade]).test_client()
    upload = add_source(plain, files['a']).get_json()
    assert upload['status'] == 400 and 'for a model with per-class style codes' in upload['error']


def test_a_class_is_painted_in_the_style_of_the_source_picked_for_it(clade, sean, files):
    app = create_app([clade, sean])
    client = app.test_client()
    a = add_source(client, files['a']).get_json()
    b = add_source(client, files['b']).get_json()
    assert (a['name'], a['labels_name'], a['width'], a['height']) == ('a.png', 'a_map.png', 64, 64)
    assert a['classes'] == list(range(6))
    assert b['classes'] == [SKY, GRASS, TREE, ROCK]  # water and building: not in photo b
    codes = {name: sean.synth.encode_styles(*map(str, files[name])) for name in 'ab'}
    kept = app.extensions['clade_paint'].style_sources
    assert np.array_equal(kept.get('page', a['source']).codes[1], codes['a'])  # the API's codes
    assert not codes['b'][[WATER, BUILDING]].any()

    labels = scene()
    tree = labels == TREE
    slots = [a['source']] * 6
    first = image(client, labels, slots)
    assert np.array_equal(first, api_image(sean, labels, codes['a']))

    # The tree, in the painted map, takes b's style: the image changes, to the API's image of
    # a's codes with b's for the tree.
    slots[TREE] = b['source']
    mixed = codes['a'].copy()
    mixed[TREE] = codes['b'][TREE]
    tree_b = image(client, labels, slots)
    assert np.array_equal(tree_b, api_image(sean, labels, mixed))
    change = np.abs(tree_b - first).max(axis=2)
    print(f'tree from b: {change[tree].mean():.1f} grey levels inside the tree, '
          f'{change[~tree].mean():.1f} outside it')
    assert change[tree].mean() > 1  # the untrained model's pixels are 0 or 255: some flip

    # Water and building are not in the painted map: their sources change nothing (b has no
    # style for them: the zero code, which the map does not use either).
    slots[WATER] = slots[BUILDING] = b['source']
    assert np.array_equal(image(client, labels, slots), tree_b)
    # Back to a: the first image again; CLADE's image never depended on the slots.
    assert np.array_equal(image(client, labels, [a['source']] * 6), first)
    answer = client.post('/api/synthesize', json=dict(model=0, client='page', seq=next(SEQ),
                                                      labels=wire(labels))).get_json()
    assert np.array_equal(decode_image(answer['image']), clade.synth.synthesize(labels)[0])


def test_two_sean_models_side_by_side_each_paint_with_their_own_codes(sean, files, tmp_path):
    other = sean_paint_model(tmp_path, seed=1)
    client = create_app([sean, other]).test_client()
    a = add_source(client, files['a']).get_json()
    labels = scene()
    for index, model in enumerate((sean, other)):
        codes = model.synth.encode_styles(*map(str, files['a']))
        assert np.array_equal(image(client, labels, [a['source']] * 6, model=index),
                              api_image(model, labels, codes))
    assert not np.array_equal(sean.synth.encode_styles(*map(str, files['a'])),
                              other.synth.encode_styles(*map(str, files['a'])))


def png(array, kind='PNG'):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, kind)
    return buffer.getvalue()


PHOTO = np.random.default_rng(3).integers(0, 256, (64, 64, 3)).astype(np.uint8)
MAP = np.repeat(np.arange(4, dtype=np.uint8), 16)[:, None].repeat(64, axis=1)


@pytest.mark.parametrize('kind,status,message', [
    ('missing map', 400, 'style photo photo.png came without its label map: add the label map '
     "of the photo's pixels"),
    ('missing photo', 400, 'label map map.png came without its photo: add the photo'),
    ('sizes', 422, 'image uploaded/photo.png is 64x64 but its label map uploaded/map.png is '
     '32x32: they must be pixel-aligned'),
    ('aspect', 422, 'label map uploaded/map.png is 64x48 (width x height) but the model makes '
     '64x64 images, another aspect ratio'),
    ('corrupt photo', 422, 'image uploaded/photo.png is truncated or corrupt'),
    ('photo not an image', 422, 'image uploaded/photo.png is not a supported format'),
    ('corrupt map', 422, 'label map uploaded/map.png is truncated or corrupt'),
    ('ids out of range', 422, 'label id 9 in uploaded/map.png, but num_classes=6'),
    ('jpeg map', 422, 'label map uploaded/map.png is a JPEG: lossy compression'),
    ('too many pixels', 413, 'photo.png is 4096x4097 pixels; the painter reads at most'),
])
def test_bad_uploads_are_refused_naming_the_file_and_change_nothing(sean, files, tmp_path, kind,
                                                                    status, message):
    app = create_app([sean])
    client, state = app.test_client(), app.extensions['clade_paint']
    a = add_source(client, files['a']).get_json()
    slots = [a['source']] * 6
    before = image(client, scene(), slots, model=0)
    photo, labels = png(PHOTO), png(MAP)
    if kind == 'sizes':
        labels = png(MAP[::2, ::2])
    elif kind == 'aspect':
        photo, labels = png(PHOTO[:48]), png(MAP[:48])
    elif kind == 'corrupt photo':
        photo = photo[:-60]
    elif kind == 'photo not an image':
        photo = b'hello'
    elif kind == 'corrupt map':
        labels = labels[:-40]
    elif kind == 'ids out of range':
        labels = png(np.full((64, 64), 9, np.uint8))
    elif kind == 'jpeg map':
        labels = png(MAP, 'JPEG')
    elif kind == 'too many pixels':
        photo = png(np.zeros((4097, 4096), bool))  # 1 bit a pixel: a small file
    data = dict(client='page')
    if kind != 'missing photo':
        data['photo'] = (io.BytesIO(photo), 'photo.png')
    if kind != 'missing map':
        data['labels'] = (io.BytesIO(labels), 'map.png')
    response = client.post('/api/add-style-source', data=data)
    answer = response.get_json()
    assert response.status_code == answer['status'] == status, answer
    assert message in answer['error']
    if status == 422:  # the API's own message for the same files
        (tmp_path / 'uploaded').mkdir()
        (tmp_path / 'uploaded' / 'photo.png').write_bytes(photo)
        (tmp_path / 'uploaded' / 'map.png').write_bytes(labels)
        with pytest.raises(DatasetError) as api:
            sean.synth.encode_styles(str(tmp_path / 'uploaded' / 'photo.png'),
                                     str(tmp_path / 'uploaded' / 'map.png'))
        assert answer['error'] == str(api.value)
    # Nothing changed: the one source, its image, and no file left behind.
    assert len(state.style_sources) == 1
    assert np.array_equal(image(client, scene(), slots, model=0), before)
    assert os.listdir(state.upload_folder) == []


def test_sources_belong_to_their_page_and_can_be_removed(sean, files):
    app = create_app([sean])
    client = app.test_client()
    a = add_source(client, files['a']).get_json()
    b = add_source(client, files['b']).get_json()

    def refused(class_styles, page='page'):
        return client.post('/api/synthesize', json=dict(
            client=page, seq=next(SEQ), labels=wire(scene()), class_styles=class_styles)).get_json()

    other_page = refused([a['source']] * 6, page='another page')
    assert other_page['status'] == 404
    assert f'no style source "{a["source"]}" of this page' in other_page['error']
    short = refused([a['source']] * 5)
    assert short['status'] == 400 and '"class_styles" has 5 items, but a list of 6' in \
        short['error']
    assert '"class_styles"[2] is 7' in refused([a['source']] * 2 + [7] + [a['source']] * 3)[
        'error']
    assert '"class_styles" is "x", but a list of 6' in refused('x')['error']

    removed = client.post('/api/remove-style-source', json=dict(client='page',
                                                                source=a['source']))
    assert removed.get_json() == dict(removed=a['source'])
    gone = refused([b['source']] * 5 + [a['source']])
    assert gone['status'] == 404 and 'add its photo and label map again' in gone['error']
    image(client, scene(), [b['source']] * 6, model=0)  # b stays
    again = client.post('/api/remove-style-source', json=dict(client='page', source=a['source']))
    assert again.status_code == 404


def test_the_least_recently_used_sources_are_forgotten(sean, files):
    app = create_app([sean])
    client, sources = app.test_client(), app.extensions['clade_paint'].style_sources
    sources.limit = 3
    tokens = [add_source(client, files['a']).get_json()['source'] for _ in range(3)]
    image(client, scene(), [tokens[0]] * 6, model=0)  # painting with the first keeps it
    tokens.append(add_source(client, files['b']).get_json()['source'])
    assert len(sources) == 3
    forgotten = client.post('/api/synthesize', json=dict(
        client='page', seq=next(SEQ), labels=wire(scene()),
        class_styles=[tokens[1]] * 6)).get_json()
    assert forgotten['status'] == 404 and 'keeps the 3 most recently used' in forgotten['error']
    for token in (tokens[0], tokens[2], tokens[3]):
        image(client, scene(), [token] * 6, model=0)
