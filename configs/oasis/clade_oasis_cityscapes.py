# CLADE trained the OASIS way on cityscapes: OASIS's generator with CLADE's norm in every block; the
# 3D noise enters through the first convolution only (see clade_oasis_synthetic.py).
_base_ = './oasis_cityscapes.py'
model = dict(generator=dict(norm_cfg=dict(_delete_=True, type='CLADE', param_free_norm='BN')))
