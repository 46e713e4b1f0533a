# COCO-Stuff: 182 classes plus raw 255 as the don't-care class (remapped to id 182) = 183;
# instance maps give instance edges. 256x256 (train: resize 286, crop 256, flip; test: resize).
dataset_type = 'SemanticFolderDataset'
data_root = 'data/cocostuff'
num_classes = 183
image_size = (256, 256)
load_size = (286, 286)
# Stuffthingmaps ids 0..181 (labels.txt id - 1); the don't-care class 182 is raw 255.
class_names = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'street sign', 'stop sign', 'parking meter', 'bench', 'bird',
    'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'hat',
    'backpack', 'umbrella', 'shoe', 'eye glasses', 'handbag', 'tie', 'suitcase', 'frisbee',
    'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard',
    'surfboard', 'tennis racket', 'bottle', 'plate', 'wine glass', 'cup', 'fork', 'knife',
    'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog',
    'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'mirror', 'dining table',
    'window', 'desk', 'toilet', 'door', 'tv', 'laptop', 'mouse', 'remote', 'keyboard',
    'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'blender', 'book',
    'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush', 'hair brush', 'banner',
    'blanket', 'branch', 'bridge', 'building-other', 'bush', 'cabinet', 'cage', 'cardboard',
    'carpet', 'ceiling-other', 'ceiling-tile', 'cloth', 'clothes', 'clouds', 'counter',
    'cupboard', 'curtain', 'desk-stuff', 'dirt', 'door-stuff', 'fence', 'floor-marble',
    'floor-other', 'floor-stone', 'floor-tile', 'floor-wood', 'flower', 'fog', 'food-other',
    'fruit', 'furniture-other', 'grass', 'gravel', 'ground-other', 'hill', 'house', 'leaves',
    'light', 'mat', 'metal', 'mirror-stuff', 'moss', 'mountain', 'mud', 'napkin', 'net', 'paper',
    'pavement', 'pillow', 'plant-other', 'plastic', 'platform', 'playingfield', 'railing',
    'railroad', 'river', 'road', 'rock', 'roof', 'rug', 'salad', 'sand', 'sea', 'shelf',
    'sky-other', 'skyscraper', 'snow', 'solid-other', 'stairs', 'stone', 'straw',
    'structural-other', 'table', 'tent', 'textile-other', 'towel', 'tree', 'vegetable',
    'wall-brick', 'wall-concrete', 'wall-other', 'wall-panel', 'wall-stone', 'wall-tile',
    'wall-wood', 'water-other', 'waterdrops', 'window-blind', 'window-other', 'wood',
    'unlabeled')
metainfo = dict(classes=class_names)
# COCO thing classes without annotations ("removed from COCO"): these ids never occur.
unused_ids = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)

# The folder layouts, tried in order below data_root (the first complete one is used):
#   the official downloads, unzipped as COCO-Stuff's and mmsegmentation's guides do
#     images/train2017/*.jpg, annotations/train2017/*.png (stuffthingmaps_trainval2017.zip),
#     annotations/panoptic_train2017/*.png (the panoptic PNGs inside
#     panoptic_annotations_trainval2017.zip);
#   the same zips unzipped where they are: train2017/, stuffthingmaps_trainval2017/train2017/,
#     panoptic_train2017/;
#   the published SPADE/CLADE folders: train_img/, train_label/, train_inst/ (and val_*).
# Instance maps are read as they come: COCO panoptic RGB PNGs or 8/16-bit instance-id PNGs.
train_layouts = [
    dict(img='images/train2017', label='annotations/train2017',
         instance='annotations/panoptic_train2017'),
    dict(img='train2017', label='stuffthingmaps_trainval2017/train2017',
         instance='panoptic_train2017'),
    dict(img='train_img', label='train_label', instance='train_inst'),
]
test_layouts = [
    dict(img='images/val2017', label='annotations/val2017',
         instance='annotations/panoptic_val2017'),
    dict(img='val2017', label='stuffthingmaps_trainval2017/val2017', instance='panoptic_val2017'),
    dict(img='val_img', label='val_label', instance='val_inst'),
]

train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes, label_mapping={255: 182}),
    dict(type='SemanticResize', scale=load_size, interpolation='bicubic'),
    dict(type='SemanticCrop', keys=['img', 'label', 'instance'], crop_size=image_size,
         random_crop=True),
    dict(type='Flip', keys=['img', 'label', 'instance'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='PackInputs', keys=['img', 'label', 'instance'])
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        dont_care_class=182,
        data_root=data_root,
        data_prefix=train_layouts,
        img_suffix='.jpg',
        metainfo=metainfo,
        pipeline=train_pipeline))

# 'position' is packed only where LoadSemanticSample computes it (position_map='published').
test_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes, label_mapping={255: 182}),
    dict(type='SemanticResize', scale=image_size[::-1], interpolation='bicubic'),
    dict(type='PackInputs', keys=['img', 'label', 'instance', 'position'])
]
test_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, num_classes=num_classes, dont_care_class=182, data_root=data_root,
        data_prefix=test_layouts, img_suffix='.jpg', metainfo=metainfo, pipeline=test_pipeline))
# The paper scores COCO-Stuff with DeepLab; mmseg's COCO-Stuff-164k models (DeepLabV3 R101 here)
# predict 171 classes: the used stuffthingmaps ids in increasing order (mmseg's
# tools/dataset_converters/coco_stuff164k.py). The unused ids and don't-care are not scored.
used_ids = [i for i in range(182) if i not in unused_ids]
segmentor = dict(
    config='mmseg::deeplabv3/deeplabv3_r101-d8_4xb4-80k_coco-stuff164k-512x512.py',
    checkpoint='checkpoints/deeplabv3_r101_coco_stuff164k.pth',
    class_mapping=[used_ids.index(i) if i in used_ids else None for i in range(num_classes)])
test_evaluator = [
    dict(type='SegmentationScore', segmentor_config=segmentor['config'],
         segmentor_checkpoint=segmentor['checkpoint'], num_generator_classes=num_classes,
         class_mapping=segmentor['class_mapping']),
    dict(type='SemanticFID', inception_path='checkpoints/inception-2015-12-05.pt',
         real_stats_cache='work_dirs/fid_cache/coco_stuff_val_256.pkl'),
]

# 100 epochs of 118,287 images at batch 32; decay over the last 50.
max_iters = 369700
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The same schedule for each optimizer (mmengine builds a list for every one).
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
