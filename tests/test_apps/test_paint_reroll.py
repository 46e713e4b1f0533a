"""The painter's re-roll tool, for a model with per-instance noise (a small INADE trained for two
iterations): a click re-draws the noise of the instance under it (the painter's instances are the
class regions) and every other instance keeps its look, through the server and in the browser;
a model without such noise (CLADE) has no re-roll."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from clade_mm.apps.paint import create_app, load_models
from clade_mm.apps.paint.server import running_server
from tests.test_apis.test_synthesize_inade import train_inade
from tests.test_apps.paint_helpers import decode_image, paint_model, wire

SKY, GRASS, TREE, ROCK = 0, 1, 3, 4


@pytest.fixture(scope='module')
def inade(tmp_path_factory):
    config, checkpoint, _ = train_inade(tmp_path_factory.mktemp('inade'))
    # float32: what is held is where a re-roll changes the image; on a CPU where 'auto' picks
    # bfloat16, its rounding alone moves far pixels by up to 2 grey levels
    return load_models([(config, checkpoint)], precision='float32')[0]


@pytest.fixture(scope='module')
def client(inade):
    return create_app([inade]).test_client()


def scene(rock=False):
    labels = np.full((64, 64), SKY, np.uint8)
    labels[40:] = GRASS
    labels[8:30, 4:24] = TREE
    if rock:
        labels[46:60, 42:60] = ROCK
    return labels


def far_from(mask, distance=16):
    """Pixels more than ``distance`` pixels away from ``mask``: beyond where the generator's
    convolutions carry a change of its noise by more than rounding (a 3x3 convolution of the
    8x8 features reaches 8 pixels of the image; up to 12 pixels away a re-roll moved pixels by
    up to 5 grey levels, beyond by at most 1)."""
    return ndimage.distance_transform_edt(~mask) > distance


class Page:
    """One page of the painter: its client id and request numbers."""

    def __init__(self, client, name):
        self.client, self.name, self.seq = client, name, 0

    def image(self, labels, **extra):
        self.seq += 1
        response = self.client.post('/api/synthesize', json=dict(
            client=self.name, seq=self.seq, labels=wire(labels), **extra))
        answer = response.get_json()
        assert response.status_code == 200, answer
        return decode_image(answer['image']).astype(int), answer


def change(a, b):
    return np.abs(a - b).max(axis=2)


def test_the_tool_is_offered_for_per_instance_noise_only(client, tmp_path):
    described, = client.get('/api/models').get_json()['models']
    assert described['reroll'] and described['seeded'] and described['instance_edges']
    # Its encoder needs a reference label map: the page offers no style image.
    assert not described['style_encoder']
    clade = create_app([paint_model(tmp_path)]).test_client()
    assert not clade.get('/api/models').get_json()['models'][0]['reroll']
    refused = clade.post('/api/synthesize', json=dict(client='a', seq=1, labels=wire(scene()),
                                                      reroll=dict(x=10, y=10))).get_json()
    assert refused['status'] == 400
    assert '"reroll": the CLADE model draws no per-instance noise' in refused['error']
    outside = client.post('/api/synthesize', json=dict(client='a', seq=1, labels=wire(scene()),
                                                       reroll=dict(x=64, y=0))).get_json()
    assert outside['status'] == 400 and '"x" is 64, outside 0..63' in outside['error']


def test_reroll_changes_the_clicked_instance_and_keeps_the_others(client):
    page = Page(client, 'reroll')
    labels = scene()
    tree = labels == TREE
    first, _ = page.image(labels)
    rerolled, answer = page.image(labels, reroll=dict(x=10, y=15))
    assert answer['rerolled'] == TREE
    moved = change(rerolled, first)
    print(f're-roll: {moved[tree].mean():.1f} grey levels inside the tree, at most '
          f'{moved[far_from(tree)].max()} far from it')
    assert moved[tree].mean() > 5
    assert moved[far_from(tree)].max() <= 1  # rounding
    # The next stroke keeps the new look; another re-roll draws another one.
    again, _ = page.image(labels)
    assert np.array_equal(again, rerolled)
    other, _ = page.image(labels, reroll=dict(x=20, y=20))
    assert change(other, rerolled)[tree].mean() > 5

    # A new region gets its own noise; the tree and the sky keep theirs, and erasing the rock
    # brings the image back.
    with_rock, _ = page.image(scene(rock=True))
    rock = scene(rock=True) == ROCK
    assert change(with_rock, other)[far_from(rock)].max() <= 1
    assert np.array_equal(page.image(labels)[0], other)

    # Each page keeps its own: a new page draws from the seed as the first image did.
    assert np.array_equal(Page(client, 'another page').image(labels)[0], first)
    # A new seed draws everything anew, and the seed back draws the first image again.
    assert change(page.image(labels, seed=5)[0], first)[tree].mean() > 5
    assert np.array_equal(page.image(labels, seed=0)[0], first)


def reroll_tree_in_browser(model, labels, tmp_path):
    """``labels`` loaded in a real browser's painter of ``model`` alone, then a click on the
    tree at pixel (12, 15) with the re-roll tool: ``(image before, image after)``, the page's
    errors checked."""
    from tests.test_apps.test_paint_browser import SETTLED, require_browser, shown_image
    require_browser()
    from playwright.sync_api import expect, sync_playwright
    Image.fromarray(labels).save(tmp_path / 'scene.png')
    with running_server([model]) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path='/usr/bin/chromium', args=['--no-sandbox', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport=dict(width=1500, height=900))
            page_errors = []
            page.on('pageerror', lambda err: page_errors.append(str(err)))
            page.goto(url)
            page.wait_for_function(SETTLED)
            page.set_input_files('#load-labels', str(tmp_path / 'scene.png'))
            # The message comes once the page has asked for the loaded scene's image.
            expect(page.locator('#message')).to_contain_text('Loaded scene.png')
            page.wait_for_function(SETTLED)
            before = shown_image(page).astype(int)
            shown = page.get_attribute('figure.output', 'data-shown')
            tool = page.locator('button[data-tool=reroll]')
            tool.click()
            expect(tool).to_have_attribute('aria-pressed', 'true')
            box = page.locator('#labels').bounding_box()
            scale = box['width'] / 64
            page.mouse.click(box['x'] + 12.5 * scale, box['y'] + 15.5 * scale)  # the tree
            page.wait_for_function(
                f'() => document.querySelector("figure.output").dataset.shown !== "{shown}" '
                f'&& ({SETTLED})()')
            after = shown_image(page).astype(int)
            assert not page_errors
            return before, after
        finally:
            browser.close()


def test_reroll_in_the_browser(inade, tmp_path):
    labels = scene()
    before, after = reroll_tree_in_browser(inade, labels, tmp_path)
    tree = labels == TREE
    assert change(after, before)[tree].mean() > 5
    assert change(after, before)[far_from(tree)].max() <= 1
