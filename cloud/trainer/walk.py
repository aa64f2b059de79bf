"""Every file under a folder in the order SceneLab lists it (node/walk.ts): links followed, loops not.

SceneLab sorts each folder's entries with JavaScript's `localeCompare` (ICU's root collation),
not by code point: `a_b` before `a1`, `apple` before `Banana`, `b` before `B`. The record order
decides which images the seeded split holds out, so the order is reproduced here: ASCII exactly
as ICU orders it, accents after their base letter, other scripts after Latin.
"""

import errno
import os
import unicodedata

# ICU root collation's primary order of printable ASCII (letters folded: a = A at this level).
_ASCII_PRIMARY = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {c: i + 1 for i, c in enumerate(_ASCII_PRIMARY)}
for _c in "\t\n\v\f\r":
    _PRIMARY[_c] = 0.5  # whitespace sorts before space's neighbours


def collation_key(name):
    """A sort key that orders names as `a.localeCompare(b)` does for file names."""
    primary, secondary, tertiary = [], [], []
    for ch in unicodedata.normalize("NFD", name):
        if unicodedata.combining(ch):
            if secondary:
                secondary[-1] = secondary[-1] + (ord(ch),)
            continue
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n\v\f\r":
            continue  # control characters are ignorable in ICU
        low = ch.lower() if len(ch.lower()) == 1 else ch
        weight = _PRIMARY.get(low)
        primary.append(weight if weight is not None else 1000 + ord(low))
        secondary.append(())
        tertiary.append(0 if ch == low else 1)  # lower case first, as ICU's default
    return (primary, secondary, tertiary)


def walk_files(root):
    """(files, problems): paths relative to `root` with `/` separators, and the links not followed.

    A link to a folder the walk is already inside would never end; it and broken links are
    reported as `(path, reason)` instead. An unreadable root raises OSError.
    """
    files, problems = [], []

    def visit(rel, ancestors):
        folder = os.path.join(root, *[p for p in rel.split("/") if p])
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            if rel == "":
                raise
            problems.append((rel, "cannot read folder (%s)" % _errno_name(e)))
            return
        entries.sort(key=lambda e: collation_key(e.name))
        for e in entries:
            r = rel + "/" + e.name if rel else e.name
            try:
                is_dir = e.is_dir(follow_symlinks=True)
                is_file = e.is_file(follow_symlinks=True)
            except OSError:
                is_dir = is_file = False
            if e.is_symlink() and not os.path.exists(e.path):
                problems.append((r, "broken symbolic link"))
                continue
            if is_file:
                files.append(r)
            elif is_dir:
                real = os.path.realpath(e.path)
                if real in ancestors:
                    problems.append((r, "symbolic link loops back to a folder above it; not followed"))
                    continue
                visit(r, ancestors | {real})

    visit("", frozenset([os.path.realpath(root)]))
    return files, problems


def _errno_name(e):
    return errno.errorcode.get(e.errno, "error") if e.errno else "error"
