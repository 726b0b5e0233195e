"""gans_jax/data/folder.py: a folder of PNG/JPEG images as a dataset ('folder:/path')."""

import importlib
import io
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from gans_jax import trainer
from gans_jax.data import load_dataset
from gans_jax.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save(path, pixels):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(np.asarray(pixels, np.uint8)).save(path)


@pytest.fixture
def class_folder(tmp_path):
  """cats/: 12x8 RGB PNGs (taller than wide); dogs/: 20x20 single-colour JPEG-free PNGs."""
  rng = np.random.RandomState(0)
  cats = [rng.randint(0, 256, (12, 8, 3)) for _ in range(3)]
  for i, pixels in enumerate(cats):
    save(str(tmp_path / "images" / "cats" / f"c{i}.png"), pixels)
  colours = [(10, 200, 30), (255, 0, 128)]
  for i, colour in enumerate(colours):
    save(str(tmp_path / "images" / "dogs" / f"d{i}.png"), np.broadcast_to(colour, (20, 20, 3)))
  return str(tmp_path / "images"), cats, colours


def test_subfolders_are_labels_and_images_are_centre_cropped_and_resized(class_folder, tmp_path):
  root, cats, colours = class_folder
  ds = load_dataset(f"folder:{root}", data_dir=str(tmp_path / "tfds"), resolution=8)
  assert (ds.num_examples, ds.num_classes, ds.example_shape) == (5, 2, (8, 8, 3))
  batch = ds.get(np.arange(5))
  np.testing.assert_array_equal(batch["y"], [0, 0, 0, 1, 1])  # sorted: cats, then dogs
  for i, pixels in enumerate(cats):
    # 12x8 -> the central 8x8 square (rows 2..9), already 8x8: no resize, exact.
    np.testing.assert_allclose(batch["x"][i], pixels[2:10] / 127.5 - 1, atol=1e-6)
  for i, colour in enumerate(colours):
    # A single colour stays that colour through any resize with weights summing to 1.
    np.testing.assert_allclose(batch["x"][3 + i], np.broadcast_to(colour, (8, 8, 3)) / 127.5 - 1,
                               atol=1e-6)


def test_a_flat_grey_folder_has_no_labels_and_one_channel(tmp_path):
  for i in range(3):
    save(str(tmp_path / "flat" / f"{i}.png"), np.full((8, 8), 40 * i))
  ds = load_dataset(f"folder:{tmp_path / 'flat'}", data_dir=str(tmp_path / "tfds"),
                    resolution=None)
  assert ds.num_classes is None and ds.example_shape == (8, 8, 1)
  batch = ds.get(np.array([2, 0]))
  assert set(batch) == {"x"}
  np.testing.assert_allclose(batch["x"][:, 0, 0, 0], [80 / 127.5 - 1, -1.0], atol=1e-6)


def test_the_prepared_copy_is_reused_until_the_folder_changes(class_folder, tmp_path):
  root, _, _ = class_folder
  data_dir = str(tmp_path / "tfds")
  prepared = lambda: sorted(os.listdir(os.path.join(data_dir, "gans_jax_folder")))
  load_dataset(f"folder:{root}", data_dir=data_dir, resolution=8)
  first = prepared()
  load_dataset(f"folder:{root}", data_dir=data_dir, resolution=8)
  assert prepared() == first and len(first) == 1
  save(os.path.join(root, "dogs", "d9.png"), np.zeros((20, 20, 3)))
  ds = load_dataset(f"folder:{root}", data_dir=data_dir, resolution=8)
  assert ds.num_examples == 6 and len(prepared()) == 2  # a new copy for the new folder state


