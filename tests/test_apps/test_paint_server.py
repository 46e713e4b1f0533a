"""The painter's server without a browser: its API against SemanticSynthesizer, its refusals
of bad input (4xx JSON naming the problem), what it keeps of uploads, superseding and
concurrency, and the tool."""
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clade_mm.apps.paint import PaintModel, Superseded, create_app, demo_checkpoint, load_models
from clade_mm.apps.paint.server import MAX_STYLES, RequestError, running_server
from clade_mm.datasets import DatasetError
from tests.test_apis.test_synthesize import ROOT, make_model
from tests.test_apps.paint_helpers import decode_image, paint_model, post, unwire, wire


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return paint_model(tmp_path_factory.mktemp('paint'))


@pytest.fixture(scope='module')
def client(model):
    return create_app([model], max_request_bytes=2**20).test_client()


def scene():
    labels = np.zeros((64, 64), np.uint8)  # sky
    labels[40:] = 1  # grass
    labels[50:, 10:40] = 2  # water
    return labels


def synthesize(client, labels, seq=1, name='test', **extra):
    return client.post('/api/synthesize', json=dict(client=name, seq=seq, labels=wire(labels),
                                                    **extra))


def test_models_describe_the_configs_classes_and_size(client):
    answer = client.get('/api/models').get_json()
    model, = answer['models']
    assert (model['norm'], model['width'], model['height']) == ('CLADE', 64, 64)
    assert [c['name'] for c in model['classes']] == ['sky', 'grass', 'water', 'tree', 'rock',
                                                     'building']
    assert model['classes'][1]['colour'] == [70, 160, 60]
    assert not model['style_encoder'] and not model['instance_edges']


def test_page_and_its_files_come_from_the_package(client):
    page = client.get('/')
    assert page.status_code == 200 and b'static/paint.js' in page.data
    for name in ('paint.js', 'paint.css'):
        assert client.get(f'/static/{name}').status_code == 200
    assert client.get('/static/missing.js').get_json()['status'] == 404


def test_synthesis_is_the_apis_image(client, model):
    labels = scene()
    answer = synthesize(client, labels).get_json()
    expected, = model.synth.synthesize(labels)
    assert np.array_equal(decode_image(answer['image']), expected)
    assert answer['compute_ms'] > 0 and answer['server_ms'] >= answer['compute_ms']


def test_a_model_with_instance_edges_gets_class_borders_as_instances(tmp_path):
    model = paint_model(tmp_path, instance_edges=True)
    client = create_app([model]).test_client()
    labels = scene()
    answer = synthesize(client, labels).get_json()
    expected, = model.synth.synthesize(labels, instances=labels)
    assert np.array_equal(decode_image(answer['image']), expected)


def test_seed_and_style_image_reach_the_style_encoder(tmp_path):
    model = paint_model(tmp_path, style=True)
    client = create_app([model]).test_client()
    labels = scene()
    images = [decode_image(synthesize(client, labels, seq, seed=seed).get_json()['image'])
              for seq, seed in ((1, 3), (2, 3), (3, 4))]
    assert np.array_equal(images[0], images[1]) and not np.array_equal(images[0], images[2])
    style = np.zeros((80, 80, 3), np.uint8)
    style[:, :, 0] = 200
    buffer = io.BytesIO()
    Image.fromarray(style).save(buffer, 'PNG')
    upload = client.post('/api/style', data=dict(file=(io.BytesIO(buffer.getvalue()),
                                                       'red.png'))).get_json()
    assert (upload['width'], upload['height']) == (80, 80)
    styled = decode_image(synthesize(client, labels, 4, style=upload['style']).get_json()['image'])
    (tmp_path / 'red.png').write_bytes(buffer.getvalue())
    expected, = model.synth.synthesize(labels, style=str(tmp_path / 'red.png'))
    assert np.array_equal(styled, expected)
    not_an_image = client.post('/api/style', data=dict(file=(io.BytesIO(b'hello'), 'a.png')))
    assert not_an_image.status_code == 422
    assert 'image uploaded/a.png is not a supported format' in not_an_image.get_json()['error']
    unknown = synthesize(client, labels, 5, style='nope').get_json()
    assert unknown['status'] == 404 and 'upload it again' in unknown['error']


