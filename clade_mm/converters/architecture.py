"""The architecture of a published SPADE-style generator, read from its keys and shapes.

The published codebases registered in this folder share SPADE's generator (head, middle and
up blocks of residual blocks with a norm before each convolution); what differs between them
is the norm, which each codebase's ``norm_signatures`` tell. OASIS's generator has such blocks
under other names (``body.0`` .. ``body.5``, ``body.0`` as wide as ``head_0``; its SPADE norms
call their parameter-free norm ``first_norm``): what its keys tell is read the same way, and
its codebase says itself what a config must change (``generator_fixes``). The same reading
serves the converter (what the published file is) and the checkpoint check of
:mod:`clade_mm.models.generator_weights` (why a checkpoint does not fit a config).
"""
from dataclasses import dataclass, replace
from typing import List, Mapping, Optional, Sequence, Tuple

import torch.nn as nn

from .base import norm_signatures, official_generator_key

Shape = Sequence[int]  # a torch.Size or a tuple


@dataclass(frozen=True)
class GeneratorArchitecture:
    """The settings of a SPADE-style generator that its weights fix, read from the published
    key names and shapes (``None``: the weights do not tell).

    Attributes:
        norm: the registered name of the norm family the keys show (the codebases'
            ``norm_signatures``), or ``None``.
        base_channels: ``ngf``; ``head_0`` (OASIS: ``body.0``) is ``16 ngf`` wide.
        label_channels: channels of the label input: classes plus one with instance edges
            (OASIS: the 3D noise's ``z_dim`` channels too, which the weights do not tell
            apart).
        num_classes: ``N_c`` (CLADE's bank and INADE's class distributions have a row per
            class; SPADE's weights only give ``label_channels``).
        with_instance_edge: CLADE's ``inst_conv``; never for INADE (its norms drop the edge
            channel); unknown for SPADE.
        z_channels: length of the code when ``fc`` is a Linear (SPADE's ``--use_vae`` style
            code; INADE's always, its ``z_dim``).
        start_positions: ``sh * sw`` of the first feature map made by that Linear.
        most: has ``up_4`` (``num_upsampling_layers='most'``). ``'normal'`` and ``'more'`` have
            the same weights.
        running_stats: batch norm (saves running statistics) rather than instance norm.
        spectral_norm: convs store ``weight_orig``.
        spade_hidden_channels, spade_kernel_size: of SPADE's ``mlp_shared``.
        noise_channels: of INADE's per-instance noise (``noise_nc``, its ``fc_noise`` input).
        style_channels: of SEAN's style codes (its ``conv_gamma`` input).
        blocks_without_style: SEAN's blocks whose norms have no style branch (the published
            ``up_3``).
    """
    norm: Optional[str] = None
    base_channels: Optional[int] = None
    label_channels: Optional[int] = None
    num_classes: Optional[int] = None
    with_instance_edge: Optional[bool] = None
    z_channels: Optional[int] = None
    start_positions: Optional[int] = None
    most: bool = False
    running_stats: bool = False
    spectral_norm: bool = False
    spade_hidden_channels: Optional[int] = None
    spade_kernel_size: Optional[int] = None
    noise_channels: Optional[int] = None
    style_channels: Optional[int] = None
    blocks_without_style: Tuple[str, ...] = ()

    @classmethod
    def from_official_shapes(cls, shapes: Mapping[str, Shape]) -> 'GeneratorArchitecture':
        """From ``{published key: shape}`` of a generator (its own, or ours renamed)."""
        def first(suffix):
            return next((tuple(s) for k, s in shapes.items() if k.endswith(suffix)), None)

        bank = first('.class_specified_affine.weight')
        mlp_shared = first('.mlp_shared.0.weight')
        # INADE: a norm's fc_noise (C, noise_nc) beside its class table ``weight`` (N_c, C, 2)
        fc_noise = next((k for k in shapes if k.endswith('.fc_noise.weight')), None)
        if fc_noise:
            table = shapes.get(fc_noise[:-len('fc_noise.weight')] + 'weight')
            bank = (tuple(table)[0], ) if table else None
        norm = next((name for suffix, name in norm_signatures() if first(suffix)), None)
        head_conv = next((tuple(shapes[k]) for k in (
            'head_0.conv_0.weight_orig', 'head_0.conv_0.weight', 'body.0.conv_0.weight_orig',
            'body.0.conv_0.weight') if k in shapes), None)
        fc = tuple(shapes.get('fc.weight', ()))
        base_channels = head_conv[0] // 16 if head_conv else None
        if fc_noise:
            with_edge = False  # INADE's norms drop the edge channel
        else:
            with_edge = bool(first('.inst_conv.weight')) if bank else None
        num_classes = bank[0] if bank else None
        if mlp_shared:
            label_channels = mlp_shared[1]
        elif len(fc) == 4:
            label_channels = fc[1]
        else:
            label_channels = num_classes + bool(with_edge) if bank else None
        vae = len(fc) == 2
        conv_gamma = first('.conv_gamma.weight')
        # SEAN: a norm with noise_var but no conv_gamma has no style branch
        styled = {k.rsplit('.', 2)[0] for k in shapes if k.endswith('.conv_gamma.weight')}
        unstyled = sorted({k.split('.', 1)[0] for k in shapes if k.endswith('.noise_var')
                           and k[:-len('.noise_var')] not in styled})
        return cls(
            norm=norm, base_channels=base_channels, label_channels=label_channels,
            num_classes=num_classes, with_instance_edge=with_edge,
            z_channels=fc[1] if vae else None,
            start_positions=fc[0] // (16 * base_channels) if vae and base_channels else None,
            most=any(k.startswith('up_4.') for k in shapes),
            running_stats=first('.param_free_norm.running_mean') is not None
            or first('.first_norm.running_mean') is not None,
            spectral_norm='head_0.conv_0.weight_orig' in shapes
            or 'body.0.conv_0.weight_orig' in shapes,
            spade_hidden_channels=mlp_shared[0] if mlp_shared else None,
            spade_kernel_size=mlp_shared[-1] if mlp_shared else None,
            noise_channels=tuple(shapes[fc_noise])[1] if fc_noise else None,
            style_channels=conv_gamma[0] if conv_gamma else None,  # (S, 9, C): by tap
            blocks_without_style=tuple(unstyled))

    @classmethod
    def of_generator(cls, generator: nn.Module) -> 'GeneratorArchitecture':
        """The architecture of a built :class:`SemanticGenerator`, including what its config
        says and its weights do not (class count and instance edges for SPADE)."""
        shapes = {}
        for key, tensor in generator.state_dict().items():
            official = official_generator_key(key)
            if official is not None:
                shapes[official] = tuple(tensor.shape)
        return replace(cls.from_official_shapes(shapes), num_classes=generator.num_classes,
                       with_instance_edge=getattr(generator, 'with_instance_edge', False))

    def fixes_to_match(self, config: 'GeneratorArchitecture') -> List[str]:
        """What to change in ``model.generator`` of a config whose generator is ``config`` so
        that it takes weights of this architecture; empty if nothing the weights tell differs."""
        gen = 'model.generator.'
        fixes = []
        if self.norm != config.norm:
            fixes.append(
                f"the source's norms are {self.norm}, the config's "
                f"{config.norm or 'of no published codebase'}: set "
                f"{gen}norm_cfg=dict(type='{self.norm}') "
                f"(or take a configs/*/{self.norm.lower().replace('-', '_')}_*.py)"
                if self.norm else "the source's norms are of no family a registered codebase "
                "publishes")
        if self.z_channels != config.z_channels and self.noise_channels is not None:
            fixes.append(  # INADE: fc is always a Linear of z_dim (the published noise_ins)
                f'the source starts from a code of z_dim={self.z_channels} (the published '
                f'noise_ins): set {gen}z_channels={self.z_channels} and {gen}out_size=(H, W), '
                f'the training crop')
        elif self.z_channels != config.z_channels:
            fixes.append(
                f'the source starts from a style code of {self.z_channels} (trained with '
                f'--use_vae): set {gen}z_channels={self.z_channels} and {gen}out_size=(H, W), '
                f'the training crop' if self.z_channels else
                f'the source starts from the label map, not from a style code: remove '
                f'{gen}z_channels and {gen}style_encoder')
        elif self.start_positions and self.start_positions != config.start_positions:
            fixes.append(
                f"the source's fc makes a first feature map of {self.start_positions} positions "
                f"(sh * sw), the config's {config.start_positions}: set {gen}out_size to the "
                f'training crop (crop_size, aspect_ratio of the published options)')
        if self.num_classes is not None and self.num_classes != config.num_classes:
            fixes.append(
                f'class count: the source has {self.num_classes} classes, the config '
                f'{config.num_classes}: set {gen}num_classes={self.num_classes} (and a dataset '
                f'with these class ids)')
        if self.with_instance_edge is not None and \
                self.with_instance_edge != config.with_instance_edge:
            fixes.append(
                f'the source is {"" if self.with_instance_edge else "not "}conditioned on '
                f'instance edges: set {gen}with_instance_edge={self.with_instance_edge}')
        elif self.num_classes is None and self.label_channels is not None and \
                self.label_channels != config.label_channels:
            config_has = f'num_classes={config.num_classes}' + (
                ' + instance edge' if config.with_instance_edge else ', no instance edge')
            fixes.append(
                f'the source takes {self.label_channels} label channels, the config '
                f'{config.label_channels} ({config_has}): set {gen}num_classes='
                f'{self.label_channels} without instance edges, or {gen}num_classes='
                f'{self.label_channels - 1} with {gen}with_instance_edge=True')
        if self.noise_channels is not None and config.noise_channels is not None and \
                self.noise_channels != config.noise_channels:
            fixes.append(
                f"INADE's noise_nc: source {self.noise_channels}, config "
                f'{config.noise_channels}: set {gen}norm_cfg.noise_channels='
                f'{self.noise_channels} (and {gen}style_encoder.noise_channels='
                f'{self.noise_channels} with an instance encoder)')
        if self.style_channels is not None and config.style_channels is not None and \
                self.style_channels != config.style_channels:
            fixes.append(f"SEAN's style length: source {self.style_channels}, config "
                         f'{config.style_channels}: set {gen}norm_cfg.style_channels='
                         f'{self.style_channels} (and {gen}style_encoder.style_channels)')
        if self.norm == config.norm and self.blocks_without_style != config.blocks_without_style:
            fixes.append(
                f'the source\'s blocks without a style branch are '
                f'{", ".join(self.blocks_without_style) or "none"}: set {gen}block_norm_cfgs='
                'dict(' + ', '.join(f'{b}=dict(with_style=False)'
                                    for b in self.blocks_without_style) + ')')
        if self.base_channels != config.base_channels:
            fixes.append(f'base channels (ngf): source {self.base_channels}, config '
                         f'{config.base_channels}: set {gen}base_channels={self.base_channels}')
        if self.most != config.most:
            fixes.append(
                f"the source has an up_4 block: set {gen}num_upsampling_layers='most'"
                if self.most else f"the source has no up_4 block: set "
                f"{gen}num_upsampling_layers='normal' or 'more', as it was trained")
        if self.running_stats != config.running_stats:
            fixes.append(
                "the source's norms keep running statistics (batch norm): set param_free_norm="
                "'BN' or 'SyncBN' in the norm_cfg" if self.running_stats else
                "the source's norms keep no running statistics (instance norm): set "
                "param_free_norm='IN' in the norm_cfg")
        if self.spectral_norm != config.spectral_norm:
            fixes.append(f'the source is {"" if self.spectral_norm else "not "}spectrally '
                         f'normalised: set {gen}spectral_norm={self.spectral_norm}')
        for name, arg in (('spade_hidden_channels', 'hidden_channels'),
                          ('spade_kernel_size', 'kernel_size')):
            ours, theirs = getattr(self, name), getattr(config, name)
            if ours is not None and theirs is not None and ours != theirs:
                fixes.append(f"SPADE's {arg}: source {ours}, config {theirs}: set {arg}={ours} "
                             'in the norm_cfg')
        return fixes
