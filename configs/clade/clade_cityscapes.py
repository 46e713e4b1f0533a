# CLADE on Cityscapes; everything else as spade_cityscapes.py.
_base_ = '../spade/spade_cityscapes.py'
model = dict(
    generator=dict(norm_cfg=dict(_delete_=True, type='CLADE')))
