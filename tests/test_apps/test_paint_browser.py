"""The painter in a real browser: Debian's Chromium, headless, driven by Playwright.

`make test` installs Chromium first where it can (tools/setup_browser.sh, as root). Without it
the test skips saying so, except on CI (CI=true), where it must run.
"""
import os

import numpy as np
import pytest
from PIL import Image

from clade_mm.apps.paint.server import running_server
from tests.test_apps.paint_helpers import decode_image, paint_model

CHROMIUM = '/usr/bin/chromium'
# Every model panel has shown the answer to its newest request.
SETTLED = """() => [...document.querySelectorAll('figure.output')].every(f =>
    f.dataset.state === 'idle' && f.dataset.sent !== '0' && f.dataset.shown === f.dataset.sent)"""


def require_browser():
    reason = None
    if not os.access(CHROMIUM, os.X_OK):
        reason = (f"Debian's Chromium is not installed ({CHROMIUM}): `make test` installs it "
                  'when run as root (tools/setup_browser.sh), or apt-get install chromium')
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = 'playwright is not installed: `make setup` installs requirements/tests.txt'
    if reason and os.environ.get('CI'):
        pytest.fail(f'{reason} (CI must run the browser test)')
    if reason:
        pytest.skip(reason)


def shown_image(page):
    return decode_image(page.get_attribute('figure.output img', 'src'))


def stroke(page, points):
    """Drag the mouse through ``points`` given in label pixels of the 64x64 map."""
    box = page.locator('#labels').bounding_box()
    scale = box['width'] / 64
    screen = [(box['x'] + (x + 0.5) * scale, box['y'] + (y + 0.5) * scale) for x, y in points]
    page.mouse.move(*screen[0])
    page.mouse.down()
    for point in screen[1:]:
        page.mouse.move(*point, steps=8)
    page.mouse.up()


def test_paint_two_classes_and_the_image_changes_where_the_paint_went(tmp_path):
    require_browser()
    from playwright.sync_api import expect, sync_playwright
    model = paint_model(tmp_path)
    with running_server([model]) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=['--no-sandbox', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport=dict(width=1500, height=900), accept_downloads=True)
            page_errors = []
            page.on('pageerror', lambda err: page_errors.append(str(err)))
            page.goto(url)
            expect(page.locator('#palette button')).to_have_count(6)
            expect(page.locator('button[data-tool=reroll]')).to_be_hidden()  # no noise to re-roll
            page.wait_for_function(SETTLED)
            before = shown_image(page)

            page.locator('#brush-size').fill('5')
            page.click('#palette button[data-class-id="2"]')  # water
            stroke(page, [(4, 8), (28, 8), (28, 14)])
            page.click('#palette button[data-class-id="3"]')  # tree
            stroke(page, [(4, 20), (28, 24)])
            page.wait_for_function(SETTLED)
            after = shown_image(page)
            expect(page.locator('figure.output .latency')).to_contain_text('ms stroke to image')

            # The label map as the page saves it, read as the command line reads it.
            with page.expect_download() as download:
                page.click('#save-labels')
            download.value.save_as(tmp_path / 'labels.png')
            labels = model.synth.read_labels(str(tmp_path / 'labels.png'))
            assert set(np.unique(labels).tolist()) == {0, 2, 3}
            painted = labels != 0
            assert painted[:32, :32].sum() == painted.sum() > 150  # the top-left quarter
            far = np.zeros_like(painted)
            far[44:, 44:] = True
            change = np.abs(after.astype(int) - before.astype(int)).mean(axis=2)
            print(f'mean change: {change[painted].mean():.1f} where painted, '
                  f'{change[far].mean():.1f} far from it')
            assert change[painted].mean() > 3 * change[far].mean()
            assert change[painted].mean() > 10  # grey levels
            assert np.array_equal(after, model.synth.synthesize(labels)[0])  # the API's image
            with page.expect_download() as download:
                page.click('figure.output .save-image')
            download.value.save_as(tmp_path / 'image.png')
            assert np.array_equal(np.asarray(Image.open(tmp_path / 'image.png')), after)

            # A colour image is no label map: the command line's message, on the page.
            colours = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
            Image.fromarray(colours).save(tmp_path / 'colours.png')
            page.set_input_files('#load-labels', str(tmp_path / 'colours.png'))
            message = page.locator('#message')
            expect(message).to_be_visible()
            expect(message).to_contain_text(
                'Could not load colours.png: label map uploaded/colours.png is a colour mask')
            page.screenshot(path=str(tmp_path / 'paint.png'), full_page=True)
            assert (tmp_path / 'paint.png').stat().st_size > 10000

            # The canvas kept the painting; undoing both strokes brings the first image back.
            page.keyboard.press('Control+z')
            page.keyboard.press('Control+z')
            page.wait_for_function(SETTLED)
            assert np.array_equal(shown_image(page), before)
            assert not page_errors
        finally:
            browser.close()


