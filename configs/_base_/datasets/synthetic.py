# The embedded synthetic scenes (tools/make_synthetic_dataset.py writes them): 6 classes,
# 64x64, no download. Small enough to train on a CPU in minutes.
dataset_type = 'SemanticFolderDataset'
data_root = 'data/synthetic'
num_classes = 6

train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='Flip', keys=['img', 'label'], flip_ratio=0.5, direction='horizontal'),
    dict(type='PackInputs', keys=['img', 'label'])
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        data_root=data_root,
        data_prefix=dict(img='train/images', label='train/labels'),
        pipeline=train_pipeline))

max_iters = 600
train_cfg = dict(by_epoch=False, max_iters=max_iters)
param_scheduler = dict(
    generator=[dict(type='LinearLR', start_factor=1.0, end_factor=0.1, by_epoch=False,
                    begin=max_iters // 2, end=max_iters)],
    discriminator=[dict(type='LinearLR', start_factor=1.0, end_factor=0.1, by_epoch=False,
                        begin=max_iters // 2, end=max_iters)])
image_size = (64, 64)
