"""Write the embedded synthetic scenes: ``python tools/make_synthetic_dataset.py [ROOT]``.

Writes ``ROOT/{train,val}/{images,labels,instances}/NNNNN.png``. A file there that an earlier
run of this tool did not write is never replaced: the run stops before writing, naming it.
"""
import argparse
import os.path as osp
import sys

from clade_mm.apis.config import int_at_least, positive_int
from clade_mm.apis.output_folder import OutputFolder, OutputFolderError
from clade_mm.datasets import SYNTHETIC_CLASSES, write_synthetic_dataset
from clade_mm.datasets.synthetic import synthetic_file_names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?', default='data/synthetic')
    parser.add_argument('--num-train', type=positive_int, default=400)
    parser.add_argument('--num-val', type=int_at_least(0), default=40)
    parser.add_argument('--size', type=int_at_least(8), default=64,
                        help='side of the square scenes, in pixels (>= 8)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    folders = {}
    try:
        for sub, names in synthetic_file_names(args.num_train, args.num_val).items():
            folders[sub] = OutputFolder(osp.join(args.root, sub), 'make-synthetic-dataset')
            folders[sub].prepare(names, inputs=[])
    except OutputFolderError as err:
        sys.exit(f'error: {err}')

    def write(path, data):
        folder, name = osp.split(path)
        folders[osp.relpath(folder, args.root)].write(name, data)

    counts = write_synthetic_dataset(args.root, args.num_train, args.num_val, args.size,
                                     args.seed, write)
    print(f'wrote {counts["train"]} training and {counts["val"]} validation scenes of '
          f'{args.size}x{args.size} ({len(SYNTHETIC_CLASSES)} classes: '
          f'{", ".join(SYNTHETIC_CLASSES)}) to {args.root}/')


if __name__ == '__main__':
    main()