def test_folder_mistakes_are_user_errors_naming_the_folder_or_file(tmp_path):
  data_dir = str(tmp_path / "tfds")
  (tmp_path / "empty").mkdir()
  with pytest.raises(UserError, match=r"dataset\.name: folder:.*empty holds no PNG or JPEG"):
    load_dataset(f"folder:{tmp_path / 'empty'}", data_dir=data_dir, resolution=8)
  with pytest.raises(UserError, match="is not a directory"):
    load_dataset(f"folder:{tmp_path / 'missing'}", data_dir=data_dir, resolution=8)
  save(str(tmp_path / "mixed" / "top.png"), np.zeros((8, 8)))
  save(str(tmp_path / "mixed" / "a" / "x.png"), np.zeros((8, 8)))
  with pytest.raises(UserError, match="top.png"):
    load_dataset(f"folder:{tmp_path / 'mixed'}", data_dir=data_dir, resolution=8)
  save(str(tmp_path / "sizes" / "a.png"), np.zeros((8, 8)))
  save(str(tmp_path / "sizes" / "b.png"), np.zeros((9, 8)))
  with pytest.raises(UserError, match=r"dataset\.resolution"):
    load_dataset(f"folder:{tmp_path / 'sizes'}", data_dir=data_dir, resolution=None)
  # A PNG whose header reads but whose pixels are cut off: found while preparing.
  save(str(tmp_path / "cut" / "good.png"), np.zeros((8, 8)))
  png = io.BytesIO()
  Image.fromarray(np.random.RandomState(0).randint(0, 256, (32, 32, 3)).astype(np.uint8)).save(
      png, "PNG")
  (tmp_path / "cut" / "truncated.png").write_bytes(png.getvalue()[:200])
  with pytest.raises(UserError, match=r"cut/truncated\.png: not a readable image"):
    load_dataset(f"folder:{tmp_path / 'cut'}", data_dir=data_dir, resolution=8)


def test_an_unreadable_file_is_one_error_line_and_exit_2_from_launch(tmp_path):
  save(str(tmp_path / "images" / "good.png"), np.zeros((8, 8)))
  (tmp_path / "images" / "notes.jpg").write_text("not an image")
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch.py"), "--config", "experiments/dcgan.py",
       f"--config.dataset.name=folder:{tmp_path / 'images'}",
       f"--config.dataset.data_dir={tmp_path / 'tfds'}", f"--workdir={tmp_path / 'run'}",
       "--progress=false"], capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 2, result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and str(tmp_path / "images" / "notes.jpg") in errors[0], result.stderr
  assert "Traceback" not in result.stderr


def test_a_folder_dataset_trains_end_to_end(class_folder, tmp_path):
  root, _, _ = class_folder
  config = importlib.import_module("experiments.dcgan").get_config()
  config.dataset.name, config.dataset.data_dir = f"folder:{root}", str(tmp_path / "tfds")
  config.dataset.resolution = 8
  config.model.g_width = config.model.d_width = 8
  config.train.num_steps, config.train.batch_size = 2, 4
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_images = 4
  state = trainer.train_and_evaluate(config, str(tmp_path / "run"), progress=False)
  assert int(state.step) == 2
  [row] = [json.loads(l) for l in open(tmp_path / "run" / "metrics.jsonl")]
  assert np.isfinite(row["d_loss"]) and np.isfinite(row["g_loss"])
  assert os.path.exists(tmp_path / "run" / "samples" / "step_0000002.png")


@pytest.fixture
def split_folder(tmp_path):
  """train/{a,b}/ and test/{a,b}/: class a is dark, class b light (8x8 grey PNGs)."""
  root = tmp_path / "split"
  for split, n in (("train", 3), ("test", 2)):
    for label, level in (("a", 20), ("b", 220)):
      for i in range(n):
        save(str(root / split / label / f"{i}.png"), np.full((8, 8), level + i))
  return str(root)


def test_a_folder_with_train_and_test_has_both_splits_with_shared_labels(split_folder, tmp_path):
  data_dir = str(tmp_path / "tfds")
  train = load_dataset(f"folder:{split_folder}", data_dir=data_dir, resolution=8)
  test = load_dataset(f"folder:{split_folder}", split="test", data_dir=data_dir, resolution=8)
  assert (train.num_examples, test.num_examples) == (6, 4)
  assert train.num_classes == test.num_classes == 2
  batch = test.get(np.arange(4))
  np.testing.assert_array_equal(batch["y"], [0, 0, 1, 1])  # test/a/0, test/a/1, test/b/0, test/b/1
  np.testing.assert_allclose(batch["x"][:, 0, 0, 0],
                             np.array([20, 21, 220, 221]) / 127.5 - 1, atol=1e-6)
  np.testing.assert_array_equal(train.get(np.arange(6))["y"], [0, 0, 0, 1, 1, 1])


