"""tools/synthesize.py never loses a file and never resizes a map into a wrong shape: the output
folder is checked before the model loads, names are unique, other files are left alone, and a
bad file (too large, another aspect ratio, a quantised colour mask) is skipped by name.

The tool runs in this process (its ``main`` with ``sys.argv`` set; test_synthesize.py runs it
as a subprocess), with a model loader that records whether the model was loaded."""
import os
import sys

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from clade_mm.apis.output_folder import OutputFolder, OutputFolderError, output_names
from clade_mm.datasets import DatasetError
from ..paths import config_path
from ..tools import run_tool
from .test_synthesize import make_model

LOADED = 'the model was loaded'


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp('model'))


@pytest.fixture
def synthesize(model, monkeypatch, capsys):
    """``synthesize(*args)`` runs ``tools/synthesize.py CONFIG CHECKPOINT *args``; its stderr
    says :data:`LOADED` if the model was loaded."""
    from clade_mm.apis import SemanticSynthesizer

    def loading(*args, **kwargs):
        print(LOADED, file=sys.stderr)
        return SemanticSynthesizer(*args, **kwargs)
    loading.list_inputs = SemanticSynthesizer.list_inputs

    def run(*args):
        return run_tool('synthesize', *model, *args, monkeypatch=monkeypatch, capsys=capsys,
                        replace=dict(SemanticSynthesizer=loading))
    return run


def contents(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def save(path, ids, mode=None):
    Image.fromarray(ids, mode).save(path)


def test_a_folder_of_hard_cases_writes_the_good_maps_and_names_the_rest(synthesize, tmp_path):
    maps = tmp_path / 'maps'
    maps.mkdir()
    save(maps / 'a.png', np.zeros((64, 64), np.uint8))
    save(maps / 'a.tif', np.ones((64, 64), np.uint8))  # the same stem: must not collide
    save(maps / 'half.png', np.full((32, 32), 2, np.uint8))  # the model's ratio: resized
    save(maps / 'wide.png', np.zeros((64, 96), np.uint8))  # another ratio: never squashed
    Image.new('1', (20000, 20000)).save(maps / 'huge.png')  # PIL's bomb guard: unnamed before
    palette = np.asarray(Config.fromfile(config_path('clade_synthetic')).palette, np.uint8)
    ids = np.kron(np.random.default_rng(0).integers(0, 6, (8, 8)), np.ones((8, 8), int))
    quantised = Image.fromarray(palette[ids]).quantize(colors=6)
    assert (np.asarray(quantised) != ids).mean() > 0.2  # its indices are not the classes
    quantised.save(maps / 'quantised.png')
    before = contents(maps)
    run = synthesize(maps, tmp_path / 'out')
    assert run.returncode == 1, run.stderr[-2000:]
    assert contents(maps) == before
    written = sorted(os.listdir(tmp_path / 'out'))
    assert written == ['.clade-mm-synthesize-outputs', 'a_png.png', 'a_tif.png', 'half.png']
    a_png, a_tif = (np.asarray(Image.open(tmp_path / 'out' / n)) for n in written[1:3])
    assert np.abs(a_png.astype(int) - a_tif.astype(int)).mean() > 1  # two maps, two images
    assert 'huge.png: skipped: label map maps/huge.png is 20000x20000 = 400,000,000 pixels' \
        in run.stderr
    assert ('wide.png: skipped: label map wide.png is 96x64 (width x height) but the model '
            'makes 64x64 images, another aspect ratio') in run.stderr
    assert "quantised.png: skipped: label map maps/quantised.png is a palette image whose " \
        "colours disagree with the dataset's palette" in run.stderr
    assert 'wrote 3 of 6' in run.stdout and '3 skipped' in run.stdout

    crop = synthesize(maps / 'wide.png', tmp_path / 'out', '--aspect', 'crop')
    assert crop.returncode == 0, crop.stderr[-2000:]
    assert np.asarray(Image.open(tmp_path / 'out/wide.png')).shape == (64, 64, 3)


def test_the_output_folder_is_checked_before_the_model_loads(synthesize, tmp_path):
    maps = tmp_path / 'maps'
    maps.mkdir()
    for i in range(3):
        save(maps / f'{i}.png', np.full((64, 64), i, np.uint8))
    before = contents(maps)
    same = synthesize(maps, maps)  # wrote 3 photos over the 3 label maps before
    assert same.returncode == 1 and LOADED not in same.stderr
    assert 'error: the output folder' in same.stderr and 'holds the input label maps' in \
        same.stderr
    assert contents(maps) == before
    (tmp_path / 'a_file').write_text('notes')
    for output, message in ((tmp_path / 'a_file', 'is a file, not a folder'),
                            (tmp_path / 'a_file' / 'sub', 'a_file is a file. Give a folder')):
        run = synthesize(maps, output)
        assert run.returncode == 1 and message in run.stderr and LOADED not in run.stderr
    assert (tmp_path / 'a_file').read_text() == 'notes'
    late = synthesize(maps, tmp_path / 'new' / 'out', '--cfg-options',
                      'model.generator.num_classes=8')  # the model does not load
    assert late.returncode == 1 and 'class count' in late.stderr
    assert not (tmp_path / 'new').exists()  # no empty folder left behind
    refused = synthesize(maps, tmp_path / 'out', '--num-samples', '0')
    assert refused.returncode == 2 and LOADED not in refused.stderr
    assert 'argument --num-samples: 0 is less than 1' in refused.stderr


def test_files_the_tool_did_not_write_are_never_overwritten(synthesize, tmp_path):
    maps = tmp_path / 'maps'
    maps.mkdir()
    for i in range(2):
        save(maps / f'{i}.png', np.full((64, 64), i, np.uint8))
    out = tmp_path / 'out'
    out.mkdir()
    (out / '1.png').write_bytes(b'a photo of the user')
    (out / '.notes.tmp').write_text('keep me')
    run = synthesize(maps, out)
    assert run.returncode == 1 and LOADED not in run.stderr
    assert ('1 file(s) in' in run.stderr and 'would be overwritten but were not written by this '
            'tool: 1.png. Nothing was written') in run.stderr
    assert sorted(os.listdir(out)) == ['.notes.tmp', '1.png']
    assert (out / '1.png').read_bytes() == b'a photo of the user'
    os.remove(out / '1.png')
    assert synthesize(maps, out).returncode == 0
    again = synthesize(maps, out)  # its own earlier images: replaced
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / '.notes.tmp').read_text() == 'keep me'
    assert (out / '.clade-mm-synthesize-outputs').read_text().split() == ['0.png', '1.png']


