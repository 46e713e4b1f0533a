"""The painter with a noise map (the synthetic-scene OASIS with random weights, whose 3D noise is
a spatial random input): a stroke keeps every class's noise, a re-roll re-draws the noise of the
clicked class's pixels only (``resample_classes=``), through the server and in the browser."""
import numpy as np
import pytest

from clade_mm.apps.paint import create_app, load_models
from tests.test_apis.test_synthesize_oasis import CONFIG, make_oasis
from tests.test_apps.test_paint_reroll import Page, change, far_from, reroll_tree_in_browser

SKY, GRASS, TREE, ROCK = 0, 1, 3, 4


@pytest.fixture(scope='module')
def oasis(tmp_path_factory):
    checkpoint = make_oasis(tmp_path_factory.mktemp('oasis'))
    # float32: the image is compared with the API's exactly
    return load_models([(CONFIG, checkpoint)], precision='float32')[0]


@pytest.fixture(scope='module')
def client(oasis):
    return create_app([oasis]).test_client()


def scene(rock=False, tree=(8, 30, 4, 24)):
    labels = np.full((64, 64), SKY, np.uint8)
    labels[40:] = GRASS
    top, bottom, left, right = tree
    labels[top:bottom, left:right] = TREE
    if rock:
        labels[46:60, 42:60] = ROCK
    return labels


def kept_noise(oasis, page):
    """The page's kept noise: one vector per class (rows of classes never painted: zero)."""
    return oasis._kept[page.name].inputs['noise_3d'].copy()


def api_image(oasis, labels, rows):
    """The API's image of ``labels`` whose pixels take their class's noise vector."""
    image, = oasis.synth.synthesize(labels, z=rows[labels].transpose(2, 0, 1))
    return image.astype(int)


def test_the_page_offers_a_seed_and_the_re_roll_tool(client, oasis):
    described, = client.get('/api/models').get_json()['models']
    assert described['reroll'] and described['seeded']
    assert not described['instance_edges'] and not described['style_encoder']
    assert oasis.noise_maps == {'noise_3d'} and not oasis.per_instance


def test_reroll_redraws_the_clicked_class_and_keeps_the_others(client, oasis):
    page = Page(client, 'reroll')
    labels = scene()
    tree = labels == TREE
    first, _ = page.image(labels)
    # The seed's image (the page's seed 0), and the same again for the same strokes.
    assert np.array_equal(first, oasis.synth.synthesize(labels, seed=0)[0])
    assert np.array_equal(page.image(labels)[0], first)
    before = kept_noise(oasis, page)
    assert not before[[2, 5]].any()  # water and building were never painted

    rerolled, answer = page.image(labels, reroll=dict(x=10, y=15))
    assert answer['rerolled'] == TREE
    after = kept_noise(oasis, page)
    assert np.flatnonzero((after != before).any(axis=1)).tolist() == [TREE]
    # Exactly the API's image of the kept noise: the first noise map but the tree's pixels.
    assert np.array_equal(rerolled, api_image(oasis, labels, after))
    moved = change(rerolled, first)
    print(f're-roll: {moved[tree].mean():.1f} grey levels inside the tree, '
          f'{moved[far_from(tree)].mean():.1f} far from it')
    assert moved[tree].mean() > 5
    assert moved[tree].mean() > 3 * moved[far_from(tree)].mean()

    # The next stroke keeps the new look; another re-roll draws another one.
    assert np.array_equal(page.image(labels)[0], rerolled)
    other, _ = page.image(labels, reroll=dict(x=20, y=20))
    assert change(other, rerolled)[tree].mean() > 5
    rows = kept_noise(oasis, page)
    assert np.flatnonzero((rows != after).any(axis=1)).tolist() == [TREE]

    # Painted over, pixels take the noise of their new class: a larger tree is all of its
    # re-rolled look; a rock new to the page is drawn from the seed (as the first image drew
    # every class); the others keep theirs, and erasing the rock brings the image back.
    larger = scene(tree=(8, 34, 4, 30))
    assert np.array_equal(page.image(larger)[0], api_image(oasis, larger, rows))
    with_rock = scene(rock=True)
    image, _ = page.image(with_rock)
    rows_with_rock = kept_noise(oasis, page)
    assert np.array_equal(rows_with_rock[ROCK], before[SKY])  # the seed's vector
    assert np.array_equal(np.delete(rows_with_rock, ROCK, 0), np.delete(rows, ROCK, 0))
    assert np.array_equal(image, api_image(oasis, with_rock, rows_with_rock))
    assert np.array_equal(page.image(labels)[0], other)

    # Each page keeps its own: a new page draws from the seed as the first image did.
    assert np.array_equal(Page(client, 'another page').image(labels)[0], first)
    # A new seed draws everything anew, and the seed back draws the first image again.
    assert change(page.image(labels, seed=5)[0], first).mean() > 5
    assert np.array_equal(page.image(labels, seed=0)[0], first)


def test_reroll_in_the_browser(oasis, tmp_path):
    labels = scene()
    before, after = reroll_tree_in_browser(oasis, labels, tmp_path)
    assert np.array_equal(before, oasis.synth.synthesize(labels, seed=0)[0])
    tree = labels == TREE
    assert change(after, before)[tree].mean() > 5
    assert change(after, before)[tree].mean() > 3 * change(after, before)[
        far_from(tree)].mean()
