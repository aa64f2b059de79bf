"""`--data` as SceneLab reads it (node/data.ts, cli/commands/train.ts): a folder in the Intel layout
or a Vertex AI import file, the classes, the training pool and the data's own validation split,
and the images decoded as SceneLab decodes them (EXIF orientation applied, alpha dropped).

`python -m trainer.data DATA [GS_ROOT]` prints the records, problems and classes as JSON, for a
test to hold against SceneLab's own reader.
"""

import errno
import json
import os
import re
import sys

import torch
from PIL import Image, ImageOps

from .errors import InputError
from .preprocessing import preprocess
from .records import classes_of, parse_vertex_import_file, records_from_paths
from .walk import walk_files

# Images larger than this are refused before decoding (a 150x150 scene is 22,500 pixels).
MAX_INPUT_PIXELS = 50_000_000


class ImageDecodeError(Exception):
    """A file that is not a readable image: skipped and reported by name, never fatal."""

    def __init__(self, name, reason):
        super().__init__("%s: %s" % (name, reason))
        self.name = name
        self.reason = reason


class LocalDataset:
    """Records `(uri, label, split)`, the problems met reading them, and where each URI lives."""

    def __init__(self, root, records, problems, gs_root=None):
        self.root = root
        self.records = records
        self.problems = problems
        self._gs_root = gs_root

    def resolve(self, uri):
        if self._gs_root is None:
            return os.path.join(self.root, uri)
        m = re.fullmatch(r"gs://([^/]+)/(.+)", uri, re.DOTALL)
        if not m:
            return os.path.abspath(os.path.join(self._gs_root, uri))
        base = os.path.abspath(self._gs_root)
        path = os.path.abspath(os.path.join(base, m.group(1), m.group(2)))
        if not path.startswith(base + os.sep):
            raise ImageDecodeError(uri, "URI points outside the bucket folder")
        return path


def read_local_dataset(data, gs_root):
    """A folder (links followed) or an import file whose gs://bucket/object is read at gs_root/bucket/object."""
    if not os.path.exists(data):
        raise InputError("--data %s: no such file or folder" % data)
    if os.path.isdir(data):
        files, link_problems = walk_files(data)
        records, problems = records_from_paths(files)
        return LocalDataset(data, records, link_problems + problems)
    if not re.search(r"\.(csv|jsonl?)$", data, re.IGNORECASE):
        raise InputError("--data %s: expected a folder or a Vertex AI import file (.csv or .jsonl)" % data)
    try:
        with open(data, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise InputError("--data %s: cannot read (%s)" % (data, e.strerror))
    records, problems = parse_vertex_import_file(os.path.basename(data), text)
    return LocalDataset(gs_root, records, problems, gs_root)


def training_pools(ds):
    """(classes, pool, validation): labelled train/unassigned records, and the data's own validation
    records, each as `(uri, class index)` in record order."""
    usable = [r for r in ds.records if r[1] is not None and r[2] in ("train", "unassigned", "validation")]
    classes = classes_of(usable)
    index = {c: i for i, c in enumerate(classes)}
    pool = [(uri, index[label]) for uri, label, split in usable if split != "validation"]
    validation = [(uri, index[label]) for uri, label, split in usable if split == "validation"]
    return classes, pool, validation


def decode_image(path, name=None):
    """RGB pixels uint8 [H, W, 3] of a JPEG/PNG/WebP/GIF/BMP file, upright per its EXIF orientation."""
    name = name or path
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            w, h = img.size
            if w * h > MAX_INPUT_PIXELS:
                raise ImageDecodeError(name, "image is larger than %g megapixels" % (MAX_INPUT_PIXELS / 1e6))
            img.load()
            img = ImageOps.exif_transpose(img).convert("RGB")
    except ImageDecodeError:
        raise
    except FileNotFoundError:
        raise ImageDecodeError(name, "no such file")
    except IsADirectoryError:
        raise ImageDecodeError(name, "is a directory")
    except Image.DecompressionBombError:
        raise ImageDecodeError(name, "image is larger than %g megapixels" % (MAX_INPUT_PIXELS / 1e6))
    except Image.UnidentifiedImageError:
        raise ImageDecodeError(name, "not a supported image (JPEG, PNG, WebP, GIF or BMP)")
    except PermissionError as e:
        raise ImageDecodeError(name, "cannot read (%s)" % errno.errorcode.get(e.errno, "error"))
    except Exception as e:  # a truncated or corrupt file: whatever the decoder raised, it is this image's fault
        raise ImageDecodeError(name, "cannot decode image (%s)" % str(e).split("\n")[0])
    buf = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return buf.view(img.size[1], img.size[0], 3)


class ImageDataset(torch.utils.data.Dataset):
    """Labelled images `(uri, label)` of a dataset, preprocessed by a spec; item i is
    `(i, tensor or None, reason or None)` so a bad file is reported, not raised, in a worker."""

    def __init__(self, ds, items, spec):
        self.ds = ds
        self.items = items
        self.spec = spec

    def __len__(self):
        return len(self.items)

    def name(self, i):
        return self.items[i][0]

    def label(self, i):
        return self.items[i][1]

    def __getitem__(self, i):
        uri = self.items[i][0]
        try:
            return i, preprocess(decode_image(self.ds.resolve(uri), uri), self.spec), None
        except ImageDecodeError as e:
            return i, None, e.reason


def collate(items):
    """Keeps the decodable images of a batch, and the indices and reasons of the others."""
    kept = [(i, x) for i, x, _ in items if x is not None]
    failed = [(i, reason) for i, x, reason in items if x is None]
    x = torch.stack([x for _, x in kept]) if kept else None
    return [i for i, _ in kept], x, failed


def main(argv):
    ds = read_local_dataset(argv[0], argv[1] if len(argv) > 1 else "/gcs")
    classes, pool, validation = training_pools(ds)
    print(json.dumps({
        "records": [{"uri": u, "label": l, "split": s} for u, l, s in ds.records],
        "problems": [{"source": s, "reason": r} for s, r in ds.problems],
        "classes": classes,
        "pool": len(pool),
        "validation": len(validation),
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
