# INADE on the embedded synthetic scenes: SPADE's small generator (ngf 16) with INADE norms,
# started from a z code (the published noise_ins), trained with the instance encoder ("prior
# noise remapping") as the published --use_vae; every tree and rock has its own noise.
_base_ = '../spade/spade_synthetic.py'
noise_channels = 16
model = dict(
    generator=dict(
        norm_cfg=dict(_delete_=True, type='INADE', noise_channels=noise_channels),
        z_channels=64, out_size=(64, 64),
        style_encoder=dict(type='InstanceStyleEncoder', base_channels=16,
                           noise_channels=noise_channels)),
    # The instance edges go to the discriminator only (INADE's norms read the instances).
    discriminator=dict(with_instance_edge=True),
    # As published for INADE: only the last intermediate feature is matched (num_layers=3
    # here: features 0..2), so that samples may differ from the photo in low-level detail.
    feature_matching_loss=dict(first_layer=2))

_data = dict(img='{}/images', label='{}/labels', instance='{}/instances')
train_pipeline = [
    dict(type='LoadSemanticSample', num_classes=6),
    dict(type='Flip', keys=['img', 'label', 'instance'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='PackInputs', keys=['img', 'label', 'instance'])
]
test_pipeline = [
    dict(type='LoadSemanticSample', num_classes=6),
    dict(type='PackInputs', keys=['img', 'label', 'instance'])
]
train_dataloader = dict(dataset=dict(
    data_prefix={k: v.format('train') for k, v in _data.items()}, pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(
    data_prefix={k: v.format('val') for k, v in _data.items()}, pipeline=test_pipeline))
