"""Library log lines that mislead a user of this project, silenced by their exact start.

TFDS warns "Using custom data configuration" for every folder and IDX dataset (a custom config is
how they are built) and that a variant folder "has no dataset_info.json" while it prepares one;
orbax warns "CheckpointManagerOptions.read_only=True" on every restore for eval, edit and sample
(reading is all they do). Every other warning of those libraries still shows.
"""

import logging

_MISLEADING = (
    "Using custom data configuration",
    "CheckpointManagerOptions.read_only=True",
)
_MISLEADING_PARTS = ("has no dataset_info.json",)


class _Filter(logging.Filter):
  def filter(self, record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not (message.startswith(_MISLEADING) or any(p in message for p in _MISLEADING_PARTS))


_INSTALLED = _Filter()


def silence_misleading_library_warnings() -> None:
  """Installs the filter on absl's logger (which TFDS and orbax log through); idempotent."""
  logger = logging.getLogger("absl")
  if _INSTALLED not in logger.filters:
    logger.addFilter(_INSTALLED)