def test_flat_train_and_test_folders_are_unlabelled_splits(tmp_path):
  for split, n in (("train", 3), ("test", 2)):
    for i in range(n):
      save(str(tmp_path / "flat" / split / f"{i}.png"), np.full((8, 8), 10 * i))
  test = load_dataset(f"folder:{tmp_path / 'flat'}", split="test", data_dir=str(tmp_path / "tfds"))
  assert test.num_examples == 2 and test.num_classes is None


def test_split_folder_mistakes_are_user_errors_with_the_fix(split_folder, tmp_path):
  data_dir = str(tmp_path / "tfds")
  save(os.path.join(split_folder, "stray.png"), np.zeros((8, 8)))
  with pytest.raises(UserError, match=r"stray\.png; move every image into train/ or test/"):
    load_dataset(f"folder:{split_folder}", data_dir=data_dir, resolution=8)
  os.remove(os.path.join(split_folder, "stray.png"))
  save(os.path.join(split_folder, "test", "c", "0.png"), np.zeros((8, 8)))
  with pytest.raises(UserError, match=r"test/ has class 'c' that train/ lacks"):
    load_dataset(f"folder:{split_folder}", data_dir=data_dir, resolution=8)


def test_a_folder_without_test_says_where_held_out_images_go(class_folder, tmp_path):
  root, _, _ = class_folder
  with pytest.raises(UserError, match=r"has no split 'test'; put the training images in "
                                      r".*images/train and held-out ones in .*images/test"):
    load_dataset(f"folder:{root}", split="test", data_dir=str(tmp_path / "tfds"), resolution=8)


def test_the_classifier_on_a_folder_without_test_fails_before_the_first_step(class_folder,
                                                                             tmp_path):
  root, _, _ = class_folder
  config = importlib.import_module("experiments.classifier_digits").get_config()
  config.dataset.name, config.dataset.data_dir = f"folder:{root}", str(tmp_path / "tfds")
  config.dataset.resolution = 8
  with pytest.raises(UserError, match=r"has no split 'test'"):
    trainer.train_and_evaluate(config, str(tmp_path / "run"), progress=False)
  assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_eval_and_edit_work_on_a_split_folder(split_folder, tmp_path):
  """The classifier trains on the folder's train split and scores on its test split; a GAN
  trained on the same folder is then evaluated and edited in that classifier's features."""
  from gans_jax.edit import edit
  from gans_jax.evaluate import evaluate
  data_dir = str(tmp_path / "tfds")
  clf = importlib.import_module("experiments.classifier_digits").get_config()
  clf.dataset.name, clf.dataset.data_dir, clf.dataset.resolution = (
      f"folder:{split_folder}", data_dir, 8)
  clf.model.width, clf.model.feature_dim = 8, 16
  clf.train.num_steps, clf.train.batch_size = 2, 4
  clf.log_every = clf.sample_every = clf.checkpoint_every = 2
  trainer.train_and_evaluate(clf, str(tmp_path / "clf"), progress=False)
  meta = json.load(open(tmp_path / "clf" / "classifier.json"))
  assert meta["dataset"] == f"folder:{split_folder}" and meta["num_classes"] == 2
  config = importlib.import_module("experiments.dcgan").get_config()
  config.dataset.name, config.dataset.data_dir = f"folder:{split_folder}", data_dir
  config.dataset.resolution = 8
  config.eval.classifier_dir = str(tmp_path / "clf")
  config.model.g_width = config.model.d_width = 8
  config.train.num_steps, config.train.batch_size = 2, 4
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_images = 4
  config.eval.num_samples, config.eval.batch_size, config.eval.truncation_sweep = 8, 8, ()
  config.eval.pr_k = config.eval.dc_k = 2  # the test split holds 4 images
  config.eval.is_splits = 2
  config.edit.target, config.edit.num_samples, config.edit.batch_size = 1, 4, 4
  config.edit.num_steps, config.edit.num_interpolations = 2, 1
  trainer.train_and_evaluate(config, str(tmp_path / "gan"), progress=False)
  results = evaluate(config, str(tmp_path / "gan"))
  assert np.isfinite(results["fid"]) and np.isfinite(results["fid_train_test"])
  edited = edit(config, str(tmp_path / "gan"))
  assert 0.0 <= edited["success_rate"] <= 1.0
