# CLADE-ICPE on ADE20k; everything else as spade_ade20k.py.
_base_ = '../spade/spade_ade20k.py'
model = dict(
    generator=dict(norm_cfg=dict(_delete_=True, type='CLADE-ICPE')))
