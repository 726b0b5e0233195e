"""Atomic file writes: a file is written whole under a temporary name, then renamed into place.

A crash or a full disk mid-write leaves the previous file (or none), never a truncated one; the
temporary file is removed when the write fails. Every JSON, JSON-lines, PNG, .npy and .npz file the
package writes goes through here.
"""

import contextlib
import json
import os


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
  """Yields ``path + '.tmp' + suffix`` to write to; renames it to `path` when the block succeeds.

  `suffix` keeps the extension writers look at (``.png`` for matplotlib, ``.npz`` / ``.npy``, which
  NumPy would otherwise append).
  """
  tmp = path + ".tmp" + suffix
  try:
    yield tmp
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise
  os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` whole or not at all."""
  with atomic_path(path) as tmp, open(tmp, "w") as f:
    f.write(text)


def write_json(path: str, obj, *, indent: int | None = 2) -> None:
  """Writes `obj` as JSON to `path` whole or not at all."""
  write_text(path, json.dumps(obj, indent=indent))


def read_json(path: str):
  """The JSON object in `path`, or None when there is no such file."""
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)
