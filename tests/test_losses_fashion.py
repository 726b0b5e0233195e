"""benchmarks/losses_fashion.py's bookkeeping: a row's training time is one uninterrupted run's."""

import json
import os
import sys
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import losses_fashion  # noqa: E402


def _fake_training(seconds_per_call: list):
  """A stand-in for trainer.train_and_evaluate that writes a checkpoint file and advances a
  fake clock by the next of `seconds_per_call`."""
  clock = [100.0]

  def train(config, workdir, progress):
    os.makedirs(os.path.join(workdir, "checkpoints"), exist_ok=True)
    open(os.path.join(workdir, "checkpoints", "done"), "w").close()
    clock[0] += seconds_per_call.pop(0)

  return train, lambda: clock[0]


def test_a_finished_row_keeps_its_training_time_and_an_unfinished_one_starts_over(tmp_path):
  workdir = str(tmp_path / "hinge")
  config = losses_fashion.row_config("hinge", 10)
  train, clock = _fake_training([42.0])
  with mock.patch.object(losses_fashion.trainer, "train_and_evaluate", train), \
       mock.patch.object(losses_fashion.time, "perf_counter", clock):
    assert losses_fashion.train_row(config, workdir) == 42.0
    # Finished: a rerun trains nothing (the fake would fail: no seconds left) and keeps 42 s.
    assert losses_fashion.train_row(config, workdir) == 42.0
  with open(os.path.join(workdir, "train.json")) as f:
    assert json.load(f) == {"train_seconds": 42.0}

  # An interrupted run (a workdir without train.json) is trained again from an empty workdir.
  os.remove(os.path.join(workdir, "train.json"))
  stale = os.path.join(workdir, "stale_file")
  open(stale, "w").close()
  train, clock = _fake_training([7.5])
  with mock.patch.object(losses_fashion.trainer, "train_and_evaluate", train), \
       mock.patch.object(losses_fashion.time, "perf_counter", clock):
    assert losses_fashion.train_row(config, workdir) == 7.5
  assert not os.path.exists(stale)


def test_the_table_holds_every_row_scored_in_out_in_the_studys_order(tmp_path):
  out = str(tmp_path)
  for row, fid in (("wgan", 384.1), ("hinge", 295.2)):
    os.makedirs(os.path.join(out, row))
    with open(os.path.join(out, row, "row.json"), "w") as f:
      json.dump({"row": row, "steps": 1000, "n_critic": 1, "train_seconds": 1.0, "fid": fid}, f)
  os.makedirs(os.path.join(out, "minimax"))  # trained but not scored: no row.json
  rows = losses_fashion.finished_rows(out)
  assert [r["row"] for r in rows] == ["hinge", "wgan"]
  assert [r["fid"] for r in rows] == [295.2, 384.1]
