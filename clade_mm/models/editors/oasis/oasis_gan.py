"""OASIS's training: adversarial supervision only, by a discriminator that segments."""
from typing import Dict, List, Optional

import torch
from mmengine.optim import OptimWrapper
from torch import Tensor

from mmagic.registry import MODELS
from mmagic.structures import DataSample

from ....layers.label_map import as_label_batch
from ..spade.semantic_gan import SampleList, SemanticGAN


@MODELS.register_module()
class OASISGAN(SemanticGAN):
    """Any generator of the zoo trained the OASIS way (Sushko et al., ICLR 2021).

    The discriminator (a config key: :class:`OASISDiscriminator` or any module that maps
    images to ``N_c + 1`` per-pixel logits) segments real images into their classes and fake
    images into class 0; the generator is trained to make it see the label map's classes in
    its images. No feature matching and no VGG loss by default, so nothing needs ImageNet
    weights; ``perceptual_loss`` adds the VGG loss (the published ``--add_vgg_loss``).

    Args:
        generator: any generator config (OASIS's, or SPADE's with CLADE norms...).
        discriminator: a segmenting discriminator config.
        adversarial_loss: :class:`SegmentationAdversarialLoss` config.
        labelmix: :class:`LabelMixLoss` config, ``None`` to train without LabelMix.
        perceptual_loss, kl_loss, data_preprocessor, ema_config, layout_keys: as in
            :class:`SemanticGAN`.

    Steps: the discriminator sees the fake, the real and (with LabelMix) the mixed images in
    three passes, as published; mmagic's ``train_step`` updates the discriminator first, then
    the generator (the published loop runs the generator's update first). At test time
    :meth:`forward` also gives the discriminator's segmentation of the real images
    (``disc_label_map``), which :class:`~clade_mm.evaluation.DiscriminatorIoU` scores.
    """

    def __init__(self, generator: dict, discriminator: dict,
                 data_preprocessor: Optional[dict] = None,
                 adversarial_loss: dict = dict(type='SegmentationAdversarialLoss'),
                 labelmix: Optional[dict] = dict(type='LabelMixLoss', loss_weight=10.0),
                 perceptual_loss: Optional[dict] = None,
                 kl_loss: Optional[dict] = dict(type='KLDivergenceLoss', loss_weight=0.05),
                 ema_config: Optional[dict] = None, layout_keys: Optional[dict] = None):
        super().__init__(generator, discriminator, data_preprocessor,
                         feature_matching_loss=None, perceptual_loss=perceptual_loss,
                         kl_loss=kl_loss, ema_config=ema_config, layout_keys=layout_keys)
        self.adversarial_loss = MODELS.build(adversarial_loss)
        self.labelmix = MODELS.build(labelmix) if labelmix else None

    def _labels(self, inputs: dict) -> Tensor:
        return as_label_batch(inputs['label'])

    def train_discriminator(self, inputs: dict, data_samples: SampleList,
                            optimizer_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        real, labels = inputs['img'], self._labels(inputs)
        with torch.no_grad():
            fake, _ = self._generate(self.generator, inputs, style=real)
        # three passes, as published: each takes a step of spectral norm's power iteration,
        # whose early estimates are what keeps the discriminator's first steps in bounds
        fake_logits = self.discriminator(fake.detach())
        real_logits = self.discriminator(real)
        losses = dict(loss_disc_fake=self.adversarial_loss(fake_logits, labels, real=False),
                      loss_disc_real=self.adversarial_loss(real_logits, labels, real=True))
        if self.labelmix is not None:
            mixed, mask = self.labelmix.mix(labels, fake.detach(), real)
            losses['loss_disc_labelmix'] = self.labelmix(mask, self.discriminator(mixed),
                                                         fake_logits, real_logits)
        loss, log_vars = self.parse_losses(losses)
        optimizer_wrapper.update_params(loss)
        return log_vars

    def train_generator(self, inputs: dict, data_samples: SampleList,
                        optimizer_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        real, labels = inputs['img'], self._labels(inputs)
        fake, posterior = self._generate(self.generator, inputs, style=real)
        losses = dict(loss_gen_adv=self.adversarial_loss(self.discriminator(fake), labels,
                                                         real=True))
        if self.perceptual_loss is not None:
            losses['loss_gen_vgg'] = self.perceptual_loss(fake, real)
        if posterior and self.kl_loss is not None:
            losses['loss_gen_kl'] = sum(self.kl_loss(*p) for p in posterior) / len(posterior)
        loss, log_vars = self.parse_losses(losses)
        optimizer_wrapper.update_params(loss)
        return log_vars

    @torch.no_grad()
    def segment(self, images: Tensor) -> Tensor:
        """The discriminator's segmentation of ``images``: ``(N, H, W)`` class ids, the most
        likely of the ``N_c`` semantic classes (the "fake" class left out)."""
        return self.discriminator(images)[:, 1:].argmax(1)

    def forward(self, inputs: dict, data_samples: Optional[SampleList] = None,
                mode: Optional[str] = None) -> List[DataSample]:
        """As :meth:`SemanticGAN.forward`, each sample also with ``disc_label_map`` (the
        discriminator's segmentation of its real image) when real images were given."""
        samples = super().forward(inputs, data_samples, mode)
        if inputs.get('img') is not None:
            for sample, segmentation in zip(samples, self.segment(inputs['img'])):
                sample.disc_label_map = segmentation
        return samples