@pytest.mark.parametrize('body,status,message', [
    (b'{"client": "a", ', 400, 'not valid JSON'),
    (b'[1, 2]', 400, 'a JSON object {...} was expected'),
    (dict(client='a', seq=1), 400, '"labels" must be an object'),
    (dict(client='a', seq=1, labels=dict(width=2, height=2, dtype='uint8', data='%%%')), 400,
     'not valid base64'),
    (dict(client='a', seq=1, labels=dict(width=2, height=2, dtype='uint8', data='AAA=')), 400,
     'holds 2 bytes, but a 2x2 uint8 label map has 4'),
    (dict(client='a', seq=1, labels=dict(width=0, height=2, dtype='uint8', data='')), 400,
     '"width" is 0, outside 1..4096'),
    (dict(client='a', seq=1, labels=dict(width=1, height=1, dtype='float32', data='AAAAAA==')),
     400, '"dtype" is "float32"'),
    (dict(client='a', seq='one', labels=wire(np.zeros((2, 2), np.uint8))), 400,
     '"seq" is "one", but an integer'),
    (dict(client='', seq=1, labels=wire(np.zeros((2, 2), np.uint8))), 400, '"client" is ""'),
    (dict(client='a', seq=1, model=3, labels=wire(np.zeros((2, 2), np.uint8))), 400,
     '"model" is 3, outside 0..0'),
    (dict(client='a', seq=1, seed=-1, labels=wire(np.zeros((2, 2), np.uint8))), 400,
     '"seed" is -1'),
    (dict(client='a', seq=1, style='x', labels=wire(np.zeros((2, 2), np.uint8))), 400,
     'has no style encoder'),
    (dict(client='a', seq=1, labels=dict(width=1, height=1, dtype=['uint8'], data='AA==')),
     400, '"dtype" is a list: one of'),
    (dict(client='a', seq=1, labels=wire(np.full((2, 2), 9, np.uint8))), 422,
     'label id 9 in the painted label map, but num_classes=6'),
    (b'[' * 100000 + b']' * 100000, 400, 'nested too deeply'),
    (b'{"a":' * 100000 + b'0' + b'}' * 100000, 400, 'nested too deeply'),
])
def test_malformed_and_out_of_range_requests_get_4xx_json(client, body, status, message):
    if isinstance(body, bytes):
        response = client.post('/api/synthesize', data=body, content_type='application/json')
    else:
        response = client.post('/api/synthesize', json=body)
    answer = response.get_json()
    assert response.status_code == answer['status'] == status
    assert message in answer['error']


@pytest.mark.parametrize('value', ['²', '9' * 5000])  # int() refuses both
def test_form_errors_name_the_field(client, value):
    response = client.post('/api/read-labels', data=dict(model=value, file=(io.BytesIO(b'x'),
                                                                            'map.png')))
    assert response.status_code == 400
    assert response.get_json()['error'].startswith(f'"model" is "{value[:39]}')


def test_requests_that_are_not_json_or_cross_origin_are_refused(client):
    response = client.post('/api/synthesize', data='labels=1', content_type='text/plain')
    assert response.status_code == 415 and 'application/json' in response.get_json()['error']
    response = client.get('/api/models', headers={'Origin': 'http://example.com'})
    assert response.status_code == 403 and 'open the painter at' in response.get_json()['error']
    assert client.get('/', headers={'Host': 'example.com'}).status_code == 400


def upload(client, path, data):
    return client.post(path, data=dict(file=(io.BytesIO(data), 'map.png')))


def png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, 'PNG')
    return buffer.getvalue()


