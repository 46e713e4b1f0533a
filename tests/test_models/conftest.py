import pytest
import torch
from mmengine.registry import init_default_scope

import clade_mm.datasets  # noqa: F401  (registers the dataset and transforms)
import clade_mm.engine  # noqa: F401
import clade_mm.models  # noqa: F401


@pytest.fixture(autouse=True)
def mmagic_scope():
    init_default_scope('mmagic')
    yield


def tiny_gan_cfg(norm='CLADE', num_classes=6, base=8, with_instance_edge=False, **kwargs):
    """A SemanticGAN small enough to train on a CPU in seconds."""
    cfg = dict(
        type='SemanticGAN',
        data_preprocessor=dict(type='DataPreprocessor', mean=127.5, std=127.5,
                               output_channel_order='RGB', non_image_keys=['label', 'instance'],
                               data_keys=None),
        generator=dict(type='SemanticGenerator', num_classes=num_classes,
                       norm_cfg=dict(type=norm), base_channels=base,
                       with_instance_edge=with_instance_edge),
        discriminator=dict(type='MultiScaleDiscriminator', num_classes=num_classes,
                           base_channels=base, num_layers=3,
                           with_instance_edge=with_instance_edge),
        perceptual_loss=None)
    cfg.update(kwargs)
    return cfg


def optim_wrappers(model, lr_g=2e-4, lr_d=8e-4):
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    return OptimWrapperDict(
        generator=OptimWrapper(torch.optim.Adam(model.generator.parameters(), lr=lr_g,
                                                betas=(0.0, 0.9))),
        discriminator=OptimWrapper(torch.optim.Adam(model.discriminator.parameters(), lr=lr_d,
                                                    betas=(0.0, 0.9))))


def synthetic_runner(root, model: dict, max_iters: int, **kwargs):
    """A Runner training ``model`` on the synthetic scenes under ``root/data`` (8 of them,
    written on first use), checkpointing every 3 iterations into ``root/work``."""
    import os.path as osp

    from mmengine.runner import Runner

    from clade_mm.datasets import write_synthetic_dataset
    data = osp.join(str(root), 'data')
    if not osp.isdir(data):
        write_synthetic_dataset(data, num_train=8, num_val=0, size=64)
    pipeline = [dict(type='LoadSemanticSample', num_classes=6),
                dict(type='PackInputs', keys=['img', 'label'])]
    return Runner(
        model=model, work_dir=osp.join(str(root), 'work'),
        train_dataloader=dict(
            batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dict(type='SemanticFolderDataset', num_classes=6, data_root=data,
                         data_prefix=dict(img='train/images', label='train/labels'),
                         pipeline=pipeline)),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.9))),
            discriminator=dict(optimizer=dict(type='Adam', lr=4e-4, betas=(0.0, 0.9)))),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False)),
        default_scope='mmagic', **kwargs)
