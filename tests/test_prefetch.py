"""gans_jax/data/prefetch.py and the trainer's prefetched feed: the same batches as reading them
between steps, a thread that stops on every way out, errors raised where the batch is asked for."""

import importlib
import signal
import threading
import time

import numpy as np
import pytest

from gans_jax import trainer
from gans_jax.data import Dataset, load_dataset
from gans_jax.data.prefetch import Prefetcher
from gans_jax.families import gan
from gans_jax.train_settings import TrainSettings


def prefetch_threads():
  return [t for t in threading.enumerate() if t.name.startswith("prefetch") and t.is_alive()]


def test_planned_keys_are_made_ahead_on_the_worker_and_others_on_the_caller():
  made = []

  def make(key):
    made.append((key, threading.current_thread().name))
    return key * 10

  with Prefetcher(make, plan=range(5), depth=2) as pre:
    assert [pre.get(k) for k in (0, 1, 2)] == [0, 10, 20]
    assert pre.get(7) == 70  # off the plan
    assert [pre.get(k) for k in (3, 4)] == [30, 40]
    assert pre.get(5) == 50  # past the end of the plan
  where = dict(made)
  assert all(where[k].startswith("prefetch") for k in range(5))
  assert where[7] == where[5] == threading.current_thread().name
  assert not prefetch_threads()


def test_at_most_depth_keys_are_made_ahead():
  made = []
  with Prefetcher(made.append, plan=range(100), depth=3) as pre:
    time.sleep(0.2)  # time for the worker to run as far as it may
    assert made == [0, 1, 2]
    pre.get(0)
    time.sleep(0.2)
    assert made == [0, 1, 2, 3]


def test_an_error_in_the_worker_is_raised_by_get_of_its_key():
  def make(key):
    if key == 1:
      raise OSError("unreadable batch 1")
    return key

  with Prefetcher(make, plan=range(4), depth=2) as pre:
    assert pre.get(0) == 0
    with pytest.raises(OSError, match="unreadable batch 1"):
      pre.get(1)
  assert not prefetch_threads()


def test_close_waits_for_the_item_in_progress_and_cancels_the_rest():
  started, release, made = threading.Event(), threading.Event(), []

  def make(key):
    started.set()
    release.wait(5)
    made.append(key)

  pre = Prefetcher(make, plan=range(10), depth=4)
  started.wait(5)
  threading.Timer(0.2, release.set).start()
  pre.close()
  assert made == [0] and not prefetch_threads()


def tiny_streamed(data_dir, num_steps, steps_per_call=3):
  config = importlib.import_module("experiments.dcgan").get_config()
  config.dataset.data_dir, config.dataset.resolution = data_dir, 8
  config.dataset.max_resident_mb = 0  # streamed
  config.model.g_width = config.model.d_width = 8
  config.train.num_steps, config.train.batch_size, config.train.n_critic = num_steps, 8, 2
  config.train.steps_per_call = steps_per_call
  config.log_every, config.sample_every, config.checkpoint_every = 4, 100, 4
  config.num_sample_images = 4
  return config


@pytest.mark.parametrize("start", [0, 5])
def test_prefetched_feed_gives_each_step_the_documented_batch(start, data_dir):
  """From step 0 and resumed at 5, every call (fused or single) of the prefetched feed holds
  what the synchronous feed gives and, per step s, the documented draw: indices from
  numpy.random.default_rng([seed, s]).integers(0, N, (n_critic, B))."""
  config = tiny_streamed(data_dir, num_steps=11)
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  settings = TrainSettings.from_config(config)
  family, runner = trainer.make_runner(settings, lambda axis: gan.GAN(config, dataset, axis),
                                       resident=False)
  calls = list(trainer.feed_calls(settings, start))
  # Calls never cross the events at 4 and 8 (log, checkpoint) nor the end, 11.
  assert calls == {0: [(0, 3), (3, 0), (4, 3), (7, 0), (8, 3)],
                   5: [(5, 3), (8, 3)]}[start]
  sync = trainer.DataFeed(settings, dataset, family, runner, resident=False)
  ahead = trainer.DataFeed(settings, dataset, family, runner, resident=False, calls=calls,
                           prefetch=2)
  try:
    for step, fused in calls:
      got = ahead(step, fused)
      np.testing.assert_array_equal(np.asarray(got["x"]), np.asarray(sync(step, fused)["x"]))
      per_step = np.asarray(got["x"]) if fused else np.asarray(got["x"])[None]
      for i, x in enumerate(per_step):
        rng = np.random.default_rng([config.seed, step + i])
        idx = rng.integers(0, dataset.num_examples, (2, 8))
        np.testing.assert_array_equal(x, dataset.get(idx.reshape(-1))["x"].reshape(x.shape))
  finally:
    ahead.close()
  assert not prefetch_threads()


def test_the_prefetch_thread_stops_on_a_signal_and_on_a_read_error(data_dir, tmp_path,
                                                                    monkeypatch):
  """Through train_and_evaluate, with the thread already reading ahead: SIGINT (before the first
  step, so nothing compiles) ends in Interrupted; a read error in the thread is raised as itself."""
  workdir = str(tmp_path)
  enter = trainer.GracefulStop.__enter__

  def enter_then_sigint(stop):
    enter(stop)
    signal.raise_signal(signal.SIGINT)  # as Ctrl-C: GracefulStop sets its flag
    return stop

  monkeypatch.setattr(trainer.GracefulStop, "__enter__", enter_then_sigint)
  with pytest.raises(trainer.Interrupted):
    trainer.train_and_evaluate(tiny_streamed(data_dir, 8, 1), workdir, progress=False)
  assert not prefetch_threads()
  monkeypatch.setattr(trainer.GracefulStop, "__enter__", enter)

  get = Dataset.get

  def failing_get(self, indices):
    if threading.current_thread().name.startswith("prefetch"):
      raise OSError("disk gone")
    return get(self, indices)

  monkeypatch.setattr(Dataset, "get", failing_get)
  with pytest.raises(OSError, match="disk gone"):
    trainer.train_and_evaluate(tiny_streamed(data_dir, 8, 1), workdir, progress=False)
  assert not prefetch_threads()
