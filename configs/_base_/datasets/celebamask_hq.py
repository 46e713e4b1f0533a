# CelebAMask-HQ as SEAN prepares it (its CelebA-HQ folder): 19 face-part classes, id 0 the
# background, no don't-care class, no instance maps. 256x256: photo and label map resized to
# 256 (bicubic photos, nearest maps, PIL), horizontal flip; no crop (SEAN's load size is its
# crop size).
dataset_type = 'SemanticFolderDataset'
data_root = 'data/CelebA-HQ'
num_classes = 19
image_size = (256, 256)
# The ids SEAN's preprocessing writes: 0 where no part is annotated, then the CelebAMask-HQ
# part masks in this order, a later part painted over an earlier one (ear_r: earring,
# neck_l: necklace, eye_g: eyeglasses).
class_names = (
    'background', 'skin', 'nose', 'eye_g', 'l_eye', 'r_eye', 'l_brow', 'r_brow', 'l_ear',
    'r_ear', 'mouth', 'u_lip', 'l_lip', 'hair', 'hat', 'ear_r', 'neck_l', 'neck', 'cloth')
# The colours of the dataset's label visualisations (the vis/ folders), so the painter and
# the sample grids show each part as those images do.
palette = [[0, 0, 0], [204, 0, 0], [76, 153, 0], [204, 204, 0], [51, 51, 255], [204, 0, 204],
           [0, 255, 255], [51, 255, 255], [102, 51, 0], [255, 0, 0], [102, 204, 0],
           [255, 255, 0], [0, 0, 153], [0, 0, 204], [255, 51, 153], [0, 204, 204], [0, 51, 0],
           [255, 153, 51], [0, 204, 0]]
metainfo = dict(classes=class_names, palette=palette)

# CelebA-HQ/{train,test}/images/<n>.jpg pair by name with {train,test}/labels/<n>.png (8-bit
# ids); vis/ beside them is not read. The photos are 1024x1024 (the CelebA-HQ originals) or
# 512x512, the label maps 512x512: map_scales=(1, 2) lets a photo be twice its map's size,
# and SemanticResize brings both to 256x256 before anything needs them aligned.
# SEAN flips without swapping the left and right classes (l_eye, r_eye...): after a flip
# they name the part on the other side of the picture, as in the published training.
train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes, map_scales=(1, 2)),
    dict(type='SemanticResize', scale=image_size[::-1], interpolation='bicubic'),
    dict(type='Flip', keys=['img', 'label'], flip_ratio=0.5, direction='horizontal'),
    dict(type='PackInputs', keys=['img', 'label'])
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        data_root=data_root,
        data_prefix=dict(img='train/images', label='train/labels'),
        img_suffix='.jpg',
        metainfo=metainfo,
        pipeline=train_pipeline))

# 'position' is packed only where LoadSemanticSample computes it (position_map='published').
test_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes, map_scales=(1, 2)),
    dict(type='SemanticResize', scale=image_size[::-1], interpolation='bicubic'),
    dict(type='PackInputs', keys=['img', 'label', 'position'])
]
test_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, num_classes=num_classes, data_root=data_root,
        data_prefix=dict(img='test/images', label='test/labels'), img_suffix='.jpg',
        metainfo=metainfo, pipeline=test_pipeline))
# FID only: mmsegmentation ships no face-parsing model to score the segmentation with. Add a
# SegmentationScore with a segmentor of your own trained on these 19 classes to score it.
test_evaluator = [
    dict(type='SemanticFID', inception_path='checkpoints/inception-2015-12-05.pt',
         real_stats_cache='work_dirs/fid_cache/celebamask_hq_test_256.pkl'),
]

# 100 epochs of SEAN's 28,000 training images at batch 32, the learning rate decaying over the
# last 50 (SEAN's niter=50, niter_decay=50).
max_iters = 87500
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The same schedule for each optimizer (mmengine builds a list for every one).
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
