"""Orbax checkpoints of a training state: save, restore, latest step.

Writes are atomic (orbax commits a step directory by renaming it) and keep the
last `keep` steps. The state is saved as its Flax state dict, so any family's
state (a `flax.struct.dataclass` of TrainStates and arrays) round-trips.
"""

import os

import flax
import orbax.checkpoint as ocp

from gans_jax import parallel
from gans_jax.families.base import step_of


class Checkpointer:
  """Orbax CheckpointManager over `directory` (atomic writes, keeps the last `keep`)."""

  def __init__(self, directory: str, keep: int):
    self.directory = os.path.abspath(directory)
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, state) -> None:
    step = step_of(state)
    if step in self.manager.all_steps():
      return
    tree = flax.serialization.to_state_dict(state)
    if parallel.multi_process():
      # Every process holds the same state on its own devices; orbax saves
      # global arrays (each process writes its share, process 0 commits).
      tree = parallel.to_global(tree)
    self.manager.save(step, args=ocp.args.StandardSave(tree))

  def restore(self, template, step=None):
    """The state saved at `step` (default: the latest), shaped like `template`."""
    step = self.manager.latest_step() if step is None else step
    # Explicit placements: a checkpoint saved by N processes restores in one
    # (e.g. --mode=eval after a multi-host run) and the other way round.
    abstract = parallel.restore_target(flax.serialization.to_state_dict(template))
    restored = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
    if parallel.multi_process():
      restored = parallel.to_local(restored)
    return flax.serialization.from_state_dict(template, restored)

  def describe(self) -> str:
    """What a stopped run leaves behind, for its error message."""
    step = self.latest_step()
    if step is None:
      return "no checkpoint was written before it"
    return f"the last good checkpoint, step {step}, is kept in {self.directory}"

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