def test_sean_paints_each_class_in_the_style_of_the_source_picked_for_it(tmp_path):
    """A SEAN beside a CLADE: the SEAN panel asks for a style source until one is added through
    the page; picking another source for a class of the painted map re-paints the SEAN image (to
    the API's image of the chosen codes) and leaves CLADE's alone."""
    require_browser()
    from playwright.sync_api import expect, sync_playwright
    from tests.test_apps.paint_helpers import sean_paint_model, style_source_files
    clade, sean = paint_model(tmp_path), sean_paint_model(tmp_path)
    a = style_source_files(tmp_path, 'a', range(6), seed=1)
    b = style_source_files(tmp_path, 'b', [0, 1, 3, 4], seed=2)  # no water, no building
    labels = np.zeros((64, 64), np.uint8)  # sky, grass and a tree
    labels[40:] = 1
    labels[8:30, 4:24] = 3
    Image.fromarray(labels).save(tmp_path / 'scene.png')
    with running_server([clade, sean]) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=['--no-sandbox', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport=dict(width=1500, height=900))
            page_errors = []
            page.on('pageerror', lambda err: page_errors.append(str(err)))
            page.goto(url)
            clade_panel, sean_panel = page.locator('figure.output').all()
            # Before any source: a prompt on the SEAN panel, CLADE's image as usual.
            expect(sean_panel).to_have_attribute('data-state', 'needs-style')
            expect(sean_panel.locator('.prompt')).to_be_visible()
            expect(page.locator('#no-source')).to_be_visible()
            expect(clade_panel).to_have_attribute('data-state', 'idle')

            # A photo without its label map is refused, naming the file and the fix.
            page.set_input_files('#source-photo', str(a[0]))
            page.click('#add-source')
            expect(page.locator('#message')).to_contain_text(
                'Could not add a.png as a style source: style photo a.png came without its '
                'label map')
            expect(page.locator('#style-sources li')).to_have_count(0)
            page.set_input_files('#source-labels', str(a[1]))
            page.click('#add-source')
            expect(page.locator('#message')).to_contain_text(
                'Added a.png + a_map.png as style source 1: a.png')
            page.set_input_files('#source-photo', str(b[0]))
            page.set_input_files('#source-labels', str(b[1]))
            page.click('#add-source')
            expect(page.locator('#message')).to_contain_text('(not in this photo: water, '
                                                             'building)')
            expect(page.locator('#style-sources li')).to_have_count(2)
            expect(sean_panel.locator('.prompt')).to_be_hidden()
            # Every class keeps the first source; b is offered, marked where it has no style.
            expect(page.locator('#slot-3')).to_have_value(
                page.locator('#slot-3 option').first.get_attribute('value'))
            expect(page.locator('#slot-2 option').nth(1)).to_have_text(
                '2: b.png (not in this photo)')

            page.set_input_files('#load-labels', str(tmp_path / 'scene.png'))
            expect(page.locator('#message')).to_contain_text('Loaded scene.png')
            page.wait_for_function(SETTLED)
            before = decode_image(sean_panel.locator('img').get_attribute('src')).astype(int)
            clade_sent = clade_panel.get_attribute('data-sent')
            shown = sean_panel.get_attribute('data-shown')
            page.select_option('#slot-3', index=1)  # the tree, from b
            page.wait_for_function(
                f'() => document.querySelectorAll("figure.output")[1].dataset.shown !== '
                f'"{shown}" && ({SETTLED})()')
            after = decode_image(sean_panel.locator('img').get_attribute('src')).astype(int)
            codes = sean.synth.encode_styles(str(a[0]), str(a[1]))
            codes[3] = sean.synth.encode_styles(str(b[0]), str(b[1]))[3]
            expected = sean.synth.synthesize(labels, style_codes=codes, seed=0)[0]
            assert np.array_equal(after, expected)
            tree = labels == 3
            assert np.abs(after - before).max(axis=2)[tree].mean() > 1
            assert clade_panel.get_attribute('data-sent') == clade_sent  # not asked again
            # Water is not in the painted map, nor in photo b: picked, it is marked as such.
            page.select_option('#slot-2', index=1)
            expect(page.locator('#class-slots li[data-class-id="2"] .absent')).to_be_visible()
            page.screenshot(path=str(tmp_path / 'sean.png'), full_page=True)

            # Removing a: its classes fall back to the first source left, b; removing b too
            # brings the prompt back.
            page.click('#style-sources li >> nth=0 >> button.remove')
            expect(page.locator('#style-sources .name')).to_have_text(['1: b.png'])
            expect(page.locator('#slot-0 option')).to_have_count(1)
            page.wait_for_function(SETTLED)
            only_b = sean.synth.encode_styles(str(b[0]), str(b[1]))
            assert np.array_equal(
                decode_image(sean_panel.locator('img').get_attribute('src')),
                sean.synth.synthesize(labels, style_codes=only_b, seed=0)[0])
            page.click('#style-sources button.remove')
            expect(sean_panel).to_have_attribute('data-state', 'needs-style')
            expect(sean_panel.locator('.prompt')).to_be_visible()
            expect(page.locator('#slot-3')).to_be_disabled()
            assert not page_errors
        finally:
            browser.close()
