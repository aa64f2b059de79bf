"""The run's files, as SceneLab writes them (model/artifacts.ts exportModelFiles, node/model-store.ts):
`model.pth` (a torchvision state_dict), `labels.json`, `preprocessing.json`, `hyperparameters.json`,
`history.json` and, with a validation set, `metrics.json`.

A local folder is written atomically (a sibling temporary folder renamed into place), so an
interrupted run never leaves half a model. Cloud Storage seen through FUSE cannot rename a folder;
there each file is written in place, `model.pth` last, and the job's success says it is complete.
"""

import collections
import hashlib
import io
import os
import shutil

import torch

from .jsonfmt import dump_file_text


def state_dict_bytes(model):
    """The weights as `torch.save` writes a state_dict, on the CPU whatever device trained them."""
    sd = collections.OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items())
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


def run_files(model, classes, spec, hyperparameters, history, metrics):
    files = collections.OrderedDict()
    files["labels.json"] = dump_file_text(list(classes))
    files["preprocessing.json"] = dump_file_text(spec)
    files["hyperparameters.json"] = dump_file_text(hyperparameters)
    files["history.json"] = dump_file_text(history)
    if metrics is not None:
        files["metrics.json"] = dump_file_text(metrics)
    files["model.pth"] = state_dict_bytes(model)
    return files


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_run(out, files, on_fuse):
    if on_fuse:
        os.makedirs(out, exist_ok=True)
        for name, data in files.items():
            _write(os.path.join(out, name), data)
        return
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = "%s.tmp-%d" % (out.rstrip("/"), os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name, data in files.items():
        _write(os.path.join(tmp, name), data)
    if os.path.isdir(out) and not os.path.islink(out):
        shutil.rmtree(out)
    elif os.path.lexists(out):
        os.remove(out)
    os.rename(tmp, out)


def state_checksum(model):
    """sha256 over every tensor of the state_dict (names, dtypes, shapes, bytes): equal on every
    process of a data-parallel run."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        t = v.detach().cpu().contiguous()
        h.update(("%s %s %s\n" % (k, t.dtype, tuple(t.shape))).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()
