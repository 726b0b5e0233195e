"""Stopping a run cleanly: Ctrl-C (SIGINT) and SIGTERM become a flag checked between steps."""

import signal
import threading


class GracefulStop:
  """Turns the first SIGINT or SIGTERM into a flag the loop checks between steps.

  A KeyboardInterrupt raised inside the step call could leave the state
  pointing at donated (deleted) buffers; checking a flag between steps cannot.
  After the first signal the previous handlers are back, so a second Ctrl-C
  aborts at once. `signum` says which signal asked (None: none did).
  SIGTERM is what cluster schedulers and cloud preemption send.
  """
  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.signum = None
    self._previous = {}

  @property
  def requested(self) -> bool:
    return self.signum is not None

  def _handler(self, signum, frame):
    del frame
    if self.requested:
      raise KeyboardInterrupt
    self.signum = signum
    self._restore()

  def _restore(self) -> None:
    for sig, previous in self._previous.items():
      signal.signal(sig, previous)
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = {sig: signal.signal(sig, self._handler) for sig in self.SIGNALS}
    return self

  def __exit__(self, *exc):
    self._restore()
    return False
