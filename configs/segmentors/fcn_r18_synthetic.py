# A small mmsegmentation FCN (ResNetV1c-18 at a quarter width) for the synthetic scenes: the
# segmentor that scores generated images in the demo. An mmseg config through and through:
# train it with `python tools/train.py configs/segmentors/fcn_r18_synthetic.py`.
default_scope = 'mmseg'
custom_imports = dict(imports=['clade_mm', 'mmseg.models', 'mmseg.datasets'],
                      allow_failed_imports=False)
data_root = 'data/synthetic'
classes = ('sky', 'grass', 'water', 'tree', 'rock', 'building')
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size_divisor=8),
    backbone=dict(
        type='ResNetV1c', depth=18, stem_channels=16, base_channels=16,
        dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm_cfg,
        contract_dilation=True),
    decode_head=dict(
        type='FCNHead', in_channels=128, in_index=3, channels=32, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=len(classes), norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='BaseSegDataset', data_root=data_root, metainfo=dict(classes=classes),
        data_prefix=dict(img_path='train/images', seg_map_path='train/labels'),
        img_suffix='.png', seg_map_suffix='.png', pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3, betas=(0.9, 0.999)))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=600)
val_cfg = None
test_cfg = None
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=600, save_last=True),
    keep_freed_memory=dict(type='KeepFreedMemoryHook'))  # clade_mm.engine.cpu_memory
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork'),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
log_level = 'INFO'
load_from = None
resume = False