def test_output_names_tell_same_stems_apart_and_refuse_what_stays_ambiguous():
    assert output_names(['x.png', 'y.bmp'], 2) == {'x.png': ['x_0.png', 'x_1.png'],
                                                   'y.bmp': ['y_0.png', 'y_1.png']}
    assert output_names(['a.png', 'a.TIF', 'b.png']) == {
        'a.png': ['a_png.png'], 'a.TIF': ['a_tif.png'], 'b.png': ['b.png']}
    with pytest.raises(OutputFolderError, match='a_png.png, a.png would all be written as '
                       'a_png.png'):
        output_names(['a_png.png', 'a.png', 'a.tif'])


def test_an_output_that_is_an_input_file_is_refused(tmp_path):
    (tmp_path / 'in').mkdir()
    save(tmp_path / 'in/a.png', np.zeros((4, 4), np.uint8))
    os.symlink(tmp_path / 'in/a.png', tmp_path / 'link.png')  # the same file by another name
    folder = OutputFolder(str(tmp_path), 'synthesize')
    with pytest.raises(OutputFolderError, match='link.png is both an input and an output'):
        folder.prepare(['link.png'], [str(tmp_path / 'in/a.png')])


def test_the_api_refuses_another_aspect_ratio_and_crops_on_request(model):
    from clade_mm.apis import SemanticSynthesizer
    config, checkpoint = model
    wide = np.zeros((32, 96), np.uint8)
    wide[:, 32:64] = 1  # the centre third: the part a crop keeps
    with pytest.raises(DatasetError, match=r'label map wide.png is 96x32 \(width x height\) '
                       'but the model makes 64x64 images'):
        SemanticSynthesizer(config, checkpoint).synthesize(wide, name='wide.png')
    cropped, = SemanticSynthesizer(config, checkpoint, aspect='crop').synthesize(wide)
    centre, = SemanticSynthesizer(config, checkpoint).synthesize(np.ones((32, 32), np.uint8))
    assert np.array_equal(cropped, centre)
    stretched, = SemanticSynthesizer(config, checkpoint, aspect='stretch').synthesize(wide)
    assert stretched.shape == (64, 64, 3) and not np.array_equal(stretched, centre)
    # Equal ratios resize as before, within a pixel of rounding at the model's size.
    SemanticSynthesizer(config, checkpoint).synthesize(np.zeros((129, 128), np.uint8))
