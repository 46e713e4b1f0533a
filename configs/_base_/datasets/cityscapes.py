# Cityscapes: 35 labelIds classes, instance edges from instanceIds, 512x256 images generated
# with num_upsampling_layers='more' (1024x512 needs 'most').
dataset_type = 'SemanticFolderDataset'
data_root = 'data/cityscapes'
num_classes = 35
image_size = (256, 512)

train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='Resize', keys='img', scale=(image_size[1], image_size[0]), keep_ratio=False,
         interpolation='bicubic'),
    dict(type='Resize', keys=['label', 'instance'], scale=(image_size[1], image_size[0]),
         keep_ratio=False, interpolation='nearest'),
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
        pipeline=train_pipeline))

# 200 epochs of 2,975 images at batch 16; decay over the last 100.
max_iters = 37200
train_cfg = dict(by_epoch=False, max_iters=max_iters)
param_scheduler = dict(
    generator=[dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
                    begin=max_iters // 2, end=max_iters)],
    discriminator=[dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
                        begin=max_iters // 2, end=max_iters)])
