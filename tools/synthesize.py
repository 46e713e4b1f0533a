"""Synthesise images from label maps.

    python tools/synthesize.py CONFIG CHECKPOINT INPUT OUTPUT [--seed N] [--num-samples K]
                               [--instances DIR] [--reference PHOTO [--reference-labels MAP
                               [--reference-instances MAP]]] [--resample ID [ID ...]]
                               [--resample-classes CLASS [CLASS ...]]
                               [--style-for CLASS=PHOTO:MAP ...]
                               [--aspect refuse|crop|stretch] [--precision auto|float32|bfloat16]
                               [--max-pixels N] [--cfg-options KEY=VALUE ...]

INPUT is a label map or a folder of them; OUTPUT a folder that receives one image per label map
with the same name (``name_k.png`` for several samples; ``name_tif.png`` and ``name_png.png``
when two maps differ only in their suffix). OUTPUT must not be INPUT's folder, and files in it
that an earlier run of this tool did not write are never overwritten: see
clade_mm/apis/output_folder.py. Bad label maps are reported by name and skipped; the exit status
is 1 if any was. Wrong arguments (a reference photo without the label map its model's encoder
needs, a missing reference file, --resample without instance maps, --resample-classes of a class
the model does not have...) stop the run before the model loads, in one line naming the argument,
and nothing is written; so does an option the loaded model cannot honour (--resample-classes for
a model without a noise map).
"""
import argparse
import io
import os.path as osp
import sys

from PIL import Image

from clade_mm.apis import SemanticSynthesizer, add_cfg_options, load_config, positive_int
from clade_mm.apis.inferencer import ASPECT_MODES, _loader_config
from clade_mm.apis.output_folder import OutputFolder, OutputFolderError, output_names
from clade_mm.apis.precision import PRECISIONS
from clade_mm.datasets import DatasetError
from clade_mm.datasets.metainfo import class_metainfo
from clade_mm.datasets.validation import check_same_size
from clade_mm.datasets.image_files import read_image


def style_for(text: str) -> tuple:
    """``CLASS=PHOTO:MAP`` -> ``(class, photo, map)``; the class stays text (an id or a name,
    resolved against the model's classes)."""
    klass, _, files = text.partition('=')
    photo, _, label_map = files.rpartition(':')
    if not klass or not photo or not label_map:
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected CLASS=PHOTO:MAP, e.g. hair=other.jpg:other.png')
    return klass.strip(), photo, label_map


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='a label map or a folder of label maps')
    parser.add_argument('output', help='folder for the images (not the folder of the inputs)')
    parser.add_argument('--reference', '--style', dest='reference', metavar='PHOTO',
                        help='a reference photo whose look the style encoder copies '
                        '(--style is its older name). An encoder that copies per instance '
                        "(INADE's) also needs --reference-labels")
    parser.add_argument('--reference-labels', '--style-labels', dest='reference_labels',
                        metavar='MAP',
                        help="the reference photo's label map (pixel-aligned with it): an "
                        'instance of the input takes the look of the largest reference '
                        'instance of its class')
    parser.add_argument('--reference-instances', metavar='MAP',
                        help="the reference photo's instance map (default: one instance per "
                        'class of --reference-labels)')
    parser.add_argument('--style-for', metavar='CLASS=PHOTO:MAP', action='append',
                        type=style_for, default=[],
                        help='(SEAN) take the style of one class (id or name) from another '
                        'photo and its label map; repeatable; the other classes keep the '
                        'style of --style')
    parser.add_argument('--resample', metavar='ID', type=int, nargs='+',
                        help='instance ids (as stored in the instance maps) whose per-instance '
                        'noise each further sample re-draws, the other instances keeping that '
                        'of the first sample: needs --instances (or a config that makes '
                        'instances from the labels) and --num-samples K >= 2')
    parser.add_argument('--resample-classes', metavar='CLASS', nargs='+',
                        help='classes (ids or names) whose pixels of the noise map (a 3D noise, '
                        "OASIS's) each further sample re-draws, the other pixels keeping that "
                        'of the first sample: needs --num-samples K >= 2')
    parser.add_argument('--seed', type=int, help='seed of every random draw (style code, '
                        'per-instance noise, noise map): the same seed gives the same images')
    parser.add_argument('--num-samples', type=positive_int, default=1,
                        help='images per label map (>= 1), each of a new random draw')
    parser.add_argument('--instances', help='folder of the instance maps, named as in the '
                        'dataset (the same names; Cityscapes: *_gtFine_instanceIds.png)')
    parser.add_argument('--aspect', default='refuse', choices=ASPECT_MODES,
                        help="a label map of another aspect ratio than the model's: 'refuse' "
                        "it, 'crop' its centred part of the model's ratio, or 'stretch' it")
    parser.add_argument('--max-pixels', type=positive_int,
                        help='refuse files with more pixels (default 8192 x 8192, or the '
                        "config's LoadSemanticSample max_pixels)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', default='auto', choices=PRECISIONS,
                        help="'auto': bfloat16 where this CPU computes it natively and the "
                        'images stay within 2 grey levels of float32, else float32; '
                        "'float32' forces the reference precision")
    add_cfg_options(parser)
    return parser.parse_args(argv)


