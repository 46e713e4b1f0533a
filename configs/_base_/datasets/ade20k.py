# ADE20k (ADEChallengeData2016): 150 classes plus raw id 0 as the don't-care class = 151.
# Training: resize to 286x286, random 256x256 crop, horizontal flip (as SPADE, with PIL's
# resampling: bicubic photos, nearest maps).
dataset_type = 'SemanticFolderDataset'
data_root = 'data/ADEChallengeData2016'
num_classes = 151
image_size = (256, 256)
load_size = (286, 286)
# Raw id 0 is the don't-care class; 1..150 are the objectInfo150 classes (mmseg's k - 1).
class_names = (
    'unlabeled', 'wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'bed',
    'windowpane', 'grass', 'cabinet', 'sidewalk', 'person', 'earth', 'door', 'table', 'mountain',
    'plant', 'curtain', 'chair', 'car', 'water', 'painting', 'sofa', 'shelf', 'house', 'sea',
    'mirror', 'rug', 'field', 'armchair', 'seat', 'fence', 'desk', 'rock', 'wardrobe', 'lamp',
    'bathtub', 'railing', 'cushion', 'base', 'box', 'column', 'signboard', 'chest of drawers',
    'counter', 'sand', 'sink', 'skyscraper', 'fireplace', 'refrigerator', 'grandstand', 'path',
    'stairs', 'runway', 'case', 'pool table', 'pillow', 'screen door', 'stairway', 'river',
    'bridge', 'bookcase', 'blind', 'coffee table', 'toilet', 'flower', 'book', 'hill', 'bench',
    'countertop', 'stove', 'palm', 'kitchen island', 'computer', 'swivel chair', 'boat', 'bar',
    'arcade machine', 'hovel', 'bus', 'towel', 'light', 'truck', 'tower', 'chandelier', 'awning',
    'streetlight', 'booth', 'television receiver', 'airplane', 'dirt track', 'apparel', 'pole',
    'land', 'bannister', 'escalator', 'ottoman', 'bottle', 'buffet', 'poster', 'stage', 'van',
    'ship', 'fountain', 'conveyer belt', 'canopy', 'washer', 'plaything', 'swimming pool', 'stool',
    'barrel', 'basket', 'waterfall', 'tent', 'bag', 'minibike', 'cradle', 'oven', 'ball', 'food',
    'step', 'tank', 'trade name', 'microwave', 'pot', 'animal', 'bicycle', 'lake', 'dishwasher',
    'screen', 'blanket', 'sculpture', 'hood', 'sconce', 'vase', 'traffic light', 'tray', 'ashcan',
    'fan', 'pier', 'crt screen', 'plate', 'monitor', 'bulletin board', 'shower', 'radiator',
    'glass', 'clock', 'flag')
metainfo = dict(classes=class_names)

train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='SemanticResize', scale=load_size, interpolation='bicubic'),
    dict(type='SemanticCrop', keys=['img', 'label'], crop_size=image_size, random_crop=True),
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
        dont_care_class=0,
        data_root=data_root,
        data_prefix=dict(img='images/training', label='annotations/training'),
        img_suffix='.jpg',
        metainfo=metainfo,
        pipeline=train_pipeline))

# 'position' is packed only where LoadSemanticSample computes it (position_map='published').
test_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='SemanticResize', scale=image_size[::-1], interpolation='bicubic'),
    dict(type='PackInputs', keys=['img', 'label', 'position'])
]
test_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, num_classes=num_classes, dont_care_class=0, data_root=data_root,
        data_prefix=dict(img='images/validation', label='annotations/validation'),
        img_suffix='.jpg', metainfo=metainfo, pipeline=test_pipeline))
# The paper scores ADE20k with UperNet-101; mmseg's is trained on 150 classes without the
# don't-care class (reduce_zero_label): generator id k is segmentor id k - 1, 0 is ignored.
# The checkpoint and the Inception weights are local files (no download at run time).
segmentor = dict(config='mmseg::upernet/upernet_r101_4xb4-160k_ade20k-512x512.py',
                 checkpoint='checkpoints/upernet_r101_ade20k.pth',
                 class_mapping=[None] + list(range(150)))
test_evaluator = [
    dict(type='SegmentationScore', segmentor_config=segmentor['config'],
         segmentor_checkpoint=segmentor['checkpoint'], num_generator_classes=num_classes,
         class_mapping=segmentor['class_mapping']),
    dict(type='SemanticFID', inception_path='checkpoints/inception-2015-12-05.pt',
         real_stats_cache='work_dirs/fid_cache/ade20k_val_256.pkl'),
]

# 200 epochs of 20,210 images at batch 32; the learning rate decays over the last 100.
max_iters = 126300
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The same schedule for each optimizer (mmengine builds a list for every one).
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
