"""gans_jax/data/idx.py: a directory of MNIST-format (IDX) files as a dataset ('idx:/path')."""

import gzip
import json
import os
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest

from gans_jax import trainer
from gans_jax.data import idx, load_dataset
from gans_jax.errors import UserError
from idx_files import TYPES, idx_bytes, tiny_mnist
from test_train import experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("type_byte", sorted(TYPES))
def test_parse_idx_reads_every_element_type_big_endian(type_byte):
  _, dtype = TYPES[type_byte]
  values = (np.arange(24).reshape(2, 3, 4) * (3 if dtype != np.uint8 else 1) - (
      0 if dtype == np.uint8 else 20)).astype(dtype)
  parsed = idx.parse_idx(idx_bytes(values, type_byte), "f")
  assert parsed.shape == (2, 3, 4) and parsed.dtype == dtype
  np.testing.assert_array_equal(parsed, values)


def test_the_header_is_big_endian():
  # 0x00000102 = 258 rows: a little-endian reader would see 0x02010000.
  data = bytes([0, 0, 0x08, 1, 0, 0, 1, 2]) + bytes(range(256)) + bytes([7, 9])
  parsed = idx.parse_idx(data, "f")
  assert parsed.shape == (258,) and parsed[-1] == 9 and parsed[255] == 255


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_splits_images_and_labels_are_the_files_contents(tmp_path, gz):
  arrays = tiny_mnist(str(tmp_path / "mnist"), gz=gz)
  for split in ("train", "test"):
    ds = load_dataset(f"idx:{tmp_path / 'mnist'}", split=split, data_dir=str(tmp_path / "tfds"))
    images, labels = arrays[split]
    assert (ds.num_examples, ds.num_classes, ds.example_shape) == (len(images), 4, (8, 8, 1))
    batch = ds.get(np.arange(len(images)))
    np.testing.assert_array_equal(batch["y"], labels)
    np.testing.assert_allclose(batch["x"][..., 0], images / 127.5 - 1, atol=1e-6)


def test_a_resolution_resizes_as_the_pipeline_does(tmp_path):
  arrays = tiny_mnist(str(tmp_path / "mnist"))
  ds = load_dataset(f"idx:{tmp_path / 'mnist'}", data_dir=str(tmp_path / "tfds"), resolution=4)
  assert ds.example_shape == (4, 4, 1)
  x = ds.get(np.arange(3))["x"]
  # 8 -> 4 with an antialiased bilinear filter: a triangle twice as wide, centred at input
  # coordinate 2o + 0.5, weighs the input pixels 2o-1 .. 2o+2 as (1, 3, 3, 1); pixels outside the
  # image are dropped and the weights renormalised.
  images = arrays["train"][0][:3].astype(np.float64)
  w = np.zeros((4, 8))
  for o in range(4):
    for k, weight in zip(range(2 * o - 1, 2 * o + 3), (1, 3, 3, 1)):
      if 0 <= k < 8:
        w[o, k] = weight
  w /= w.sum(1, keepdims=True)
  expected = np.einsum("oi,nij,pj->nop", w, images, w)
  # The stored copy is uint8 (rounded), so the two agree to half a level.
  np.testing.assert_allclose(x[..., 0], np.round(expected) / 127.5 - 1, atol=1e-6)


def test_the_prepared_copy_is_reused_until_a_file_changes(tmp_path):
  tiny_mnist(str(tmp_path / "mnist"))
  data_dir = str(tmp_path / "tfds")
  prepared = lambda: sorted(os.listdir(os.path.join(data_dir, "gans_jax_idx")))
  load_dataset(f"idx:{tmp_path / 'mnist'}", data_dir=data_dir)
  load_dataset(f"idx:{tmp_path / 'mnist'}", split="test", data_dir=data_dir)
  first = prepared()
  assert len(first) == 1 and first[0].startswith("mnist_")
  tiny_mnist(str(tmp_path / "mnist"), num_train=48, seed=1)
  ds = load_dataset(f"idx:{tmp_path / 'mnist'}", data_dir=data_dir)
  assert ds.num_examples == 48 and len(prepared()) == 2


def _break(root, name, data):
  """Replaces `name` (plain or gzipped) in `root` by `data` written as `name`."""
  for f in os.listdir(root):
    if f.startswith(name.removesuffix(".gz")):
      os.remove(os.path.join(root, f))
  with open(os.path.join(root, name), "wb") as f:
    f.write(data)


