"""The semantic image synthesis GAN: mmagic's BaseGAN with label-conditioned G and D steps."""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.dist import all_reduce
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import Tensor

from mmagic.models.base_models import BaseGAN
from mmagic.registry import MODELS
from mmagic.structures import DataSample

from ....layers.layout import SemanticLayout, inputs_read_by, missing_inputs
from ...generator_weights import check_gan_state_dict

SampleList = List[DataSample]


def _check_weights_before_loading(model, state_dict, prefix, *args) -> None:
    """Refuse generator weights that do not fit (see :mod:`.generator_weights`)."""
    note = check_gan_state_dict(model, state_dict, prefix)
    if note:
        print_log(note, logger='current', level=logging.WARNING)


@MODELS.register_module()
class SemanticGAN(BaseGAN):
    """Label map in, image out, trained with hinge GAN, feature matching, VGG and KL losses.

    Inputs (after the data preprocessor, which must leave the maps unnormalised:
    ``non_image_keys=['label', 'instance', 'position']``): ``img`` ``(N, 3, H, W)`` in
    ``[-1, 1]``, ``label`` ``(N, 1, H, W)`` class ids and, by ``layout_keys``, the named layout
    inputs of the generator and discriminator: ``instance`` ``(N, 1, H, W)`` instance ids,
    ``position`` ``(N, 2, H, W)`` positional maps (``LoadSemanticSample(position_map=
    'published')``), or any input a norm family declares.

    Args:
        generator: a :class:`~clade_mm.models.SemanticGenerator` config.
        discriminator: a :class:`~clade_mm.models.MultiScaleDiscriminator` config.
        data_preprocessor: mmagic's ``DataPreprocessor`` config.
        gan_loss: mmagic's ``GANLoss``, hinge by default.
        feature_matching_loss, perceptual_loss, kl_loss: configs or ``None`` to disable.
            ``kl_loss`` is used only when the generator has a style encoder.
        ema_config: as in BaseGAN; ``None`` trains without an EMA generator.
        layout_keys: ``{batch input key: layout input name}``: which inputs of a batch are
            per-sample conditioning, handed to the generator and the discriminator by name.
    """
    DEFAULT_LAYOUT_KEYS = dict(instance='instances', position='position')

    def __init__(self, generator: dict, discriminator: dict,
                 data_preprocessor: Optional[dict] = None,
                 gan_loss: dict = dict(type='GANLoss', gan_type='hinge'),
                 feature_matching_loss: Optional[dict] = dict(type='FeatureMatchingLoss',
                                                              loss_weight=10.0),
                 perceptual_loss: Optional[dict] = None,
                 kl_loss: Optional[dict] = dict(type='KLDivergenceLoss', loss_weight=0.05),
                 ema_config: Optional[dict] = None, layout_keys: Optional[dict] = None):
        super().__init__(generator, discriminator, data_preprocessor, ema_config=ema_config)
        self.layout_keys = dict(self.DEFAULT_LAYOUT_KEYS if layout_keys is None else layout_keys)
        self.gan_loss = MODELS.build(gan_loss)
        self.feature_matching_loss = MODELS.build(feature_matching_loss) \
            if feature_matching_loss else None
        self.perceptual_loss = MODELS.build(perceptual_loss) if perceptual_loss else None
        self.kl_loss = MODELS.build(kl_loss) if kl_loss else None
        # Before mmengine's lenient loading (load_from, resume, tools/test.py) copies a tensor.
        self.register_load_state_dict_pre_hook(_check_weights_before_loading)

    def _semantic_inputs(self, inputs: dict) -> Tuple[Tensor, Dict[str, Tensor]]:
        """The label maps and the named layout inputs of a batch."""
        named = {name: inputs[key] for key, name in self.layout_keys.items()
                 if inputs.get(key) is not None}
        return inputs['label'], named

    @staticmethod
    def _style_encoder(generator):
        # The EMA generator is a wrapper holding the averaged copy as ``module``.
        return getattr(getattr(generator, 'module', generator), 'style_encoder', None)

    def _generate(self, generator, inputs: dict,
                  style: Optional[Tensor] = None
                  ) -> Tuple[Tensor, Optional[List[Tuple[Tensor, Tensor]]]]:
        """Images from the label maps; with a style encoder, what it encodes (``z``, INADE's
        instance noise) comes from ``style`` images (and the posteriors ``[(mu, logvar)]`` are
        returned for the KL loss) or, without them, from N(0, 1)."""
        labels, named = self._semantic_inputs(inputs)
        posteriors = None
        encoder = self._style_encoder(generator)
        if encoder is not None and style is not None:
            encoded, posteriors = encoder.encode(style, SemanticLayout(labels, **named))
            named.update(encoded)
        return generator(labels, **inputs_read_by(generator, named)), posteriors

    def _discriminate(self, fake: Tensor, real: Tensor,
                      inputs: dict) -> Tuple[List[List[Tensor]], List[List[Tensor]]]:
        """One discriminator pass over fakes and reals together, split back per scale."""
        labels, named = self._semantic_inputs(inputs)
        twice = {name: torch.cat([value, value]) for name, value in named.items()}
        outputs = self.discriminator(torch.cat([fake, real]), torch.cat([labels, labels]),
                                     **twice)
        n = fake.shape[0]
        return ([[o[:n] for o in scale] for scale in outputs],
                [[o[n:] for o in scale] for scale in outputs])

    def _gan_loss(self, outputs: List[List[Tensor]], target_is_real: bool,
                  is_disc: bool) -> Tensor:
        return sum(self.gan_loss(scale[-1], target_is_real, is_disc=is_disc)
                   for scale in outputs) / len(outputs)

    def parse_losses(self, losses: Dict[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """As BaseModel's, but the logged values are the means over all processes.

        Under data parallelism each process holds a slice of the batch; logging rank 0's slice
        alone would make the log depend on the number of processes. Every loss here is a mean
        over samples, so the mean over equal slices is the loss of the global batch.
        """
        loss, log_vars = super().parse_losses(losses)
        logged = OrderedDict()
        for name, value in log_vars.items():
            value = value.detach().clone()
            all_reduce(value, op='mean')  # a no-op on one process
            logged[name] = value
        return loss, logged

    def train_discriminator(self, inputs: dict, data_samples: SampleList,
                            optimizer_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        real = inputs['img']
        with torch.no_grad():
            fake, _ = self._generate(self.generator, inputs, style=real)
        fake_out, real_out = self._discriminate(fake.detach(), real, inputs)
        loss_fake = self._gan_loss(fake_out, False, is_disc=True)
        loss_real = self._gan_loss(real_out, True, is_disc=True)
        loss, log_vars = self.parse_losses(dict(loss_disc_fake=loss_fake,
                                                loss_disc_real=loss_real))
        optimizer_wrapper.update_params(loss)
        return log_vars

    def train_generator(self, inputs: dict, data_samples: SampleList,
                        optimizer_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        real = inputs['img']
        fake, posterior = self._generate(self.generator, inputs, style=real)
        fake_out, real_out = self._discriminate(fake, real, inputs)
        losses = dict(loss_gen_gan=self._gan_loss(fake_out, True, is_disc=False))
        if self.feature_matching_loss is not None:
            losses['loss_gen_feat'] = self.feature_matching_loss(fake_out, real_out)
        if self.perceptual_loss is not None:
            losses['loss_gen_vgg'] = self.perceptual_loss(fake, real)
        if posterior and self.kl_loss is not None:  # averaged over posteriors
            losses['loss_gen_kl'] = sum(self.kl_loss(*p) for p in posterior) / len(posterior)
        loss, log_vars = self.parse_losses(losses)
        optimizer_wrapper.update_params(loss)
        return log_vars

    def forward(self, inputs: dict, data_samples: Optional[SampleList] = None,
                mode: Optional[str] = None) -> SampleList:
        """Synthesise images for the label maps of ``inputs``.

        ``inputs`` may carry ``style`` images (style-guided synthesis) and ``z`` codes
        (multi-modal); by default the EMA generator is used when there is one.

        Returns:
            one :class:`DataSample` per label map with ``fake_img`` (as the data preprocessor
            destructs it: 0..255, the dataset's channel order) and ``gt_img`` when real
            images were given, and the input ``label_map``.
        """
        generator = self.generator_ema if self.with_ema_gen else self.generator
        labels, named = self._semantic_inputs(inputs)
        if inputs.get('z') is not None:
            named['z'] = inputs['z']
        encoder = self._style_encoder(generator)
        style = inputs.get('style')
        if style is None and encoder is not None and missing_inputs(generator, named):
            # what the generator cannot do without (SEAN's style codes) comes from the batch's
            # own photos, as the published test does: reconstruction
            style = inputs.get('img')
        if encoder is not None and style is not None:
            # the posterior mean: deterministic style transfer; given codes are kept
            encoded, _ = encoder.encode(style, SemanticLayout(labels, **named), sample=False)
            for name, value in encoded.items():
                named.setdefault(name, value)
        fake = generator(labels, **inputs_read_by(generator, named))
        sample = DataSample()
        if data_samples:
            sample.update(data_samples)
        sample.fake_img = self.data_preprocessor.destruct(fake, data_samples)
        if 'img' in inputs:
            sample.gt_img = self.data_preprocessor.destruct(inputs['img'], data_samples)
        sample.label_map = labels
        return sample.split(allow_nonseq_value=True)
