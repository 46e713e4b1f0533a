"""tzt101/CLADE: the published CLADE and CLADE-ICPE generators.

The CLADE code base is SPADE's (:mod:`.spade`) with other norms; every key that is not a
norm's follows SPADE's rules. CLADE's norms name their parts differently (``N_c`` classes,
``C`` the norm's channels):

- CLADE: ``norm_*.class_specified_affine.weight|bias`` -> ``norm_*.class_affine.gamma|beta``,
  ``(N_c, C)``.
- CLADE-ICPE: ``norm_*.class_specified_affine.dist_conv_w|dist_conv_b.*`` ->
  ``norm_*.class_affine.position_gamma|position_beta.*``, ``(1, 2, 1, 1)`` and ``(1,)``.
- Instance edges: ``norm_*.inst_conv.*`` -> ``norm_*.edge_affine.*``, ``(1, 1, 1, 1)``,
  ``(1,)``; the convolution after such a norm takes one more input channel.

The layers compute the same functions on these weights (checked against the published code):
``norm(x) * gamma[label] + beta[label]``, CLADE-ICPE scales both by ``1 + Conv1x1(dist)`` with
``dist`` in the same ``(dy, dx)`` channel order; the edge channel is ``inst_conv(edges)``
concatenated after the features.
"""
from .base import PublishedCodebase, register_codebase

CLADE_CODEBASE = register_codebase(PublishedCodebase(
    name='tzt101/CLADE',
    generator_key_rules=(
        ('{block}.{norm}.class_specified_affine.weight', '{block}.{norm}.class_affine.gamma'),
        ('{block}.{norm}.class_specified_affine.bias', '{block}.{norm}.class_affine.beta'),
        ('{block}.{norm}.class_specified_affine.dist_conv_w.{param}',
         '{block}.{norm}.class_affine.position_gamma.{param}'),
        ('{block}.{norm}.class_specified_affine.dist_conv_b.{param}',
         '{block}.{norm}.class_affine.position_beta.{param}'),
        ('{block}.{norm}.inst_conv.{param}', '{block}.{norm}.edge_affine.{param}'),
    ),
    norm_signatures=(('.class_specified_affine.dist_conv_w.weight', 'CLADE-ICPE'),
                     ('.class_specified_affine.weight', 'CLADE')),
))