def check_arguments(args: argparse.Namespace) -> None:
    """Argument combinations and reference files, before anything loads; raises ValueError
    naming the argument and the fix."""
    if args.reference is None:
        for given in ('reference_labels', 'reference_instances'):
            if getattr(args, given) is not None:
                option = '--' + given.replace('_', '-')
                raise ValueError(f'{option} describes a reference photo: give the photo with '
                                 '--reference PHOTO, or drop ' + option)
    if args.style_for and args.reference is None:
        raise ValueError('--style-for CLASS=PHOTO:MAP replaces the style of single classes: '
                         'give the style of the others with --style PHOTO --style-labels MAP')
    for _, photo, label_map in args.style_for:
        for path in (photo, label_map):
            if not osp.isfile(path):
                raise FileNotFoundError(f'--style-for: {path} is not a file')
    if args.reference_instances is not None and args.reference_labels is None:
        raise ValueError('--reference-instances needs --reference-labels MAP too (the '
                         "reference photo's label map: the instances' classes)")
    for option, path in (('--reference', args.reference),
                         ('--reference-labels', args.reference_labels),
                         ('--reference-instances', args.reference_instances)):
        if path is not None and not osp.isfile(path):
            raise FileNotFoundError(f'{option} {path}: no such file; give an existing '
                                    + ('photo' if option == '--reference' else 'map'))
    if args.resample is not None:
        if args.reference is not None:
            raise ValueError('--resample re-draws the random noise of instances, but with '
                             '--reference every instance takes its noise from the reference '
                             'photo: give one of them')
        if args.num_samples < 2:
            raise ValueError('--resample ID needs --num-samples K >= 2: the first image draws '
                             'every instance, each further one re-draws only the listed ones '
                             '(alone, --resample would change nothing)')
    if args.resample_classes is not None and args.num_samples < 2:
        raise ValueError('--resample-classes CLASS needs --num-samples K >= 2: the first image '
                         "draws the whole noise map, each further one re-draws only the listed "
                         "classes' pixels (alone, --resample-classes would change nothing)")


def check_model_arguments(args: argparse.Namespace, encoder_cls, reads_instances_from_labels:
                          bool, per_instance_noise=None, noise_map=None) -> None:
    """What depends on the model: its style encoder (class, or ``None``), whether its config
    makes instance maps from the label maps, and (once built) whether it reads per-instance
    noise and a noise map (``None``: not known yet)."""
    if args.reference is not None:
        if encoder_cls is None:
            raise ValueError('--reference PHOTO needs a generator with a style encoder '
                             '(generator.style_encoder in the config); this one has none')
        needs_labels = getattr(encoder_cls, 'needs_reference_labels', False)
        if needs_labels and args.reference_labels is None:
            raise ValueError(
                f"--reference/--style PHOTO needs --reference-labels/--style-labels MAP for "
                f"this model: its encoder ({encoder_cls.__name__}) copies each region's look "
                "from the reference by class, so give the photo's label map")
        if not needs_labels and args.reference_labels is not None:
            raise ValueError(f'this model\'s style encoder ({encoder_cls.__name__}) copies the '
                             'whole photo and reads no label map: drop --reference-labels '
                             'and --reference-instances')
    if args.style_for and encoder_cls is not None and \
            not getattr(encoder_cls, 'per_class_codes', False):
        raise ValueError(f'--style-for takes per-class style codes, which this model\'s '
                         f'encoder ({encoder_cls.__name__}) does not give (a SEAN model does)')
    if args.resample is not None:
        if args.instances is None and not reads_instances_from_labels:
            raise ValueError('--resample ID re-draws instances of the instance map: give the '
                             'instance maps with --instances DIR')
        if per_instance_noise is False:
            raise ValueError('--resample re-draws per-instance noise, which this model does not '
                             'read (an INADE model does): drop --resample')
    if args.resample_classes is not None and noise_map is False:
        raise ValueError("--resample-classes re-draws the noise map of chosen classes' pixels, "
                         'which this model does not read (an OASIS model does, '
                         'configs/oasis/): drop --resample-classes')


def check_reference_files(args: argparse.Namespace, synth: SemanticSynthesizer) -> None:
    """Reads the reference photo and maps once, as synthesis will: a bad file stops the run in
    one line instead of skipping every label map."""
    photo = read_image(args.reference, synth.loader.max_pixels)
    for option, path, read in (('--reference-labels', args.reference_labels, synth.read_labels),
                               ('--reference-instances', args.reference_instances,
                                synth.read_instances)):
        if path is None:
            continue
        # pixel-aligned, or the photo a whole multiple of its maps where the dataset allows
        check_same_size(photo, read(path), args.reference, f'{option} {path}', 'map',
                        synth.loader.map_scales)


