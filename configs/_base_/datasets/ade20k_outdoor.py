# ADE20k-outdoor: the ADE20k scenes whose label maps show outdoor content (the rule and its
# class ids live in ADE20kOutdoorDataset); same encoding and training size as ADE20k.
_base_ = './ade20k.py'
data_root = 'data/ADEChallengeData2016'
train_dataloader = dict(dataset=dict(type='ADE20kOutdoorDataset'))
# About 5,000 images: 200 epochs at batch 32.
max_iters = 31300
train_cfg = dict(by_epoch=False, max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=False,
         begin=max_iters // 2, end=max_iters)]
