"""OASIS's adversarial supervision: the class-balanced N+1 segmentation loss and LabelMix."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmagic.registry import MODELS


@MODELS.register_module()
class SegmentationAdversarialLoss(nn.Module):
    """Cross entropy of a segmenting discriminator's ``N + 1`` logits: a real pixel of class
    ``c`` should be class ``c + 1``, every fake pixel class 0 ("fake").

    The real targets are weighted per class by the inverse of the class's share of the batch's
    pixels (``pixels / (count_c * classes present)``), so that small classes count as much as
    large ones; the fake target is unweighted (as published).

    Args:
        class_balancing: weight the real targets by class (the published default; its
            ``--no_balancing_inloss`` is ``False``).
        dont_care_class: a class id whose pixels weigh 0 (ADE20k's, COCO-Stuff's and
            Cityscapes' class 0 in OASIS's label order), ``None`` for none. Only with
            ``class_balancing``, as published.
        loss_weight: a factor on the loss.

    Shapes: ``forward(logits (N, N_c + 1, H, W), labels (N, H, W) int64, real: bool)`` -> a
    scalar.
    """

    def __init__(self, class_balancing: bool = True, dont_care_class: Optional[int] = None,
                 loss_weight: float = 1.0):
        super().__init__()
        self.class_balancing = class_balancing
        self.dont_care_class = dont_care_class
        self.loss_weight = loss_weight

    def class_weights(self, labels: Tensor, num_classes: int) -> Tensor:
        """``(N, H, W)`` weight of each pixel's real target."""
        counts = torch.bincount(labels.flatten(), minlength=num_classes).float()
        if self.dont_care_class is not None:
            counts[self.dont_care_class] = 0
        present = (counts > 0).sum()
        weights = labels.numel() / (counts * present)
        if self.dont_care_class is not None:
            weights[self.dont_care_class] = 0
        return weights[labels]

    def forward(self, logits: Tensor, labels: Tensor, real: bool) -> Tensor:
        num_classes = logits.shape[1] - 1
        if labels.shape != (logits.shape[0], *logits.shape[2:]):
            raise ValueError(f'labels of shape {tuple(labels.shape)} for discriminator logits of '
                             f'shape {tuple(logits.shape)}: give (N, H, W) class ids of the '
                             "logits' size")
        target = labels + 1 if real else torch.zeros_like(labels)
        loss = F.cross_entropy(logits, target, reduction='none')
        if real and self.class_balancing:
            loss = loss * self.class_weights(labels, num_classes)
        return loss.mean() * self.loss_weight


@MODELS.register_module()
class LabelMixLoss(nn.Module):
    """LabelMix: a real and a fake image mixed by whole classes, and the discriminator asked to
    give on the mix what it gives on the real image inside the real classes and on the fake
    outside (mean squared error of the logits). It keeps the discriminator a segmenter that
    looks at the content of a region rather than at its outline.

    Each class of the batch is taken from the real image with probability 1/2 (one draw per
    class for the whole batch, as published; the published loop draws the classes in turn
    over a map it is overwriting, so a class it has set to 1 can be drawn again as class 1:
    here every class is drawn once).

    Args:
        loss_weight: ``lambda_labelmix`` (10 in the paper; 5 for Cityscapes).

    Shapes: :meth:`mix` ``(labels (N, H, W), fake, real (N, 3, H, W)) -> (mixed, mask
    (N, 1, H, W))``; ``forward(mask, mixed_logits, fake_logits, real_logits)`` -> a scalar.
    """

    def __init__(self, loss_weight: float = 10.0):
        super().__init__()
        self.loss_weight = loss_weight

    @staticmethod
    def mix(labels: Tensor, fake: Tensor, real: Tensor,
            generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        bits = torch.randint(0, 2, (int(labels.max()) + 1, ), generator=generator)
        mask = bits.to(labels.device)[labels][:, None].to(real.dtype)
        return mask * real + (1 - mask) * fake, mask

    def forward(self, mask: Tensor, mixed_logits: Tensor, fake_logits: Tensor,
                real_logits: Tensor) -> Tensor:
        target = mask * real_logits + (1 - mask) * fake_logits
        return F.mse_loss(mixed_logits, target) * self.loss_weight
