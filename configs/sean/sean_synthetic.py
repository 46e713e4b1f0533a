# SEAN on the embedded synthetic scenes: SPADE's small generator (ngf 16) with ACE norms and
# 64-channel style codes from a small region encoder (ngf 16), so that it trains on a CPU in
# the time the other families take; the last block without a style branch, as published.
_base_ = '../spade/spade_synthetic.py'
style_channels = 64
model = dict(
    generator=dict(
        norm_cfg=dict(_delete_=True, type='SEAN', hidden_channels=32,
                      style_channels=style_channels),
        block_norm_cfgs=dict(up_3=dict(with_style=False)),
        style_encoder=dict(type='RegionStyleEncoder', base_channels=16,
                           style_channels=style_channels)),
    kl_loss=None)
