# Runtime shared by every clade-mm config: mmagic's scope, clade-mm's modules, logging,
# checkpoints that carry the optimizer state (so `--resume` continues where a run stopped).
default_scope = 'mmagic'
custom_imports = dict(
    imports=['clade_mm', 'clade_mm.models', 'clade_mm.datasets', 'clade_mm.engine',
             'clade_mm.evaluation'],
    allow_failed_imports=False)

randomness = dict(seed=0)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))  # gloo on a machine without a GPU (clade_mm.engine.cpu_launch)
# tools/dist_train.sh: G and D in DDPs of their own; the conditional norms' batch norms become
# SyncBatchNorm (the global batch's statistics, as the reference trains). Ignored on one process.
model_wrapper_cfg = dict(
    type='SemanticGANDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False,
    sync_conditional_norms=True)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=5000, by_epoch=False, max_keep_ckpts=3,
                    save_optimizer=True, save_last=True),
    interrupted_writes=dict(type='InterruptedWriteCleanupHook'),
    # on the CPU: reuse freed memory instead of faulting it in again every iteration
    keep_freed_memory=dict(type='KeepFreedMemoryHook'))
custom_hooks = [dict(type='SampleGridHook', interval=5000, num_samples=8)]

log_processor = dict(type='LogProcessor', by_epoch=False, window_size=50)
log_level = 'INFO'
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
load_from = None
resume = False
