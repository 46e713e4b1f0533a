"""INADE's instance encoder ("prior noise remapping"): a reference photo and its instance map
in, per instance the mean and log-variance of the scale and the shift noise out, so that the
generator draws ``noise = eps * std + mean`` (the published ``pre_process_noise``) and an object
takes the look of the reference's."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmagic.registry import MODELS

from ....layers import INSTANCES, SemanticLayout, resize_nearest
from ....layers.inade import instance_noise_input
from ....layers.label_map import region_means

Posterior = Tuple[Tensor, Tensor]


class InstanceAwareConv2d(nn.Conv2d):
    """A convolution in which each output pixel sums only over the input pixels of its own
    instance (the window's centre's): the published instance-aware convolution.

    Shapes: ``forward(x: (N, C, H, W), instances: (N, H, W) ids) -> (N, C_out, H', W')``; the
    instance map is resized with nearest neighbour to ``x``.
    """

    def forward(self, x: Tensor, instances: Tensor) -> Tensor:  # noqa: D102
        return self.apply_weights(x, instances, self.weight, self.bias)

    def apply_weights(self, x: Tensor, instances: Tensor, weight: Tensor,
                      bias: Optional[Tensor]) -> Tensor:
        """This convolution's windows with ``weight`` and ``bias``."""
        n, _, h, w = x.shape
        ids = resize_nearest(instances[:, None], (h, w)).to(x.dtype)
        unfold = dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                      dilation=self.dilation)
        windows = F.unfold(ids, **unfold)  # (N, k*k, L)
        centre = windows[:, windows.shape[1] // 2:windows.shape[1] // 2 + 1]
        same = (windows == centre).to(x.dtype)  # zero padding is instance 0, as x is 0 there
        patches = F.unfold(x, **unfold).view(n, x.shape[1], -1, windows.shape[-1])
        masked = (patches * same[:, None]).flatten(1, 2)  # (N, C*k*k, L)
        out = torch.einsum('om,nml->nol', weight.flatten(1), masked)
        if bias is not None:
            out = out + bias[:, None]
        out_h = (h + 2 * self.padding[0] - self.dilation[0] * (self.kernel_size[0] - 1) -
                 1) // self.stride[0] + 1
        return out.view(n, -1, out_h, out.shape[-1] // out_h)

    def region_means(self, x: Tensor, instances: Tensor, rows: int, weight: Tensor,
                     bias: Optional[Tensor]) -> Tensor:
        """:func:`~clade_mm.layers.label_map.region_means` of ``apply_weights(x, instances,
        weight, bias)`` over ``instances``, ``(N, rows, C_out)``, without the full-resolution
        output (stride 1, output of the input's size).

        The convolution is linear, so its mean over an instance is ``weight`` applied to, per
        input channel and tap, the mean over the instance's pixels of the input at the tap's
        offset where that pixel is of the instance too (zero outside the image), plus
        ``bias`` where the instance has pixels: ``k * k`` sums per channel and instance
        instead of a convolution at every pixel. Equal up to float rounding.
        """
        n, _, h, w = x.shape
        if self.stride != (1, 1) or any(
                2 * p != d * (k - 1)
                for p, d, k in zip(self.padding, self.dilation, self.kernel_size)):
            raise ValueError(f'{type(self).__name__}.region_means takes a convolution of '
                             'stride 1 whose output has its input\'s size')
        ids = resize_nearest(instances[:, None], (h, w)).long()
        (ph, pw), (dh, dw) = self.padding, self.dilation
        padded_x = F.pad(x, (pw, pw, ph, ph))
        padded_ids = F.pad(ids, (pw, pw, ph, ph))  # instance 0 outside, where x is 0
        means = []  # per tap: (N, rows, C)
        for ky in range(self.kernel_size[0]):
            for kx in range(self.kernel_size[1]):
                rows_at, cols_at = slice(ky * dh, ky * dh + h), slice(kx * dw, kx * dw + w)
                same = (padded_ids[..., rows_at, cols_at] == ids).to(x.dtype)
                means.append(region_means(padded_x[..., rows_at, cols_at] * same, ids[:, 0],
                                          rows))
        out = torch.einsum('nrct,oct->nro', torch.stack(means, -1), weight.flatten(2))
        if bias is not None:
            # the bias map's mean: the bias where the instance has pixels, 0 where it has none
            out = out + region_means(x.new_ones(n, 1, h, w), ids[:, 0], rows) * bias
        return out


@MODELS.register_module()
class InstanceStyleEncoder(BaseModule):
    """Photo + instance map -> per instance ``(mean, logvar)`` of the scale and the shift noise.

    A U-Net of instance-aware 3x3 convolutions (four stride-2 with instance norm and
    LeakyReLU(0.2), a middle one, three bilinear x2 up-steps each joined to the encoder
    feature of its size), four heads of ``noise_channels`` at full resolution, averaged over
    each instance. Layer names follow the published ``instanceAdaptiveEncoder``.

    Args:
        base_channels: ``ngf`` (64 in the published models).
        noise_channels: of INADE's instance noise (its norms' ``noise_channels``).

    Shapes: ``forward(images (N, 3, H, W), instances (N, H, W))`` with ``H, W`` multiples of 16
    returns four ``(N, K, noise_channels)`` tensors (scale mean, scale logvar, shift mean,
    shift logvar), ``K`` = the largest instance id + 1.
    """
    # A reference photo needs its label map (which instance of the target takes the look of
    # which of the reference's goes by class).
    needs_reference_labels = True

    def __init__(self, base_channels: int = 64, noise_channels: int = 64,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        nf = base_channels
        self.noise_channels = noise_channels
        self.noise_input = instance_noise_input(noise_channels)

        def conv(fin, fout, stride=1):
            return InstanceAwareConv2d(fin, fout, 3, stride=stride, padding=1)

        self.layer1, self.norm1 = conv(3, nf, 2), nn.InstanceNorm2d(nf)
        self.layer2, self.norm2 = conv(nf, 2 * nf, 2), nn.InstanceNorm2d(2 * nf)
        self.layer3, self.norm3 = conv(2 * nf, 4 * nf, 2), nn.InstanceNorm2d(4 * nf)
        self.layer4, self.norm4 = conv(4 * nf, 8 * nf, 2), nn.InstanceNorm2d(8 * nf)
        self.middle, self.norm_middle = conv(8 * nf, 4 * nf), nn.InstanceNorm2d(4 * nf)
        self.up1, self.norm_up1 = conv(8 * nf, 2 * nf), nn.InstanceNorm2d(2 * nf)
        self.up2, self.norm_up2 = conv(4 * nf, nf), nn.InstanceNorm2d(nf)
        self.up3, self.norm_up3 = conv(2 * nf, nf), nn.InstanceNorm2d(nf)
        self.scale_conv_mu = conv(nf, noise_channels)
        self.scale_conv_var = conv(nf, noise_channels)
        self.bias_conv_mu = conv(nf, noise_channels)
        self.bias_conv_var = conv(nf, noise_channels)

    def forward(self, images: Tensor, instances: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        if images.shape[-1] % 16 or images.shape[-2] % 16:
            raise ValueError(f'the instance encoder takes images whose sides divide by 16, got '
                             f'{images.shape[-2]}x{images.shape[-1]}')

        def step(layer, norm, x):
            return F.leaky_relu(norm(layer(x, instances)), 0.2)

        def up(x):
            return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)

        x1 = step(self.layer1, self.norm1, images)
        x2 = step(self.layer2, self.norm2, x1)
        x3 = step(self.layer3, self.norm3, x2)
        x4 = step(self.layer4, self.norm4, x3)
        y = up(step(self.middle, self.norm_middle, x4))
        y = up(step(self.up1, self.norm_up1, torch.cat([y, x3], 1)))
        y = up(step(self.up2, self.norm_up2, torch.cat([y, x2], 1)))
        y = up(step(self.up3, self.norm_up3, torch.cat([y, x1], 1)))
        rows = int(instances.max()) + 1
        # The four heads are only ever averaged over each instance: their means, from the
        # same per-instance sums of y (one pass, their weights stacked).
        heads = (self.scale_conv_mu, self.scale_conv_var, self.bias_conv_mu, self.bias_conv_var)
        out = heads[0].region_means(y, instances, rows, torch.cat([h.weight for h in heads]),
                                    torch.cat([h.bias for h in heads]))
        return out.split(self.noise_channels, dim=2)

    def encode(self, images: Tensor, layout: SemanticLayout, sample: bool = True,
               generator: Optional[torch.Generator] = None,
               target: Optional[SemanticLayout] = None
               ) -> Tuple[Dict[str, Tensor], List[Posterior]]:
        """The generator's ``instance_noise`` that gives ``target``'s instances (default: the
        images' own) the look of ``images``, and the two posteriors for the KL loss.

        ``noise = eps * exp(logvar / 2) + mean`` with ``eps`` from N(0, 1) (``generator``);
        ``sample=False`` takes ``eps = 0`` (the mean look) where a reference instance is
        copied. With a ``target``, each target instance copies the reference instance of its
        class with the most pixels (its class: the most frequent one under it); instances whose
        class the reference lacks keep the prior N(0, 1).
        """
        instances = layout.get(INSTANCES, images.device, type(self).__name__)
        s_mu, s_logvar, b_mu, b_logvar = self(images, instances)
        mean = torch.stack([s_mu, b_mu], 2)  # (N, K, 2, C)
        logvar = torch.stack([s_logvar, b_logvar], 2)
        copied = torch.ones(mean.shape[:2], dtype=torch.bool, device=mean.device)
        if target is not None:
            mean, logvar, copied = self._copy_by_class(mean, logvar, layout, target)
        eps = torch.randn(mean.shape, generator=generator).to(mean.device)
        if not sample:
            eps = torch.where(copied[..., None, None], torch.zeros_like(eps), eps)
        noise = eps * torch.exp(0.5 * logvar) + mean
        return {self.noise_input.name: noise}, [(s_mu, s_logvar), (b_mu, b_logvar)]

    @staticmethod
    def _copy_by_class(mean: Tensor, logvar: Tensor, reference: SemanticLayout,
                       target: SemanticLayout) -> Tuple[Tensor, Tensor, Tensor]:
        """Per target instance, the reference posterior of its class (see :meth:`encode`)."""
        device = mean.device
        ref_labels = reference.labels.to(device)
        ref_instances = reference.get(INSTANCES, device).to(device)
        labels = target.labels.to(device)
        instances = target.get(INSTANCES, device).to(device)
        rows = int(instances.max()) + 1
        classes = max(int(labels.max()), int(ref_labels.max())) + 1
        n = labels.shape[0]
        out_mean = mean.new_zeros(n, rows, *mean.shape[2:])
        out_logvar = torch.zeros_like(out_mean)
        copied = torch.zeros(n, rows, dtype=torch.bool, device=device)
        for i in range(n):
            r = min(i, mean.shape[0] - 1)  # one reference for a batch of targets
            # pixels per (reference instance, class): the largest instance of each class
            ref_counts = torch.bincount(ref_instances[r].flatten() * classes +
                                        ref_labels[r].flatten(),
                                        minlength=mean.shape[1] * classes)
            ref_counts = ref_counts.view(mean.shape[1], classes)
            best_count, best_instance = ref_counts.max(0)  # per class
            counts = torch.bincount(instances[i].flatten() * classes + labels[i].flatten(),
                                    minlength=rows * classes).view(rows, classes)
            present, target_class = counts.sum(1) > 0, counts.argmax(1)
            match = present & (best_count[target_class] > 0)
            source = best_instance[target_class]
            out_mean[i, match] = mean[r, source[match]]
            out_logvar[i, match] = logvar[r, source[match]]
            copied[i] = match
        return out_mean, out_logvar, copied
