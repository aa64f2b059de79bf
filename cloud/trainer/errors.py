"""Errors whose message is meant for the user as it is: printed on one line, without a traceback."""

import os
import sys
import traceback


class InputError(Exception):
    """A missing file, a folder with no classes, weights that do not fit: exit status 1."""

    exit_code = 1


class UsageError(InputError):
    """A bad or missing flag: exit status 2, as `scenelab train` exits."""

    exit_code = 2


def report_errors(fn):
    """Runs `fn` and exits with its status; errors become one line on stderr, never a traceback
    (SCENELAB_DEBUG shows it)."""
    try:
        code = fn()
    except InputError as e:
        sys.stderr.write("trainer: %s\n" % str(e).split("\n")[0])
        code = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("trainer: stopped\n")
        code = 130
    except Exception as e:  # anything else is a bug or the machine's trouble: one line, the trace on request
        sys.stderr.write("trainer: error: %s: %s\n" % (type(e).__name__, str(e).split("\n")[0]))
        if os.environ.get("SCENELAB_DEBUG"):
            traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.exit(code)
