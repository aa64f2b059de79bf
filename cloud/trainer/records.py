"""Image records from a folder's paths or a Vertex AI import file (model/data/records.ts, vertex.ts).

A record is `(uri, label, split)`: a path relative to the dataset root or a gs:// URI, a class
name or None, and one of train / validation / test / unassigned. Lines and files that cannot be
used become problems `(source, reason)`, reported by name and never fatal.
"""

import json
import re

# What JavaScript's String.prototype.trim removes (Python's strip() keeps a byte-order mark).
JS_WHITESPACE = " \t\n\r\v\f\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")

SPLIT_DIRS = {
    "seg_train": "train",
    "train": "train",
    "training": "train",
    "seg_test": "test",
    "test": "test",
    "seg_pred": "unassigned",
    "pred": "unassigned",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
}
# Split folders that hold unlabelled images directly (`seg_pred/seg_pred/*.jpg`).
UNLABELLED_DIRS = {"seg_pred", "pred"}
ML_USE_KEY = "aiplatform.googleapis.com/ml_use"


def is_image_path(path):
    return path.lower().endswith(IMAGE_EXTENSIONS)


def records_from_paths(paths):
    """The Intel layout: `<class>/<file>`, `<split>/<class>/<file>`, `seg_train/seg_train/<class>/<file>`."""
    records, problems = [], []
    for raw in paths:
        path = re.sub(r"^/+", "", re.sub(r"^\./+", "", raw.replace("\\", "/")))
        parts = [p for p in path.split("/") if p]
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if not is_image_path(path):
            problems.append((path, "not an image file (expected .jpg, .jpeg, .png, .webp, .gif or .bmp)"))
            continue
        dirs = [d.lower() for d in parts[:-1]]
        split = next((SPLIT_DIRS[d] for d in dirs if d in SPLIT_DIRS), "unassigned")
        parent = parts[-2] if len(parts) >= 2 else None
        label = None if parent is None or parent.lower() in SPLIT_DIRS else parent
        if label is None and parent is not None and parent.lower() not in UNLABELLED_DIRS and parent.lower() not in SPLIT_DIRS:
            problems.append((path, "cannot tell the class from the folder"))
            continue
        records.append((path, label, split))
    return records, problems


def _js_sort_key(s):
    # JavaScript's default sort compares UTF-16 code units.
    return s.encode("utf-16-be")


def classes_of(records):
    """Class names in index order: sorted as SceneLab sorts them (`[...].sort()`)."""
    return sorted({r[1] for r in records if r[1] is not None}, key=_js_sort_key)


def _ml_use(value):
    v = (value or "").strip(JS_WHITESPACE).lower()
    return {"": "unassigned", "training": "train", "train": "train", "validation": "validation", "test": "test"}.get(v)


def parse_csv_line(line):
    """RFC 4180 fields of one line: quotes, doubled quotes, commas inside quotes."""
    out, field, quoted, i = [], "", False, 0
    while i < len(line):
        c = line[i]
        if quoted:
            if c == '"' and line[i + 1 : i + 2] == '"':
                field += '"'
                i += 1
            elif c == '"':
                quoted = False
            else:
                field += c
        elif c == '"':
            quoted = True
        elif c == ",":
            out.append(field)
            field = ""
        else:
            field += c
        i += 1
    out.append(field)
    return [f.strip(JS_WHITESPACE) for f in out]


def _lines(text):
    return re.split(r"\r?\n", text)


def parse_vertex_csv(text, source="import.csv"):
    """`[ml_use,]gs://bucket/path.jpg[,label]` per line; bad lines are problems with their number."""
    records, problems = [], []
    for i, line in enumerate(_lines(text)):
        if line.strip(JS_WHITESPACE) == "":
            continue
        where = "%s:%d" % (source, i + 1)
        f = parse_csv_line(line)
        split, rest = "unassigned", f
        if not f[0].startswith("gs://"):
            split, rest = _ml_use(f[0]), f[1:]
            if split is None:
                problems.append((where, 'unknown ml_use "%s" (expected training, validation or test)' % f[0]))
                continue
        uri = rest[0] if rest else None
        label = rest[1] if len(rest) > 1 else None
        if not uri or not uri.startswith("gs://") or len(uri) <= 5:
            problems.append((where, "expected a gs:// image URI"))
            continue
        if any(e != "" for e in rest[2:]):
            problems.append((where, "more than one label: only single-label classification is supported"))
            continue
        records.append((uri, label if label else None, split))
    return records, problems


def parse_vertex_jsonl(text, source="import.jsonl"):
    """`imageGcsUri`, `classificationAnnotation.displayName` and the ml_use resource label per line."""
    records, problems = [], []
    for i, line in enumerate(_lines(text)):
        if line.strip(JS_WHITESPACE) == "":
            continue
        where = "%s:%d" % (source, i + 1)
        try:
            o = json.loads(line)
        except ValueError:
            problems.append((where, "not valid JSON"))
            continue
        uri = o.get("imageGcsUri") if isinstance(o, dict) else None
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            problems.append((where, "missing imageGcsUri (a gs:// URI)"))
            continue
        many = o.get("classificationAnnotations")
        if isinstance(many, list) and len(many) > 1:
            problems.append((where, "more than one label: only single-label classification is supported"))
            continue
        one = o.get("classificationAnnotation")
        name = one.get("displayName") if isinstance(one, dict) else None
        if name is None and isinstance(many, list) and many and isinstance(many[0], dict):
            name = many[0].get("displayName")
        labels = o.get("dataItemResourceLabels")
        use = labels.get(ML_USE_KEY) if isinstance(labels, dict) else None
        split = _ml_use(use if isinstance(use, str) else None)
        if split is None:
            problems.append((where, 'unknown ml_use "%s" (expected training, validation or test)' % use))
            continue
        records.append((uri, name if isinstance(name, str) and name != "" else None, split))
    return records, problems


def parse_vertex_import_file(name, text):
    """Picks the parser by file name (`.jsonl`/`.json` or `.csv`)."""
    if re.search(r"\.jsonl?$", name, re.IGNORECASE):
        return parse_vertex_jsonl(text, name)
    return parse_vertex_csv(text, name)
