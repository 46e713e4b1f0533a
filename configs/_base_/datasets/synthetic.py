# The embedded synthetic scenes (tools/make_synthetic_dataset.py writes them): 6 classes,
# 64x64, no download. Small enough to train on a CPU in minutes.
dataset_type = 'SemanticFolderDataset'
data_root = 'data/synthetic'
num_classes = 6
# The classes of clade_mm/datasets/synthetic.py, coloured with the mean colour of each in the
# photos (what the painter shows; tests check both against the package).
class_names = ('sky', 'grass', 'water', 'tree', 'rock', 'building')
palette = [[120, 170, 235], [70, 160, 60], [40, 80, 160], [20, 90, 35], [130, 125, 120],
           [170, 80, 60]]
metainfo = dict(classes=class_names, palette=palette)

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
        metainfo=metainfo,
        pipeline=train_pipeline))

# 'position' is packed only where LoadSemanticSample computes it (position_map='published').
test_pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='PackInputs', keys=['img', 'label', 'position'])
]
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        num_classes=num_classes,
        data_root=data_root,
        data_prefix=dict(img='val/images', label='val/labels'),
        metainfo=metainfo,
        pipeline=test_pipeline))
# tools/test.py scores generated and real validation images with the FCN that tools/demo.py
# trains on the real photos (any mmseg segmentor works: set its config and checkpoint).
segmentor = dict(config='configs/segmentors/fcn_r18_synthetic.py',
                 checkpoint='work_dirs/demo/segmentor/iter_600.pth')
test_evaluator = [
    dict(type='SegmentationScore', segmentor_config=segmentor['config'],
         segmentor_checkpoint=segmentor['checkpoint'], num_generator_classes=num_classes),
]

max_iters = 600
train_cfg = dict(by_epoch=False, max_iters=max_iters)
# The same schedule for each optimizer (mmengine builds a list for every one).
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.1, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
image_size = (64, 64)
