"""Where the shipped configs are: ``configs/<method>/<name>.py``."""
import glob
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_path(name: str) -> str:
    """The config file ``name`` (``'clade_ade20k'``) in whichever method folder holds it."""
    found = glob.glob(osp.join(ROOT, 'configs', '*', f'{name}.py'))
    if len(found) != 1:
        raise FileNotFoundError(f'config {name}: found {found or "none"} under configs/*/')
    return found[0]


# The SPADE-family configs: every dataset for SPADE, CLADE and CLADE-ICPE.
SPADE_FAMILY_CONFIGS = sorted(glob.glob(osp.join('configs', 'clade', '*.py')) +
                              glob.glob(osp.join('configs', 'spade', '*.py')))

# The INADE configs: SPADE's generator with INADE norms, a z code and the instance encoder.
INADE_CONFIGS = sorted(glob.glob(osp.join('configs', 'inade', '*.py')))

# The SEAN configs: SPADE's generator with ACE norms (SEAN), the last block without a style
# branch, and the region style encoder.
SEAN_CONFIGS = sorted(glob.glob(osp.join('configs', 'sean', '*.py')))

# The OASIS configs: OASIS's generator (NoiseSPADE norms, or CLADE's for clade_oasis_*), its
# segmenting U-Net discriminator, the N+1 loss and LabelMix.
OASIS_CONFIGS = sorted(glob.glob(osp.join('configs', 'oasis', '*.py')))
