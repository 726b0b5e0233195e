"""An experiment's config at its defaults, by name.

What ``launch.py --config experiments/<name>.py`` loads; the benchmark scripts import it with
the repository root on ``sys.path`` (each script puts it there).
"""

import importlib


def experiment_config(name: str):
  """``experiments/<name>.py``'s ``get_config()``; `name` is the file's name without ``.py``."""
  return importlib.import_module(f"experiments.{name}").get_config()
