"""JSON written exactly as SceneLab's `JSON.stringify(value, null, 2)` writes it.

Python spells numbers its own way (`1e-07`, `1.0`, `1e+16`); the run files should read the same
whichever trainer wrote them, so numbers follow JavaScript's Number-to-string rules.
"""

import json
import math
import re

_REPR = re.compile(r"^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$")


def js_number(x):
    """A number as JavaScript prints it (`String(x)`); NaN and infinities are null in JSON."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int) and abs(x) < 10**21:
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        return "null"
    if x == 0:
        return "0"
    sign, whole, frac, exp = _REPR.match(repr(x)).groups()
    digits = whole + (frac or "")
    point = len(whole) + int(exp or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = "%se%s%d" % (mantissa, "+" if e >= 0 else "-", abs(e))
    return sign + body


def dumps(value, indent=None, _level=0):
    """`JSON.stringify(value, null, indent)`: compact without an indent, else one item per line."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = [(json.dumps(str(k), ensure_ascii=False), v) for k, v in value.items()]
        return _container("{", "}", [k + (": " if indent else ":") + dumps(v, indent, _level + 1) for k, v in items], indent, _level)
    if isinstance(value, (list, tuple)):
        return _container("[", "]", [dumps(v, indent, _level + 1) for v in value], indent, _level)
    raise TypeError("cannot write %s as JSON" % type(value).__name__)


def _container(open_, close, parts, indent, level):
    if not parts:
        return open_ + close
    if not indent:
        return open_ + ",".join(parts) + close
    inner = "\n" + " " * (indent * (level + 1))
    return open_ + inner + ("," + inner).join(parts) + "\n" + " " * (indent * level) + close


def dump_file_text(value):
    """The text of a run's JSON file: two-space indent and a final newline, as SceneLab writes them."""
    return dumps(value, indent=2) + "\n"
