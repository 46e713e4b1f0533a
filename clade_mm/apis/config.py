"""A config file plus ``--cfg-options`` overrides, as every OpenMMLab tool takes them."""
import argparse
from typing import Optional

from mmengine.config import Config, DictAction


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """Add OpenMMLab's ``--cfg-options KEY=VALUE ...`` to a tool's arguments."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config entries, e.g. test_dataloader.dataset.data_root=data/coco '
        'model.perceptual_loss=None (lists: key="[a,b]")')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config at ``path`` with ``cfg_options`` merged in."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg
