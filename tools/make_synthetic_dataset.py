"""Write the embedded synthetic scenes: ``python tools/make_synthetic_dataset.py [ROOT]``."""
import argparse

from clade_mm.datasets import SYNTHETIC_CLASSES, write_synthetic_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('root', nargs='?', default='data/synthetic')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = write_synthetic_dataset(args.root, args.num_train, args.num_val, args.size,
                                     args.seed)
    print(f'wrote {counts["train"]} training and {counts["val"]} validation scenes of '
          f'{args.size}x{args.size} ({len(SYNTHETIC_CLASSES)} classes: '
          f'{", ".join(SYNTHETIC_CLASSES)}) to {args.root}/')


if __name__ == '__main__':
    main()
