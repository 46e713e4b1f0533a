# The baseline: Pix2Pix with mmagic's batch norm, which cannot see the label maps.
_base_ = './_base_/pix2pix_synthetic.py'
