# Cityscapes: 35 labelIds classes, instance edges from instanceIds, 512x256 images generated
# with num_upsampling_layers='more' (1024x512 needs 'most').
dataset_type = 'SemanticFolderDataset'
data_root = 'data/cityscapes'
num_classes = 35
image_size = (256, 512)
# The labelIds of Cityscapes' label table; id 34 never occurs (the license plate has id -1
# and is not drawn into the labelIds maps).
class_names = (
    'unlabeled', 'ego vehicle', 'rectification border', 'out of roi', 'static', 'dynamic',
    'ground', 'road', 'sidewalk', 'parking', 'rail track', 'building', 'wall', 'fence',
    'guard rail', 'bridge', 'tunnel', 'pole', 'polegroup', 'traffic light', 'traffic sign',
    'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'caravan',
    'trailer', 'train', 'motorcycle', 'bicycle', 'unused')
unused_ids = (34, )
metainfo = dict(classes=class_names)

train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='SemanticResize', scale=image_size[::-1], interpolation='bicubic'),
    dict(type='Flip', keys=['img', 'label', 'instance'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='PackInputs', keys=['img', 'label', 'instance'])
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        data_root=data_root,
        data_prefix=dict(img='leftImg8bit/train', label='gtFine/train',
                         instance='gtFine/train'),
        img_suffix='_leftImg8bit.png',
        label_suffix='_gtFine_labelIds.png',
        instance_suffix='_gtFine_instanceIds.png',
        metainfo=metainfo,
        pipeline=train_pipeline))

# 'position' is packed only where LoadSemanticSample computes it (position_map='published').
test_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='SemanticResize', scale=image_size[::-1], interpolation='bicubic'),
    dict(type='PackInputs', keys=['img', 'label', 'instance', 'position'])
]
test_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, num_classes=num_classes, data_root=data_root,
        data_prefix=dict(img='leftImg8bit/val', label='gtFine/val', instance='gtFine/val'),
        img_suffix='_leftImg8bit.png', label_suffix='_gtFine_labelIds.png',
        instance_suffix='_gtFine_instanceIds.png', metainfo=metainfo,
        pipeline=test_pipeline))
# mmseg's Cityscapes models predict the 19 trainIds: labelId -> trainId, the rest ignored.
label_to_train_id = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
                     23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
segmentor = dict(
    config='mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb2-80k_cityscapes-512x1024.py',
    checkpoint='checkpoints/deeplabv3plus_r101_cityscapes.pth',
    class_mapping=[label_to_train_id.get(i) for i in range(num_classes)])
test_evaluator = [
    dict(type='SegmentationScore', segmentor_config=segmentor['config'],
         segmentor_checkpoint=segmentor['checkpoint'], num_generator_classes=num_classes,
         class_mapping=segmentor['class_mapping']),
    dict(type='SemanticFID', inception_path='checkpoints/inception-2015-12-05.pt',
         real_stats_cache='work_dirs/fid_cache/cityscapes_val_512x256.pkl'),
]

# 200 epochs of 2,975 images at batch 16; decay over the last 100.
max_iters = 37200
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The same schedule for each optimizer (mmengine builds a list for every one).
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
