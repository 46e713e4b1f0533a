"""The OASIS discriminator's mIoU on the real photos: hand-made and numpy-computed segmentations,
the don't-care class, and the field as OASISGAN's test step gives it."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope

from clade_mm.evaluation import DiscriminatorIoU
from mmagic.structures import DataSample


def score(pairs, **kwargs):
    """The metric through mmengine's evaluator, on ``(disc_label_map, label_map)`` pairs."""
    evaluator = Evaluator(DiscriminatorIoU(**kwargs))
    evaluator.process([DataSample(disc_label_map=torch.as_tensor(prediction),
                                  label_map=torch.as_tensor(labels)[None])
                       for prediction, labels in pairs])
    return evaluator.evaluate(len(pairs))


def numpy_miou(pairs, dont_care=None):
    """Per class over all images: |pred = c and label = c| / |pred = c or label = c|, pixels of
    the don't-care class left out; the mean over the classes the label maps hold, in %."""
    prediction = np.concatenate([np.asarray(p).ravel() for p, _ in pairs])
    labels = np.concatenate([np.asarray(l).ravel() for _, l in pairs])
    if dont_care is not None:
        prediction, labels = prediction[labels != dont_care], labels[labels != dont_care]
    ious = [((prediction == c) & (labels == c)).sum() / ((prediction == c) | (labels == c)).sum()
            for c in np.unique(labels)]
    return 100 * float(np.mean(ious))


def random_pairs(seed, dont_care=None):
    rng = np.random.default_rng(seed)
    pairs = []
    for classes in ([0, 1, 2, 3], [0, 2, 4], [1, 4, 5]):  # images with different classes
        labels = rng.choice(classes, (16, 16))
        prediction = np.where(rng.random((16, 16)) < 0.6, labels, rng.integers(0, 6, (16, 16)))
        pairs.append((prediction, labels))
    return pairs


def test_a_perfect_segmentation_scores_100():
    pairs = [(labels, labels) for _, labels in random_pairs(0)]
    scores = score(pairs, num_classes=6)
    assert scores == {'disc/real/mIoU': 100.0, 'disc/real/mAcc': 100.0,
                      'disc/real/aAcc': 100.0}


def test_a_hand_made_partial_segmentation():
    labels = np.array([[0, 0, 1, 1]] * 4)  # left half class 0, right half class 1
    prediction = np.zeros((4, 4), np.int64)  # all class 0
    scores = score([(prediction, labels)], num_classes=2)
    # class 0: 8 hits of 16 pixels predicted or labelled 0; class 1: none
    assert scores['disc/real/mIoU'] == pytest.approx((50 + 0) / 2)
    assert scores['disc/real/mAcc'] == pytest.approx((100 + 0) / 2)
    assert scores['disc/real/aAcc'] == pytest.approx(50)


def test_the_miou_over_several_images_is_the_numpy_one():
    pairs = random_pairs(1)
    expected = numpy_miou(pairs)
    assert 20 < expected < 90
    assert score(pairs, num_classes=6)['disc/real/mIoU'] == pytest.approx(expected)
    # without num_classes: as many as the largest id seen says, the same score
    assert score(pairs)['disc/real/mIoU'] == pytest.approx(expected)


def test_the_dont_care_class_is_not_scored():
    pairs = random_pairs(2)
    scores = score(pairs, num_classes=6, dont_care_class=0)
    assert scores['disc/real/mIoU'] == pytest.approx(numpy_miou(pairs, dont_care=0))
    assert scores['disc/real/mIoU'] != pytest.approx(numpy_miou(pairs))
    # whatever the discriminator says on don't-care pixels does not count
    changed = [(np.where(labels == 0, 5 - prediction, prediction), labels)
               for prediction, labels in pairs]
    assert score(changed, num_classes=6, dont_care_class=0) == scores
    # a scored pixel it calls don't-care is wrong
    worse = [(np.where(labels == 1, 0, prediction), labels) for prediction, labels in pairs]
    assert score(worse, num_classes=6, dont_care_class=0)['disc/real/mIoU'] < \
        scores['disc/real/mIoU']


def test_a_model_without_the_discriminator_s_segmentation_is_named():
    init_default_scope('mmagic')
    import clade_mm.models  # noqa: F401
    from mmagic.registry import MODELS
    from tests.test_models.conftest import tiny_gan_cfg
    from tests.test_models.test_semantic_gan import scenes
    model = MODELS.build(tiny_gan_cfg()).eval()  # SPADE's discriminator: it does not segment
    with torch.no_grad():
        outputs = model.test_step(scenes(1, 64, seed=0))
    with pytest.raises(KeyError, match=r"(?s)DiscriminatorIoU .*'disc_label_map'.*OASIS"):
        Evaluator(DiscriminatorIoU(num_classes=6)).process(outputs)


class KnownSegmenter(torch.nn.Module):
    """A discriminator that gives fixed logits: "fake" highest, then the given classes."""

    def __init__(self, labels, num_classes):
        super().__init__()
        classes = F.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()
        self.logits = torch.cat([torch.full_like(classes[:, :1], 10.0), classes], 1)

    def forward(self, images):
        return self.logits


def test_the_oasis_gan_s_test_step_gives_the_segmentation_it_scores():
    init_default_scope('mmagic')
    import clade_mm.models  # noqa: F401
    from mmagic.registry import MODELS
    from tests.test_models.test_oasis_gan import tiny_oasis_cfg
    from tests.test_models.test_semantic_gan import scenes
    torch.manual_seed(0)
    model = MODELS.build(tiny_oasis_cfg()).eval()
    model.init_weights()
    batch = scenes(2, 64, seed=4)
    with torch.no_grad():
        outputs = model.test_step(batch)
    for sample in outputs:  # the discriminator's own segmentation, at the maps' size
        assert sample.disc_label_map.shape == sample.label_map.shape[-2:] == (64, 64)
        assert sample.disc_label_map.dtype == torch.int64
        assert 0 <= int(sample.disc_label_map.min()) <= int(sample.disc_label_map.max()) < 6
    evaluator = Evaluator(DiscriminatorIoU(num_classes=6))
    evaluator.process(outputs)
    assert 0 <= evaluator.evaluate(2)['disc/real/mIoU'] <= 100
    # A discriminator that segments the maps perfectly (its "fake" channel, though highest,
    # is not a class): 100.
    labels = torch.stack([label[0] for label in batch['inputs']['label']]).long()
    model.discriminator = KnownSegmenter(labels, 6)
    with torch.no_grad():
        outputs = model.test_step(batch)
    evaluator.process(outputs)
    assert evaluator.evaluate(2)['disc/real/mIoU'] == 100.0
