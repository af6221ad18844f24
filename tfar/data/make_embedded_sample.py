"""Write the Fashion-MNIST sample that ships inside tfar (``tfar/data/embedded/``).

The sample is the first 2,000 training and the first 500 test images of
Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747) with their
labels, kept in the original IDX format (gzip, fixed mtime so reruns are
byte-identical). Run it from a checkout::

    python -m tfar.data.make_embedded_sample [SOURCE_DIR]

SOURCE_DIR holds the four original ``*-ubyte.gz`` files (default: the Debian
``dataset-fashion-mnist`` location, /usr/share/datasets/fashion-mnist).
"""

import argparse
import os

from tfar.data.builders import IDX_FILES, read_idx, write_idx

DEFAULT_SOURCE = "/usr/share/datasets/fashion-mnist"
EMBEDDED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedded")
SAMPLE_SIZES = {"train": 2000, "test": 500}


def make_sample(source_dir=DEFAULT_SOURCE, output_dir=EMBEDDED_DIR, sizes=None):
    """Copy the first ``sizes[split]`` examples of each split; returns the written paths."""
    sizes = dict(SAMPLE_SIZES if sizes is None else sizes)
    os.makedirs(output_dir, exist_ok=True)
    written = []
    for split, (images_name, labels_name) in IDX_FILES.items():
        n = sizes[split]
        for name in (images_name, labels_name):
            array = read_idx(os.path.join(source_dir, name))
            if len(array) < n:
                raise ValueError(f"{name} in {source_dir} has {len(array)} examples, fewer than the {n} requested")
            path = os.path.join(output_dir, name)
            write_idx(path, array[:n])
            written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", nargs="?", default=DEFAULT_SOURCE)
    parser.add_argument("--output-dir", default=EMBEDDED_DIR)
    args = parser.parse_args(argv)
    for path in make_sample(args.source_dir, args.output_dir):
        print(f"{os.path.getsize(path):>9,d} bytes  {path}")


if __name__ == "__main__":
    main()
