# mmagic's Pix2Pix (U-Net generator with batch norm, PatchGAN) on the embedded synthetic scenes,
# 64x64, translating a constant grey image into the photo: the label map reaches the generator
# only through its conditional norms, which SemanticLayoutHook conditions on each batch's map.
# The method configs beside this file swap the generator's norm_cfg and nothing else.
_base_ = 'mmagic::pix2pix/pix2pix_vanilla-unet-bn_1xb1-80kiters_facades.py'
custom_imports = dict(
    imports=['clade_mm', 'clade_mm.datasets', 'clade_mm.engine', 'clade_mm.evaluation'],
    allow_failed_imports=False)
num_classes = 6
data_root = 'data/synthetic'

model = dict(
    generator=dict(num_down=6),  # 64 = 2 ** 6
    data_preprocessor=dict(non_image_keys=['label']))

pipeline = [
    dict(type='LoadSemanticSample', num_classes=num_classes),
    dict(type='CopyValues', src_keys=['img', 'img_channel_order', 'img_color_type'],
         dst_keys=['img_photo', 'img_photo_channel_order', 'img_photo_color_type']),
    dict(type='ConstantImage', key='img_mask', like='img', value=128),
    dict(type='PackInputs', keys=['img_photo', 'img_mask', 'label'],
         data_keys=['img_photo', 'img_mask'])
]
train_pipeline = pipeline[:-1] + [
    dict(type='Flip', keys=['img_photo', 'label'], flip_ratio=0.5, direction='horizontal'),
    pipeline[-1]
]
dataset = dict(type='SemanticFolderDataset', num_classes=num_classes, data_root=data_root)
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    dataset=dict(_delete_=True, data_prefix=dict(img='train/images', label='train/labels'),
                 pipeline=train_pipeline, **dataset))
val_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=False,
    dataset=dict(_delete_=True, data_prefix=dict(img='val/images', label='val/labels'),
                 pipeline=pipeline, **dataset))
test_dataloader = val_dataloader

# Mean absolute error of the generated photos in grey levels, in place of the IS/FID of the
# original config, whose Inception weights would be downloaded.
metrics = [dict(type='ImageL1', fake_key='fake_photo', real_key='img_photo')]
val_evaluator = dict(_delete_=True, type='Evaluator', metrics=metrics)
test_evaluator = val_evaluator
train_cfg = dict(max_iters=200, val_interval=200)

custom_hooks = [
    dict(type='SemanticLayoutHook', label_key='label'),
    dict(type='VisualizationHook', interval=100, fixed_input=True,
         vis_kwargs_list=[dict(type='Translation', name='trans'),
                          dict(type='TranslationVal', name='trans_val')]),
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=200, save_best=None, max_keep_ckpts=2, save_last=True),
    keep_freed_memory=dict(type='KeepFreedMemoryHook'))  # clade_mm.engine.cpu_memory
