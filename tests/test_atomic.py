"""gans_jax/atomic.py: files are replaced whole or not at all."""

import json
import os

import numpy as np
import pytest

from gans_jax.atomic import atomic_path, read_json, write_json, write_text


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
  path = str(tmp_path / "eval.json")
  write_json(path, {"fid": 1.5})
  with pytest.raises(RuntimeError, match="disk full"):
    with atomic_path(path) as tmp:
      with open(tmp, "w") as f:
        f.write('{"fid": ')
      raise RuntimeError("disk full")
  assert json.load(open(path)) == {"fid": 1.5}
  assert os.listdir(tmp_path) == ["eval.json"]


def test_writes_replace_the_file_and_keep_the_extension_numpy_needs(tmp_path):
  path = str(tmp_path / "direction.npy")
  for value in (1.0, 2.0):
    with atomic_path(path, ".npy") as tmp:
      np.save(tmp, np.full(3, value))
  np.testing.assert_array_equal(np.load(path), [2.0, 2.0, 2.0])
  write_text(str(tmp_path / "rows.jsonl"), "a\nb\n")
  assert open(tmp_path / "rows.jsonl").read() == "a\nb\n"
  assert sorted(os.listdir(tmp_path)) == ["direction.npy", "rows.jsonl"]


def test_read_json_returns_none_for_a_missing_file_and_the_object_otherwise(tmp_path):
  path = str(tmp_path / "train.json")
  assert read_json(path) is None
  with open(path, "w") as f:
    f.write('{"train_seconds": 12.5, "steps": [1, 2]}')
  assert read_json(path) == {"train_seconds": 12.5, "steps": [1, 2]}