@pytest.mark.parametrize('kind', ['colour mask', 'ids beyond the classes', 'jpeg', 'npy'])
def test_label_files_are_refused_with_the_command_lines_message(client, model, tmp_path, kind):
    data = {
        'colour mask': png(np.random.default_rng(0).integers(0, 255, (8, 8, 3), np.uint8)),
        'ids beyond the classes': png(np.full((8, 8), 7, np.uint8)),
        'jpeg': None,
        'npy': b'\x93NUMPY\x01\x00' + b'\x00' * 64,
    }[kind]
    if data is None:
        buffer = io.BytesIO()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, 'JPEG')
        data = buffer.getvalue()
    response = upload(client, '/api/read-labels', data)
    # What tools/synthesize.py says of the same file in a folder of the same name.
    (tmp_path / 'uploaded').mkdir()
    (tmp_path / 'uploaded' / 'map.png').write_bytes(data)
    with pytest.raises(DatasetError) as cli:
        model.synth.read_labels(str(tmp_path / 'uploaded' / 'map.png'))
    assert response.status_code == 422
    assert response.get_json()['error'] == str(cli.value)


def test_label_files_beyond_the_pixel_limit_are_413(client):
    response = upload(client, '/api/read-labels', png(np.zeros((4097, 4096), np.uint8)))
    assert response.status_code == 413
    assert 'map.png is 4096x4097 pixels; the painter reads at most' in response.get_json()['error']


def files_in(folder):
    return [path for path in Path(folder).rglob('*') if path.is_file()]


def test_uploads_are_deleted_once_handled_refused_or_not(model):
    app = create_app([model])  # 48 MB requests
    client, uploads = app.test_client(), app.extensions['clade_paint'].upload_folder
    not_an_image = b'\0' * (10 * 2**20)
    too_many_pixels = png(np.zeros((4097, 4096), bool))  # 1 bit a pixel: a 2 kB PNG
    corrupt = png(np.full((64, 64, 3), 200, np.uint8))[:-40]
    refused = [('/api/read-labels', not_an_image, 422), ('/api/style', not_an_image, 422),
               ('/api/read-labels', too_many_pixels, 413), ('/api/style', too_many_pixels, 413),
               ('/api/style', corrupt, 422)] * 2
    for path, data, status in refused:
        assert upload(client, path, data).status_code == status
    assert upload(client, '/api/read-labels', png(scene())).status_code == 200
    assert os.listdir(uploads) == []


def test_the_newest_style_images_are_kept_and_no_more(model):
    app = create_app([model])
    client, state = app.test_client(), app.extensions['clade_paint']
    tokens = [upload(client, '/api/style', png(np.full((8, 8, 3), i, np.uint8))).get_json()['style']
              for i in range(MAX_STYLES + 3)]
    assert upload(client, '/api/style', b'not an image').status_code == 422
    # A folder holding one file per kept style image, and nothing else.
    assert sorted(os.listdir(state.upload_folder)) == sorted(tokens[-MAX_STYLES:])
    assert len(files_in(state.upload_folder)) == MAX_STYLES
    assert all(os.path.isfile(state.style(token)) for token in tokens[-MAX_STYLES:])
    with pytest.raises(RequestError, match=f'keeps the {MAX_STYLES} newest'):
        state.style(tokens[0])


def multipart(name, data):
    """A multipart form body with ``data`` as its field ``file`` and its Content-Type."""
    boundary = 'paint-test-boundary'
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"'
            '\r\nContent-Type: application/octet-stream\r\n\r\n')
    return (head.encode() + data + f'\r\n--{boundary}--\r\n'.encode(),
            {'Content-Type': f'multipart/form-data; boundary={boundary}'})


