# CLADE-ICPE on the embedded synthetic scenes; everything else as spade_synthetic.py.
_base_ = '../spade/spade_synthetic.py'
model = dict(generator=dict(norm_cfg=dict(_delete_=True, type='CLADE-ICPE')))
