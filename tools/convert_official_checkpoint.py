"""Convert a generator of the published SPADE, CLADE, INADE, SEAN or OASIS code into a clade-mm
checkpoint.

    python tools/convert_official_checkpoint.py SRC DST --config CONFIG [--encoder SRC_E]
                                                [--discriminator SRC_D] [--ema SRC_EMA]
                                                [--allow-unused] [--cfg-options KEY=VALUE ...]

SRC is the generator the published code saved (``latest_net_G.pth``, ``{epoch}_net_G.pth``);
``--encoder`` its style encoder (``*_net_E.pth``) for a config with ``style_encoder``. Every
source key must land on a key of the config's generator with the same shape; otherwise nothing
is written and the message names the first mismatch and what to change in the config. DST is
an mmengine checkpoint for ``tools/test.py CONFIG DST``, ``tools/synthesize.py`` and
``load_from``. See ``clade_mm.converters`` (one module per published codebase) for the key mapping.

INADE: the pretrained ``best_net_G.pth`` with ``--encoder best_net_E.pth`` (the downloads'
``best_net_IE.pth`` is the same file under an older name) and a ``configs/inade/`` config, whose
instance encoder (``InstanceStyleEncoder``) takes the encoder. The published options must match
``model.generator``: ``ngf`` (``base_channels``, the encoder's too), ``z_dim`` (``z_channels``),
the crop (``out_size``), ``noise_nc`` (``norm_cfg.noise_channels`` and
``style_encoder.noise_channels``; 64, 8 for DeepFashion) and the class count; the message of a
mismatch names the key to set.

OASIS: ``checkpoints/<name>/models/<iter>_G.pth`` with ``--ema <iter>_EMA.pth`` (the moving
average the published test script generates with; it goes to the config's EMA generator, which
synthesis uses) and ``--discriminator <iter>_D.pth``, and a ``configs/oasis/oasis_*.py``
config: the checkpoint then loads strictly into its ``OASISGAN``. Without ``--ema`` the EMA
generator gets the generator's weights; without ``--discriminator`` the discriminator is left
out. The published OASIS has its don't-care class first; the converter moves the class
channels to the config's don't-care class (``model.adversarial_loss.dont_care_class``: 182 in
the zoo's COCO-Stuff order) and says so.
"""
import argparse
import sys

from clade_mm.apis.config import add_cfg_options
from clade_mm.converters import OfficialCheckpointError, convert_official_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the published generator, *_net_G.pth (OASIS: *_G.pth)')
    parser.add_argument('dst', help='the clade-mm checkpoint to write')
    parser.add_argument('--config', required=True, help='the clade-mm config of the model')
    parser.add_argument('--encoder', help='the published style encoder, *_net_E.pth')
    parser.add_argument('--discriminator',
                        help='the published discriminator (OASIS: *_D.pth), for the config\'s '
                             'model.discriminator')
    parser.add_argument('--ema', help='the published moving-average generator (OASIS: '
                                      '*_EMA.pth), for the config\'s EMA generator')
    parser.add_argument('--allow-unused', action='store_true',
                        help='leave out source keys without a counterpart in the config '
                             '(listed as a warning) instead of stopping')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    try:
        meta = convert_official_checkpoint(args.src, args.dst, args.config, args.encoder,
                                           args.allow_unused, args.cfg_options,
                                           discriminator=args.discriminator, ema=args.ema)
    except (OfficialCheckpointError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    source = meta['source_architecture']
    print(f"{args.src}: {source['norm']} generator, ngf {source['base_channels']}, "
          f"{source['label_channels']} label channels"
          + (f", style code {source['z_channels']}" if source['z_channels'] else ''))
    for note in meta['adapted']:
        print(note)
    if meta['ema_from'] == 'ema':
        ema = f" (and the EMA generator's from {args.ema})"
    else:
        ema = ' (and the same as the EMA generator)' if meta['with_ema'] else ''
    print(f"wrote {args.dst}: {meta['num_generator_keys']} generator keys{ema}"
          + (f"; {len(meta['zero_filled'])} zero-filled (absent from the published files)"
             if meta['zero_filled'] else '')
          + (f"; {len(meta['unused_source_keys'])} source keys left out"
             if meta['unused_source_keys'] else '')
          + (f"; {meta['num_discriminator_keys']} discriminator keys"
             if meta['num_discriminator_keys'] else '; the discriminator is not converted'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
