"""What a run tells whoever follows it: one JSON line per event on stdout (a job follower reading
the logs shows progress from them), human notes on stderr, and the tuning metric the way Vertex
AI's hyperparameter tuning service reads it. Only the chief (rank 0) speaks for the run.
"""

import collections
import json
import os
import sys
import time

from . import jsonfmt

# cloudml-hypertune's defaults and its cap on the entries it keeps in the file.
DEFAULT_METRIC_FILE = "/tmp/hypertune/output.metrics"
DEFAULT_METRIC_TAG = "training/hptuning/metric"
MAX_METRIC_ENTRIES = 100


class Reporter:
    def __init__(self, enabled=True, out=sys.stdout, err=sys.stderr, progress_path=None):
        self.enabled = enabled
        self.out = out
        self.err = err
        # The same lines kept in a file (rewritten whole: Cloud Storage FUSE cannot append), so
        # `scenelab cloud train` can show epochs while it follows the job without reading logs.
        self.progress_path = progress_path
        self.lines = []

    def event(self, kind, /, **fields):
        """`{"event": name, ...}` on one stdout line, flushed at once (logs are read as they come)."""
        if self.enabled:
            line = jsonfmt.dumps(dict(event=kind, **fields))
            self.out.write(line + "\n")
            self.out.flush()
            if self.progress_path:
                self.lines.append(line)
                self._keep()

    def _keep(self):
        try:
            folder = os.path.dirname(self.progress_path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            with open(self.progress_path, "w") as f:
                f.write("\n".join(self.lines) + "\n")
        except OSError as e:
            self.err.write("cannot keep progress in %s (%s); it goes on in the logs\n" % (self.progress_path, e.strerror))
            self.progress_path = None

    def note(self, text):
        if self.enabled:
            self.err.write(text + "\n")
            self.err.flush()

    def skipped(self, source, reason):
        """Every process names the images it could not read, whichever rank it is."""
        self.err.write("skipped %s: %s\n" % (source, reason))
        self.err.flush()


class HypertuneReporter:
    """Reports a metric after each epoch through cloudml-hypertune when it is installed, else
    writes the file that library writes: the last 100 reports, one sorted-key JSON object per line,
    values as strings, rewritten in full each time."""

    def __init__(self, tag, environ=os.environ):
        self.tag = tag or DEFAULT_METRIC_TAG
        self.library = None
        try:
            import hypertune  # cloudml-hypertune

            self.library = hypertune.HyperTune()
        except Exception:  # not installed, or its metric folder cannot be made: write the file ourselves
            self.path = environ.get("CLOUD_ML_HP_METRIC_FILE", DEFAULT_METRIC_FILE)
            self.trial = str(environ.get("CLOUD_ML_TRIAL_ID", 0))
            self.queue = collections.deque(maxlen=MAX_METRIC_ENTRIES)

    def report(self, value, step):
        """Returns None, or the reason the metric could not be written."""
        if self.library is not None:
            self.library.report_hyperparameter_tuning_metric(hyperparameter_metric_tag=self.tag, metric_value=value, global_step=step)
            return None
        self.queue.append({"timestamp": time.time(), "trial": self.trial, self.tag: str(float(value)),
                           "global_step": str(int(step) if step else 0)})
        try:
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            with open(self.path, "w") as f:
                for entry in self.queue:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError as e:
            return "cannot write the tuning metric to %s (%s)" % (self.path, e.strerror)
        return None