def test_stopping_the_server_removes_its_uploads_folder(model, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    with running_server([model]) as url:
        uploads, = tmp_path.glob('clade-paint-*')
        status, _, _ = post(url, '/api/style', *multipart('red.png', png(scene())))
        assert status == 200 and len(files_in(uploads)) == 1  # kept for its token
    assert not uploads.exists()


def test_a_loaded_label_map_is_resized_to_the_canvas_if_its_shape_fits(client):
    ids = np.zeros((32, 32), np.uint8)
    ids[:, 16:] = 3
    answer = upload(client, '/api/read-labels', png(ids)).get_json()
    canvas = unwire(answer['labels'])
    assert canvas.shape == (64, 64) and answer['resized']
    assert (answer['source_width'], answer['source_height']) == (32, 32)
    assert (canvas[:, :32] == 0).all() and (canvas[:, 32:] == 3).all()
    # Another aspect ratio would be squashed: refused, as tools/synthesize.py refuses it.
    wide = upload(client, '/api/read-labels', png(np.zeros((32, 48), np.uint8)))
    assert wide.status_code == 422
    assert ('map.png is 48x32 (width x height) but the model makes 64x64 images, another '
            'aspect ratio') in wide.get_json()['error']


def test_saved_label_maps_read_back_as_the_painted_ids(client, model, tmp_path):
    labels = scene()
    response = client.post('/api/save-labels', json=dict(labels=wire(labels)))
    assert response.mimetype == 'image/png'
    (tmp_path / 'saved.png').write_bytes(response.data)
    assert np.array_equal(model.synth.read_labels(str(tmp_path / 'saved.png')), labels)
    bad = client.post('/api/save-labels', json=dict(labels=wire(np.full((4, 4), 6, np.uint8))))
    assert bad.status_code == 422 and 'label id 6' in bad.get_json()['error']


def test_a_waiting_request_is_superseded_by_a_newer_one_of_its_page(model):
    paint = PaintModel(model.synth, model.config, model.checkpoint)
    release, computed = threading.Event(), []
    real = paint.synth.synthesize

    def slow_synthesize(labels, *args, **kwargs):
        computed.append(int(labels[0, 0]))
        if labels[0, 0] == 0:
            release.wait(30)
        return real(labels, *args, **kwargs)

    paint.synth = type('Slow', (), dict(synthesize=staticmethod(slow_synthesize)))()
    results = {}

    def run(seq):
        try:
            results[seq] = paint.synthesize(np.full((64, 64), seq, np.uint8), 'page', seq)[0]
        except Superseded as err:
            results[seq] = err

    threads = [threading.Thread(target=run, args=(seq, )) for seq in range(3)]
    threads[0].start()  # runs, and blocks inside the model
    while computed != [0]:
        time.sleep(0.01)
    for seq, thread in enumerate(threads[1:], 1):  # 1, then 2, wait for the model
        thread.start()
        while paint._newest.get('page') != seq:
            time.sleep(0.01)
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(30)
    assert computed == [0, 2]
    assert isinstance(results[1], Superseded) and 'superseded by its request 2' in str(results[1])
    assert results[0].shape == results[2].shape == (64, 64, 3)
    with pytest.raises(Superseded, match='request 1 of this page arrived after its request 2'):
        paint.synthesize(np.zeros((64, 64), np.uint8), 'page', 1)
    # Other pages are not affected by this page's numbers.
    assert paint.synthesize(np.zeros((64, 64), np.uint8), 'other page', 1)[0].shape == (64, 64, 3)


def test_concurrent_requests_get_their_own_images(model):
    maps = [np.full((64, 64), i % 6, np.uint8) for i in range(8)]
    for i, labels in enumerate(maps):
        labels[i * 8:(i + 1) * 8] = (i + 2) % 6
    expected = [model.synth.synthesize(m)[0] for m in maps]
    answers = [None] * len(maps)
    with running_server([model]) as url:
        def request(i):
            answers[i] = post(url, '/api/synthesize',
                              dict(client=f'page {i}', seq=1, labels=wire(maps[i])))

        threads = [threading.Thread(target=request, args=(i, )) for i in range(len(maps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    for answer, image in zip(answers, expected):
        status, _, body = answer
        assert status == 200
        assert np.array_equal(decode_image(body['image']), image)


def test_an_oversized_request_gets_413_json_from_the_real_server(model):
    labels = np.zeros((1024, 1024), np.uint8)  # 1.4 MB of base64 against a 1 MB limit
    with running_server([model], max_request_bytes=2**20) as url:
        status, _, body = post(url, '/api/synthesize', dict(client='a', seq=1,
                                                             labels=wire(labels)))
        assert status == 413 and 'at most 1048576' in body['error']
        # The server keeps serving.
        status, _, _ = post(url, '/api/synthesize', dict(client='a', seq=2,
                                                         labels=wire(scene())))
        assert status == 200


def test_compare_needs_models_of_the_same_classes(tmp_path):
    config, checkpoint = make_model(tmp_path)
    renamed = tmp_path / 'renamed.py'
    renamed.write_text(f'_base_ = {config!r}\ntest_dataloader = dict(dataset=dict(metainfo='
                       "dict(classes=('a', 'b', 'c', 'd', 'e', 'f'))))\n")
    with pytest.raises(ValueError, match='--compare needs two models of one dataset'):
        load_models([(config, checkpoint), (str(renamed), checkpoint)])


def test_the_painter_takes_the_synthesis_precision(tmp_path):
    config, checkpoint = make_model(tmp_path)
    (exact,) = load_models([(config, checkpoint)], precision='float32')
    assert exact.synth.inference.precision == 'float32'
    with pytest.raises(ValueError, match="precision='half'"):
        load_models([(config, checkpoint)], precision='half')


def test_demo_checkpoint_is_the_newest_the_training_wrote(tmp_path):
    assert demo_checkpoint(str(tmp_path)) is None
    for n in (200, 1000, 600):
        (tmp_path / f'iter_{n}.pth').write_bytes(b'x')
    assert demo_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_1000.pth')
    # last_checkpoint holds the absolute path of the run; a moved work_dir still finds it.
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/work_dirs/demo/clade/iter_600.pth')
    assert demo_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_600.pth')


def test_the_tool_serves_the_page_on_127_0_0_1_until_sigterm(tmp_path):
    config, checkpoint = make_model(tmp_path)
    (tmp_path / 'tmp').mkdir()  # the tool's temporary folder, to find its uploads folder in
    tool = subprocess.Popen([sys.executable, 'tools/paint.py', config, checkpoint, '--port', '0'],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TMPDIR=str(tmp_path / 'tmp')))
    try:
        lines = []
        for line in tool.stdout:  # the URL comes once the model is loaded
            lines.append(line)
            if 'http://' in line:
                break
        url = re.search(r'http://127\.0\.0\.1:\d+/', ''.join(lines))
        assert url, ''.join(lines) + tool.stderr.read()
        assert 'CLADE (plain.py, model.pth; 64x64, 6 classes)' in ''.join(lines)
        with urllib.request.urlopen(url.group(0), timeout=30) as page:
            assert b'Paint a scene' in page.read()
        status, _, _ = post(url.group(0), '/api/style', *multipart('red.png', png(scene())))
        uploads, = (tmp_path / 'tmp').glob('clade-paint-*')
        assert status == 200 and files_in(uploads)
        tool.send_signal(signal.SIGTERM)  # as `kill` or a service manager stops it
        assert tool.wait(30) == 0, tool.stderr.read()
        assert not uploads.exists()
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait(30)


def test_the_tool_names_a_missing_checkpoint(tmp_path):
    config, _ = make_model(tmp_path)
    run = subprocess.run([sys.executable, 'tools/paint.py', config, str(tmp_path / 'none.pth')],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1 and 'none.pth not found' in run.stderr


def test_the_tool_says_how_to_make_the_demo_model_when_there_is_none(tmp_path):
    (tmp_path / 'tools').mkdir()  # a checkout without work_dirs/
    shutil.copy(os.path.join(ROOT, 'tools/paint.py'), tmp_path / 'tools')
    run = subprocess.run([sys.executable, 'tools/paint.py'], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 1
    assert 'no trained demo model in work_dirs/demo/clade: `make demo` trains it' in run.stderr
