# CLADE trained the OASIS way on the embedded synthetic scenes: OASIS's generator with CLADE's
# norm in every block (as CLADE replaced SPADE's), its discriminator, losses and EMA. CLADE has
# no convolution over the map, so the 3D noise enters through the generator's first
# convolution only (concatenated with the one-hot map at 1/32 of the image); the regions'
# look then varies through the features, not through the norms' gamma and beta.
# z_channels=0 trains the same generator without noise (configs/oasis/README.md compares).
_base_ = './oasis_synthetic.py'
model = dict(generator=dict(norm_cfg=dict(_delete_=True, type='CLADE', param_free_norm='BN')))
