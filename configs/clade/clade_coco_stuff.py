# CLADE on COCO-Stuff; everything else as spade_coco_stuff.py.
_base_ = '../spade/spade_coco_stuff.py'
model = dict(
    generator=dict(norm_cfg=dict(_delete_=True, type='CLADE')))
