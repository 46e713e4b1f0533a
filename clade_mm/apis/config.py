"""A config file plus ``--cfg-options`` overrides, as every OpenMMLab tool takes them, and the
argument types the tools share (refused by the parser, with the option's name)."""
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



def int_at_least(low: int):
    """An argument type: an integer >= ``low``, else the parser's error with the value."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
        if value < low:
            raise argparse.ArgumentTypeError(f'{value} is less than {low}')
        return value
    parse.__name__ = f'integer >= {low}'  # argparse names the type in its messages
    return parse


positive_int = int_at_least(1)
DYNAMIC = 'dynamic'


def batch_size(text: str):
    """An argument type: a batch size >= 1, or ``'dynamic'`` (a batch axis of any size)."""
    return DYNAMIC if text == DYNAMIC else positive_int(text)
