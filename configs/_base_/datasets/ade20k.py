# ADE20k (ADEChallengeData2016): 150 classes plus raw id 0 as the don't-care class = 151.
# Training: resize to 286x286, random 256x256 crop, horizontal flip (as SPADE).
dataset_type = 'SemanticFolderDataset'
data_root = 'data/ADEChallengeData2016'
num_classes = 151
image_size = (256, 256)
load_size = (286, 286)

train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='Resize', keys='img', scale=load_size, keep_ratio=False,
         interpolation='bicubic'),
    dict(type='Resize', keys='label', scale=load_size, keep_ratio=False,
         interpolation='nearest'),
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
        pipeline=train_pipeline))

# 200 epochs of 20,210 images at batch 32; the learning rate decays over the last 100.
max_iters = 126300
train_cfg = dict(by_epoch=False, max_iters=max_iters)
param_scheduler = dict(
    generator=[dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
                    begin=max_iters // 2, end=max_iters)],
    discriminator=[dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
                        begin=max_iters // 2, end=max_iters)])
