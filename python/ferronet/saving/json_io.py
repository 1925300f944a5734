"""JSON from files, strictly: UTF-8, an object at the top, no duplicate keys, no NaN/Infinity
literals, bounded nesting; every defect is a `FileFormatError` naming the file and entry."""

import json

from ferronet.errors import FileFormatError

MAX_DEPTH = 64


def loads(data, where):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{where}: expected UTF-8 JSON, got undecodable bytes ({e})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise FileFormatError(f"{where}: expected JSON, got a syntax error: {e}") from None
    except RecursionError:
        raise FileFormatError(f"{where}: expected JSON nested at most {MAX_DEPTH} deep, got deeper") from None
    except ValueError as e:  # from the hooks below
        raise FileFormatError(f"{where}: {e}") from None
    if not isinstance(value, dict):
        raise FileFormatError(f"{where}: expected a JSON object, got {type(value).__name__}")
    if _depth(value) > MAX_DEPTH:
        raise FileFormatError(f"{where}: expected JSON nested at most {MAX_DEPTH} deep, got deeper")
    return value


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"expected each key once, got {key!r} twice")
        out[key] = value
    return out


def _no_constants(name):
    raise ValueError(f"expected finite numbers, got {name}")


def _depth(value):
    depth, level = 0, [value]
    while level:  # iterative: a deep file must not hit Python's recursion limit here
        depth += 1
        level = [v for item in level for v in (item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
                 if isinstance(v, (dict, list))]
        if depth > MAX_DEPTH:
            break
    return depth


def dumps(value):
    return json.dumps(value, allow_nan=False).encode("utf-8")
