# Pix2Pix whose generator normalises with SPADE on the synthetic scenes' label maps.
_base_ = './_base_/pix2pix_synthetic.py'
model = dict(generator=dict(norm_cfg=dict(_delete_=True, type='SPADE', num_classes=6)))
