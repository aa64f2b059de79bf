"""SceneLab's seeded generator (model/rng.ts, mulberry32), bit for bit.

The split, the epoch shuffles and the flip decisions draw from it, so a run here holds out the
same images and visits them in the same order as `scenelab train` with the same seed. JavaScript
does this arithmetic on 32-bit integers (`Math.imul`, `>>>`); every step here is taken modulo
2**32, which gives the same bits whatever the sign JavaScript gives them on the way.
"""

import math

_MASK = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & _MASK


def to_uint32(value):
    """JavaScript's `value >>> 0` for an integer or an integral float."""
    return int(math.trunc(value)) % 4294967296 if math.isfinite(value) else 0


def js_round(x):
    """JavaScript's `Math.round`: halves go up (Python's `round` goes to even)."""
    r = math.floor(x)
    return r + 1 if x - r >= 0.5 else r


class Rng:
    """mulberry32, as model/rng.ts; `state` is the one number a checkpoint keeps."""

    def __init__(self, seed):
        self.state = to_uint32(seed)

    def next(self):
        """Uniform in [0, 1)."""
        self.state = (self.state + 0x6D2B79F5) & _MASK
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & _MASK
        return ((t ^ (t >> 14)) & _MASK) / 4294967296

    def int(self, n):
        """Uniform integer in [0, n)."""
        return math.floor(self.next() * n)

    def permutation(self, n):
        """A fresh permutation of 0..n-1 (Fisher-Yates, drawing as rng.ts draws)."""
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.int(i + 1)
            p[i], p[j] = p[j], p[i]
        return p

    def seed(self):
        """A 31-bit seed, drawn where SceneLab draws one for a batch's dropout."""
        return self.int(0x7FFFFFFF)
