# CLADE-ICPE on ADE20k-outdoor; everything else as spade_ade20k_outdoor.py.
_base_ = '../spade/spade_ade20k_outdoor.py'
model = dict(
    generator=dict(norm_cfg=dict(_delete_=True, type='CLADE-ICPE')))