def style_codes(args: argparse.Namespace, synth: SemanticSynthesizer):
    """For a model whose encoder gives per-class style codes (SEAN), the codes of --style,
    with the classes of --style-for taken from their own photos: encoded once, for every label
    map. ``None`` without --style or for another model (its encoder reads the reference per
    label map)."""
    encoder = getattr(synth.generator, 'style_encoder', None)
    if args.reference is None or not getattr(encoder, 'per_class_codes', False):
        return None
    classes = class_metainfo(synth.cfg, synth.generator.num_classes)
    codes = synth.encode_styles(args.reference, args.reference_labels)
    for klass, photo, label_map in args.style_for:
        class_id = class_id_of(klass, classes, f'--style-for {klass}=...')
        if class_id not in synth.read_labels(label_map):
            raise ValueError(f'--style-for {klass}={photo}:{label_map}: class {class_id} has no '
                             f'pixels in {label_map}, so that photo has no style for it')
        codes[class_id] = synth.encode_styles(photo, label_map)[class_id]
    return codes


def class_id_of(klass: str, classes: list, option: str) -> int:
    """The id of a class given by id or name (any case) on the command line; else a ValueError
    naming ``option`` and the model's classes."""
    by_name = {c['name'].lower(): c['id'] for c in classes}
    if klass.isdigit() and int(klass) < len(classes):
        return int(klass)
    if klass.lower() in by_name:
        return by_name[klass.lower()]
    raise ValueError(f'{option}: no class {klass!r} in this model (ids 0..{len(classes) - 1}; '
                     f'names: {", ".join(c["name"] for c in classes)})')


def encoder_class(cfg):
    """The class of the config's style encoder (``None`` without one), from the registry."""
    encoder = cfg.model.generator.get('style_encoder')
    if encoder is None:
        return None
    kind = encoder.get('type')
    if isinstance(kind, type):
        return kind
    import clade_mm.models  # noqa: F401  (registers the encoders)
    from mmagic.registry import MODELS
    found = MODELS.get(kind)
    if found is None:
        raise ValueError(f'the style encoder type {kind!r} of the config is not registered')
    return found


def main():
    args = parse_args()
    try:  # everything that can refuse the run, before the model loads
        check_arguments(args)
        inputs = SemanticSynthesizer.list_inputs(args.input)
        planned = output_names([name for name, _ in inputs], args.num_samples)
        output = OutputFolder(args.output, 'synthesize')
        output.prepare([n for names in planned.values() for n in names],
                       [source for _, source in inputs])
        cfg = load_config(args.config, args.cfg_options)
        from_labels = _loader_config(cfg).get('instances_from_labels', False)
        check_model_arguments(args, encoder_class(cfg), from_labels)
        resample_classes = None if args.resample_classes is None else [
            class_id_of(klass, class_metainfo(cfg, cfg.model.generator.num_classes),
                        '--resample-classes') for klass in args.resample_classes]
        synth = SemanticSynthesizer(cfg, args.checkpoint, device=args.device,
                                    precision=args.precision, aspect=args.aspect,
                                    max_pixels=args.max_pixels)
        encoder = getattr(synth.generator, 'style_encoder', None)
        specs = synth.generator.layout_inputs()
        check_model_arguments(args, None if encoder is None else type(encoder),
                              synth.loader.instances_from_labels,
                              any(spec.per_instance for spec in specs),
                              any(spec.spatial and spec.random for spec in specs))
        if args.reference is not None:  # read once: a bad file is one line, not one per map
            check_reference_files(args, synth)
        codes = style_codes(args, synth)
    except (DatasetError, FileNotFoundError, ValueError) as err:  # incl. checkpoints that do
        sys.exit(f'error: {err}')                                  # not fit
    failed = 0
    for index, (name, source) in enumerate(inputs, 1):
        try:
            labels = synth.read_labels(source, name)
            instances = None
            if args.instances:
                instances = synth.read_instances(synth.instance_path(args.instances, name))
            style = dict(style_codes=codes) if codes is not None else dict(
                reference=args.reference, reference_labels=args.reference_labels,
                reference_instances=args.reference_instances, resample=args.resample)
            images = synth.synthesize(labels, instances, seed=args.seed,
                                      num_samples=args.num_samples, name=name,
                                      resample_classes=resample_classes, **style)
        except (DatasetError, FileNotFoundError, ValueError) as err:
            failed += 1
            print(f'[{index}/{len(inputs)}] {name}: skipped: {err}', file=sys.stderr)
            continue
        for out, image in zip(planned[name], images):
            png = io.BytesIO()
            Image.fromarray(image).save(png, 'PNG')
            try:
                output.write(out, png.getvalue())
            except OSError as err:  # a full disk: stop, the written images stay whole
                sys.exit(f'error: cannot write {out} into {args.output} ({err.strerror}); '
                         f'{index - 1 - failed} label maps were done before it.')
        print(f'[{index}/{len(inputs)}] {name} -> {", ".join(planned[name])}')
    print(f'wrote {len(inputs) - failed} of {len(inputs)} to {args.output}'
          + (f'; {failed} skipped' if failed else ''))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
