# COCO-Stuff: 182 classes plus raw 255 as the don't-care class (remapped to id 182) = 183;
# instance maps give instance edges. 256x256 (resize 286, crop 256, flip).
dataset_type = 'SemanticFolderDataset'
data_root = 'data/cocostuff'
num_classes = 183
image_size = (256, 256)
load_size = (286, 286)

train_pipeline = [
    # Instances from COCO's panoptic PNGs; for instance-id PNGs use instance_format='ids'.
    dict(type='LoadSemanticSample', num_classes=num_classes, label_mapping={255: 182},
         instance_format='panoptic'),
    dict(type='Resize', keys='img', scale=load_size, keep_ratio=False,
         interpolation='bicubic'),
    dict(type='Resize', keys=['label', 'instance'], scale=load_size, keep_ratio=False,
         interpolation='nearest'),
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
        data_prefix=dict(img='train2017', label='stuffthingmaps/train2017',
                         instance='panoptic_train2017'),
        img_suffix='.jpg',
        pipeline=train_pipeline))

# 100 epochs of 118,287 images at batch 32; decay over the last 50.
max_iters = 369700
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The same schedule for each optimizer (mmengine builds a list for every one).
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
