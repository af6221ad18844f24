"""Rename the PixelRNN LSTM layers' groups in Keras weight files written before the layer classes
were renamed RowLSTMLayer / DiagonalBiLSTMLayer (Keras names a listed layer's group after its class).

    python runs/zoo/rename_lstm_groups.py FILE.weights.h5 ...
"""

import re
import sys

import h5py

OLD = re.compile(r"^(row_lstm|diagonal_bi_lstm)(_\d+)?$")


def rename(path):
    with h5py.File(path, "r+") as f:
        group = f.get("layers")
        if group is None:
            return 0
        names = [n for n in group if OLD.match(n)]
        for name in names:
            base, suffix = OLD.match(name).groups()
            group.move(name, f"{base}_layer{suffix or ''}")
        return len(names)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(path, rename(path), "groups renamed")