@pytest.mark.parametrize("case", ["missing", "truncated", "magic", "counts", "truncated_gz"])
def test_bad_files_are_user_errors_naming_the_file(tmp_path, case):
  root = str(tmp_path / "mnist")
  arrays = tiny_mnist(root)
  images, labels = arrays["train"]
  name = "train-images-idx3-ubyte"
  if case == "missing":
    os.remove(os.path.join(root, name))
    pattern = r"has no train-images-idx3-ubyte \(nor train-images-idx3-ubyte\.gz\)"
  elif case == "truncated":
    _break(root, name, idx_bytes(images)[:-5])
    pattern = r"train-images-idx3-ubyte: truncated IDX file"
  elif case == "magic":
    _break(root, name, b"\x1f\x8b" + idx_bytes(images)[2:])
    pattern = r"train-images-idx3-ubyte: not an IDX file \(wrong magic number 1f8b0803"
  elif case == "counts":
    name = "train-labels-idx1-ubyte"
    _break(root, name, idx_bytes(labels[:-1].astype(np.uint8)))
    pattern = r"train-labels-idx1-ubyte: holds 39 labels but .*train-images-idx3-ubyte holds 40"
  else:
    name = "train-images-idx3-ubyte.gz"
    _break(root, name, gzip.compress(idx_bytes(images))[:-30])
    pattern = r"train-images-idx3-ubyte\.gz: not a complete gzip file"
  with pytest.raises(UserError, match=pattern):
    load_dataset(f"idx:{root}", data_dir=str(tmp_path / "tfds"))
  assert not os.path.exists(tmp_path / "tfds" / "gans_jax_idx")  # nothing half-prepared


def test_a_missing_fashion_mnist_says_how_to_install_it(monkeypatch, tmp_path):
  monkeypatch.setattr(idx, "FASHION_MNIST_DIR", str(tmp_path / "absent"))
  with pytest.raises(UserError, match=r"apt-get install dataset-fashion-mnist.*idx:/that/directory"):
    load_dataset(f"idx:{tmp_path / 'absent'}", data_dir=str(tmp_path / "tfds"))


def test_a_bad_file_is_one_error_line_and_exit_2_from_launch(tmp_path):
  root = str(tmp_path / "mnist")
  tiny_mnist(root)
  _break(root, "t10k-images-idx3-ubyte", b"\x00\x00\x08\x03\x00")
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch.py"), "--config", "experiments/dcgan.py",
       f"--config.dataset.name=idx:{root}", f"--config.dataset.data_dir={tmp_path / 'tfds'}",
       f"--workdir={tmp_path / 'run'}", "--progress=false"],
      capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 2, result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "t10k-images-idx3-ubyte: truncated IDX file" in errors[0]
  assert "Traceback" not in result.stderr and not os.path.exists(tmp_path / "run" / "checkpoints")


def _tiny_gan(root, data_dir, steps):
  config = experiment("dcgan")
  config.dataset.name, config.dataset.data_dir = f"idx:{root}", data_dir
  config.dataset.resolution = 8
  config.model.g_width = config.model.d_width = 8
  config.train.num_steps, config.train.batch_size = steps, 8
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_images = 4
  return config


@pytest.mark.parametrize("resident", [True, False], ids=["resident", "streamed"])
def test_an_idx_dataset_trains_and_resumes_exactly(tmp_path, resident):
  root, data_dir = str(tmp_path / "mnist"), str(tmp_path / "tfds")
  tiny_mnist(root)

  def config(steps):
    c = _tiny_gan(root, data_dir, steps)
    c.dataset.max_resident_mb = 512 if resident else 0
    return c
  full = trainer.train_and_evaluate(config(4), str(tmp_path / "full"), progress=False)
  trainer.train_and_evaluate(config(2), str(tmp_path / "resumed"), progress=False)
  resumed = trainer.train_and_evaluate(config(4), str(tmp_path / "resumed"), progress=False)
  assert int(full.step) == int(resumed.step) == 4
  # Every array of the state (parameters, optimizer moments, BatchNorm statistics, step).
  chex.assert_trees_all_equal(jax.tree.leaves(jax.device_get(resumed)),
                              jax.tree.leaves(jax.device_get(full)))
  rows = [json.loads(l) for l in open(tmp_path / "resumed" / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [2, 4] and np.isfinite(rows[-1]["d_loss"])


FASHION_EXPERIMENTS = sorted(
    os.path.basename(p)[:-3] for p in os.listdir(os.path.join(ROOT, "experiments"))
    if p.endswith("_fashion.py"))


@pytest.mark.parametrize("name", [n for n in FASHION_EXPERIMENTS
                                  if experiment(n).get("family", "gan") != "gan"])
def test_every_non_gan_fashion_experiment_trains_on_a_tiny_idx_set(name, tmp_path):
  """The Fashion-MNIST configs of the other families, shrunk, on a tiny IDX set in place of the
  Debian package's files (the GAN ones run in test_train.py's every-experiment test)."""
  config = experiment(name)
  assert config.dataset.name == idx.FASHION_MNIST and config.dataset.resolution == 32
  root = str(tmp_path / "mnist")
  tiny_mnist(root, num_classes=10)
  config.dataset.name, config.dataset.data_dir = f"idx:{root}", str(tmp_path / "tfds")
  # The semi-supervised conv discriminator needs a side of 16 or more.
  config.dataset.resolution = 16 if config.model.get("arch") == "conv" else 8
  for field in ("width", "g_width", "d_width", "e_width"):
    if field in config.model:
      config.model[field] = 8
  config.train.num_steps, config.train.batch_size = 2, 8
  if "num_labeled" in config.dataset:
    config.dataset.num_labeled, config.train.labeled_batch_size = 10, 8
  config.log_every = config.sample_every = config.checkpoint_every = 2
  trainer.train_and_evaluate(config, str(tmp_path / "run"), progress=False)
  rows = [json.loads(l) for l in open(tmp_path / "run" / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [2] and all(np.isfinite(v) for v in rows[0].values())
