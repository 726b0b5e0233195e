"""python -m gans_jax.fid: folders, .npz and statistics files; against --mode=eval and scipy."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg

from gans_jax import evaluate, features, fid
from gans_jax.data import load_dataset
from gans_jax.families import gan
from gans_jax.image_files import open_images, to_uint8, write_png
from gans_jax.nets import inception
from test_train import experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_fid(capsys, *args):
  """(exit status, the JSON line or None, stderr) of ``python -m gans_jax.fid args``, in-process."""
  status = fid.main([str(a) for a in args])
  out, err = capsys.readouterr()
  return status, (json.loads(out) if status == 0 else None), err


@pytest.fixture(scope="module")
def digit_folders(data_dir, tmp_path_factory):
  """The digits train and test splits at the classifier's 16x16, one PNG per image."""
  root = tmp_path_factory.mktemp("digits_png")
  for split in ("train", "test"):
    x = load_dataset("digits", split=split, data_dir=data_dir, resolution=16).all()["x"]
    os.makedirs(root / split)
    for i, image in enumerate(to_uint8(x)):
      write_png(str(root / split / f"{i:04d}.png"), image)
  return root / "train", root / "test"


def assert_records_match(actual, expected, *, rel):
  """Two JSON records agree: the same keys, numbers to ``rel``, everything else exactly."""
  assert set(actual) == set(expected)
  numbers = {k for k, v in expected.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
  assert {k: actual[k] for k in numbers} == pytest.approx({k: expected[k] for k in numbers}, rel=rel)
  assert {k: actual[k] for k in set(expected) - numbers} == {
      k: expected[k] for k in set(expected) - numbers}


def _scipy_fid(mu1, s1, mu2, s2):
  covmean = scipy.linalg.sqrtm(s1 @ s2).real
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fid_of_a_folder_against_itself_is_zero(digits_classifier, digit_folders, capsys):
  _, test = digit_folders
  status, out, _ = run_fid(capsys, test, test, "--features", f"classifier:{digits_classifier[0]}")
  assert status == 0
  assert abs(out["fid"]) < 1e-6
  assert out["precision"] == out["recall"] == out["coverage"] == 1.0
  assert out["num_a"] == out["num_b"] == 360


def test_fid_between_train_and_test_folders_is_evals_fid_train_test(
    digits_classifier, digit_folders, data_dir, capsys):
  clf_dir, _ = digits_classifier
  train, test = digit_folders
  status, out, _ = run_fid(capsys, train, test, "--features", f"classifier:{clf_dir}")
  assert status == 0
  config = experiment("wgan_gp")
  config.dataset.data_dir, config.eval.classifier_dir = data_dir, clf_dir
  ev = evaluate.Evaluator(config, gan.GAN(config, load_dataset(
      "digits", data_dir=data_dir, resolution=16)), "image")
  # The folders hold the images rounded to uint8; eval scores the float images.
  assert out["fid"] == pytest.approx(ev.fid_train_test, rel=0.01)
  assert out["num_a"] == 1437 and out["num_b"] == 360
  assert {"kid", "kid_std", "precision", "recall", "density", "coverage"} <= set(out)
  assert 0 < out["precision"] <= 1 and 0 < out["recall"] <= 1


def test_saved_statistics_give_the_folders_metrics(digits_classifier, digit_folders, tmp_path,
                                                   capsys):
  features = f"classifier:{digits_classifier[0]}"
  train, test = digit_folders
  _, direct, _ = run_fid(capsys, train, test, "--features", features)
  for path, folder in ((tmp_path / "train.npz", train), (tmp_path / "test.npz", test)):
    status, out, _ = run_fid(capsys, folder, "--save_stats", path, "--features", features)
    assert status == 0 and out["num"] == len(os.listdir(folder))
  _, from_stats, _ = run_fid(capsys, tmp_path / "train.npz", test, "--features", features)
  assert_records_match(from_stats, direct, rel=1e-9)
  # What the file holds, checked with NumPy and scipy.
  saved = [np.load(tmp_path / f"{s}.npz") for s in ("train", "test")]
  for s in saved:
    np.testing.assert_allclose(s["mu"], s["feats"].astype(np.float64).mean(0), rtol=1e-10)
    np.testing.assert_allclose(s["sigma"], np.cov(s["feats"].astype(np.float64), rowvar=False),
                               rtol=1e-8, atol=1e-8)
  expected = _scipy_fid(saved[0]["mu"], saved[0]["sigma"], saved[1]["mu"], saved[1]["sigma"])
  assert direct["fid"] == pytest.approx(expected, rel=1e-6)
  # Mean and covariance only: the same FID, the feature-based metrics null with a note.
  run_fid(capsys, train, "--save_stats", tmp_path / "small.npz", "--features", features,
          "--no-stats_features")
  _, small, _ = run_fid(capsys, tmp_path / "small.npz", test, "--features", features)
  assert small["fid"] == pytest.approx(direct["fid"], rel=1e-9)
  assert small["kid"] is None and small["precision"] is None and "mean and covariance" in small["note"]
  # A statistics file records its feature space: the other input is scored in it without
  # --features (Inception, the default, would need weights this machine does not have).
  _, implied, _ = run_fid(capsys, tmp_path / "train.npz", test)
  assert implied["features"] == features
  assert_records_match(implied, direct, rel=1e-9)
  # Two statistics files of different feature spaces: one error naming both.
  other = np.load(tmp_path / "test.npz")
  np.savez(tmp_path / "other.npz", **{**other, "features_spec": np.str_("classifier:elsewhere")})
  status, _, err = run_fid(capsys, tmp_path / "train.npz", tmp_path / "other.npz")
  assert status == 2 and err.startswith(f"error: {tmp_path / 'other.npz'}: statistics in "
                                        f"classifier:elsewhere features, but "
                                        f"{tmp_path / 'train.npz'} holds {features}")


def test_npz_of_the_images_gives_the_folders_fid(digits_classifier, digit_folders, tmp_path,
                                                 capsys):
  features = f"classifier:{digits_classifier[0]}"
  train, test = digit_folders
  images = np.concatenate(list(open_images(str(test)).batches(100)))
  np.savez(tmp_path / "test_images.npz", images)
  _, folder, _ = run_fid(capsys, train, test, "--features", features)
  _, npz, _ = run_fid(capsys, train, tmp_path / "test_images.npz", "--features", features)
  assert npz == folder


def test_inception_features_end_to_end_with_random_weights(random_inception_npz, tmp_path,
                                                           monkeypatch, capsys):
  """--features inception (random weights; 75x75 instead of 299 to be fast) up to the
  statistics; comparing them is the code the classifier tests run (a 2048-d FID, two
  eigendecompositions and an SVD of 2048x2048 matrices, takes a minute on a loaded CPU)."""
  monkeypatch.setattr(inception, "INPUT_SIZE", 75)
  rng = np.random.default_rng(0)
  a = rng.integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
  np.savez(tmp_path / "a.npz", a)
  common = ["--inception_path", random_inception_npz, "--batch_size", 4, "--features",
            "inception"]
  status, saved, err = run_fid(capsys, tmp_path / "a.npz", "--save_stats",
                               tmp_path / "a_stats.npz", *common)
  assert status == 0 and saved["num"] == 8, err
  stats = np.load(tmp_path / "a_stats.npz")
  assert stats["feats"].shape == (8, 2048) and str(stats["features"]) == "inception"
  extractor = features.InceptionFeatures(random_inception_npz, batch_size=4)
  np.testing.assert_allclose(stats["feats"], extractor(a / 127.5 - 1)[0], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(stats["mu"], stats["feats"].astype(np.float64).mean(0), rtol=1e-10)
  # Statistics of Inception features are not compared in another network's features.
  status, _, err = run_fid(capsys, tmp_path / "a_stats.npz", tmp_path / "a_stats.npz",
                           "--features", "classifier:/nowhere")
  assert status == 2 and "a_stats.npz: statistics of inception features" in err


@pytest.mark.parametrize("args,named", [
    (["{d}/missing", "{d}/empty"], "{d}/missing"),
    (["{d}/empty", "{d}/folder"], "{d}/empty"),
    (["{d}/folder", "{d}/folder", "--features", "inception", "--inception_path", "{d}/w.pth"],
     "{d}/w.pth"),
    (["{d}/folder", "{d}/folder", "--features", "resnet"], "--features"),
    (["{d}/folder"], "two PATHs"),
    (["{d}/folder", "{d}/folder", "--save_stats", "{d}/s.npz"], "--save_stats"),
])
def test_bad_input_is_one_error_line_naming_it_and_exit_2(args, named, tmp_path, capsys):
  os.makedirs(tmp_path / "empty")
  os.makedirs(tmp_path / "folder")
  write_png(str(tmp_path / "folder" / "a.png"), np.zeros((4, 4, 1), np.uint8))
  (tmp_path / "w.pth").write_bytes(b"not a torch file")
  status, _, err = run_fid(capsys, *[a.format(d=tmp_path) for a in args])
  lines = err.strip().splitlines()
  assert status == 2 and len(lines) == 1, err
  assert lines[0].startswith("error: ") and named.format(d=tmp_path) in lines[0]


def test_command_line_error_exits_2_without_a_traceback(tmp_path):
  result = subprocess.run([sys.executable, "-m", "gans_jax.fid", str(tmp_path / "nope"),
                           str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == 2
  assert result.stderr.strip() == f"error: {tmp_path / 'nope'}: no such file or folder"
