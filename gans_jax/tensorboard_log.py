"""TensorBoard event files in a run's workdir, written with tensorboardX (no TensorFlow).

What a run writes to metrics.jsonl and eval.jsonl appears as scalars (``train/<metric>``,
``eval/<metric>``) and each sample grid or 2-D scatter PNG as an image (``samples/<kind>``), at the
step it was made; view them with ``tensorboard --logdir runs``. A resumed run opens a new event file
whose first event purges the steps after the checkpoint it resumed from, as metrics.jsonl drops
their rows, so TensorBoard shows one curve per metric.
"""

import logging
import numbers

import numpy as np
from PIL import Image


class EventLog:
  """Scalars and images of one run, appended to an event file in `logdir`."""

  def __init__(self, logdir: str, start: int):
    from tensorboardX import SummaryWriter  # imported only by the process that writes logs
    # purge_step: TensorBoard hides events at steps >= start from this run's earlier files.
    self.writer = SummaryWriter(logdir=logdir, purge_step=start if start > 0 else None)
    # A NaN metric is a legitimate value (e.g. eval's reverse_kl with no mode hit), logged as
    # such; tensorboardX would warn about each one.
    logging.getLogger("tensorboardX.x2num").setLevel(logging.ERROR)

  def scalars(self, section: str, row: dict) -> None:
    """Every number of a JSON row but its 'step' as the scalar ``<section>/<key>`` at that step.

    Lists (per-seed values) and non-numeric entries are left to the JSON file.
    """
    step = row["step"]
    for key, value in row.items():
      if key != "step" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        self.writer.add_scalar(f"{section}/{key}", float(value), step)
    self.writer.flush()

  def image(self, tag: str, png_path: str, step: int) -> None:
    """The PNG at `png_path` (as saved, so TensorBoard shows what the file holds) as ``tag``."""
    with Image.open(png_path) as image:
      pixels = np.asarray(image.convert("RGB"))
    self.writer.add_image(tag, pixels, step, dataformats="HWC")
    self.writer.flush()

  def close(self) -> None:
    self.writer.close()


def sample_tag(prefix: str) -> str:
  """The image tag of a sample file ``<prefix>step_XXXXXXX.png``: ``'samples/grid'`` for the
  plain grid (prefix ''), ``'samples/recon'`` for ``recon_``."""
  return f"samples/{prefix.rstrip('_') or 'grid'}"
