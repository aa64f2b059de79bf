"""The seeded train/validation split of model/data/split.ts (`randomSplit`).

`python -m trainer.split '[[n, fraction, seed], ...]'` prints each case's split as JSON, so a
test can hold it against SceneLab's own function.
"""

import json
import sys

from .rng import Rng, js_round


def random_split(n, val_fraction, seed):
    """One permutation of 0..n-1 cut into train and validation parts, each sorted ascending."""
    if not (0 <= val_fraction < 1):
        raise ValueError("validation fraction must be in [0, 1), got %r" % val_fraction)
    perm = Rng(seed).permutation(n)
    n_val = js_round(n * val_fraction)
    n_train = n - n_val
    return sorted(perm[:n_train]), sorted(perm[n_train:])


def main(argv):
    cases = json.loads(argv[0])
    out = []
    for n, fraction, seed in cases:
        train, val = random_split(n, fraction, seed)
        out.append({"train": train, "val": val})
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
