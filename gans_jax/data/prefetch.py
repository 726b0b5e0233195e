"""Work done ahead on a background thread: the next items of a known sequence of requests.

The training loop knows which batches it will read (step s reads `StreamedBatches(s)`), so a worker
thread can read, preprocess and place them on the devices while the devices compute earlier steps.
Each item is a pure function of its key, so what a request returns does not depend on whether it was
prefetched: a request that is not the next planned key is computed on the spot.
"""

import collections
from collections.abc import Callable, Hashable, Iterable
from concurrent import futures
from typing import Any

_END = object()


class Prefetcher:
  """``make(key)`` for each key of `plan`, in order, up to `depth` keys ahead, on one thread.

  `get(key)` returns ``make(key)``: the prefetched result when `key` is the next planned key
  (an exception `make` raised there is raised here), else computed in the calling thread.
  `close()` cancels what has not started and waits for the one item in progress, if any;
  use it in a ``finally`` or as a context manager.
  """

  def __init__(self, make: Callable[[Hashable], Any], plan: Iterable[Hashable], depth: int):
    if depth < 1:
      raise ValueError(f"depth must be >= 1, got {depth}")
    self._make, self._plan, self._depth = make, iter(plan), depth
    self._pending = collections.deque()  # (key, future), in plan order
    self._pool = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
    self._fill()

  def _fill(self) -> None:
    while self._pool is not None and len(self._pending) < self._depth:
      key = next(self._plan, _END)
      if key is _END:
        return
      self._pending.append((key, self._pool.submit(self._make, key)))

  def get(self, key: Hashable) -> Any:
    if not self._pending or self._pending[0][0] != key:
      return self._make(key)  # off the plan: correct, only not ahead of time
    _, future = self._pending.popleft()
    self._fill()  # queue the next key before waiting, so the worker never idles
    return future.result()

  def close(self) -> None:
    if self._pool is None:
      return
    for _, future in self._pending:
      future.cancel()
    self._pending.clear()
    self._pool.shutdown(wait=True, cancel_futures=True)
    self._pool = None

  def __enter__(self):
    return self

  def __exit__(self, *exc) -> bool:
    self.close()
    return False
