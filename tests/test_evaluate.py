"""--mode=eval and in-training evaluation: keys, ranges, the reference FID, errors."""

import json
import os

import jax
import numpy as np
import pytest
import scipy.linalg
from scipy.stats import norm

from gans_jax import evaluate, trainer
from gans_jax.families import gan
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.latents import sample_latents
from test_train import experiment, shrink

IMAGE_KEYS = {"fid", "kid", "precision", "recall", "density", "coverage", "classifier_score",
              "fid_train_test"}


def eval_config(name, data_dir, clf_dir=None):
  config = shrink(experiment(name), data_dir, num_steps=4)
  config.dataset.resolution = 16  # the classifier's resolution
  if config.model.arch == "dcgan":
    config.model.conv_impl = "xla"  # the same function (test_nets.py), compiles faster
  config.eval.classifier_dir = clf_dir
  config.eval.num_samples = 400
  config.eval.num_samples_train = 200
  config.eval.batch_size = 200
  config.eval.kid_subsets = 5
  config.eval.truncation_sweep = (0.5,)
  return config


def test_eval_mode_writes_every_image_metric(digits_classifier, data_dir, tmp_path):
  clf_dir, _ = digits_classifier
  config = eval_config("wgan_gp", data_dir, clf_dir)
  config.eval_every = 4
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  rows = [json.loads(l) for l in open(tmp_path / "eval.jsonl")]
  assert [r["step"] for r in rows] == [4] and IMAGE_KEYS <= set(rows[0])
  assert (tmp_path / "eval.png").exists()

  results = evaluate.evaluate(config, str(tmp_path))
  saved = json.load(open(tmp_path / "eval.json"))
  assert saved == results and IMAGE_KEYS <= set(saved)
  assert all(isinstance(v, (int, float)) for v in saved.values())  # flat
  for k in ("precision", "recall", "coverage"):
    assert 0.0 <= saved[k] <= 1.0
  # Salimans et al.'s score in the domain classifier's softmax is named for it (not Inception's).
  assert "inception_score" not in saved
  assert 1.0 <= saved["classifier_score"] <= 10.0 + 1e-4  # between collapse and 10 classes
  # An untrained generator is far from the data; two real samples are not.
  assert saved["fid"] > saved["fid_train_test"] > 0
  sweep = json.load(open(tmp_path / "truncation.json"))
  assert [r["truncation"] for r in sweep] == [0.5, None]
  assert (tmp_path / "truncation_pr.png").exists()


def test_reference_fid_is_the_distance_between_train_and_test_features(digits_classifier,
                                                                       data_dir):
  clf_dir, _ = digits_classifier
  config = eval_config("wgan_gp", data_dir, clf_dir)
  ds = load_dataset("digits", data_dir=data_dir, resolution=16)
  ev = evaluate.Evaluator(config, gan.GAN(config, ds), "image")
  train_f, _ = ev._features(ds.all()["x"])
  # Independent: NumPy mean/cov and scipy's sqrtm.
  mu1, s1 = train_f.mean(0), np.cov(train_f, rowvar=False)
  mu2, s2 = ev.real_features.mean(0), np.cov(ev.real_features, rowvar=False)
  covmean = scipy.linalg.sqrtm(s1.astype(np.float64) @ s2.astype(np.float64)).real
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
  assert ev.fid_train_test == pytest.approx(expected, rel=2e-3)


def test_eval_on_ring8_reports_mode_coverage(data_dir, tmp_path):
  config = shrink(experiment("gan_mlp"), data_dir)
  config.eval.num_samples = 500
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  results = evaluate.evaluate(config, str(tmp_path))
  assert {"modes", "high_quality", "reverse_kl"} <= set(results)
  assert 0 <= results["modes"] <= 8 and 0 <= results["high_quality"] <= 1


def test_eval_without_checkpoint_or_classifier_is_a_user_error(data_dir, tmp_path):
  config = eval_config("wgan_gp", data_dir, str(tmp_path / "no_classifier"))
  with pytest.raises(UserError, match="no checkpoint"):
    evaluate.evaluate(config, str(tmp_path / "empty"))
  config.eval_every = 2
  with pytest.raises(UserError, match=r"classifier_digits\.py"):
    trainer.train_and_evaluate(config, str(tmp_path / "run"), progress=False)


def test_truncated_latents_stay_inside_psi():
  z = sample_latents(jax.random.PRNGKey(0), 4000, 8, truncation=0.5)
  assert float(np.abs(z).max()) <= 0.5
  # Truncated N(0,1) on [-a, a] has variance 1 - 2a phi(a) / (2 Phi(a) - 1).
  a = 0.5
  var = 1 - 2 * a * norm.pdf(a) / (2 * norm.cdf(a) - 1)
  assert float(np.var(z)) == pytest.approx(var, rel=0.05)
  full = sample_latents(jax.random.PRNGKey(0), 4000, 8)
  assert float(np.var(full)) == pytest.approx(1.0, rel=0.05)


def test_conditional_model_reports_conditional_accuracy(digits_classifier, data_dir, tmp_path):
  clf_dir, _ = digits_classifier
  config = eval_config("cgan_digits", data_dir, clf_dir)
  config.eval.truncation_sweep = ()
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  results = evaluate.evaluate(config, str(tmp_path))
  assert 0.0 <= results["conditional_accuracy"] <= 1.0
  assert IMAGE_KEYS <= set(results)
  # Requested labels are balanced over the 10 classes.
  ev = evaluate.Evaluator(config, gan.GAN(
      config, load_dataset("digits", data_dir=data_dir, resolution=16)), "image")
  assert np.bincount(ev.labels(400)).tolist() == [40] * 10


def test_disentanglement_measure_on_a_generator_that_writes_z_into_pixels():
  """G puts z[:, :K] in the first K pixels, the classifier reads them: control is
  known in closed form (NumPy below) and argmax z always matches the class."""
  import types

  import flax.linen as nn
  import jax.numpy as jnp
  from gans_jax.families.classifier import LoadedClassifier

  k, z_dim = 4, 6

  class PixelG(nn.Module):
    @nn.compact
    def __call__(self, z, train=False):
      img = jnp.zeros((z.shape[0], 8 * 8))
      return img.at[:, :k].set(z[:, :k]).reshape(z.shape[0], 8, 8, 1)

  scale = 2.0
  clf = LoadedClassifier(lambda im: (scale * im.reshape(im.shape[0], -1)[:, :k], None),
                         8, k, 1.0)
  family = types.SimpleNamespace(
      z_dim=z_dim, generate=lambda state, z: PixelG().apply({}, z))
  key = jax.random.PRNGKey(0)
  out = gan.disentanglement(family, None, clf, key, 200, value=3.0)
  z = np.asarray(sample_latents(key, 200, z_dim))
  for dim in range(k):
    p = []
    for v in (-3.0, 3.0):
      logits = scale * z[:, :k].copy()
      logits[:, dim] = scale * v
      e = np.exp(logits - logits.max(1, keepdims=True))
      p.append(np.mean(e[:, dim] / e.sum(1)))
    np.testing.assert_allclose(out[f"coordinate_control_{dim}"], p[1] - p[0], rtol=1e-4)
    assert out[f"coordinate_control_{dim}"] > 0.5
  assert out["coordinate_accuracy"] == 1.0


def test_evaluator_wiring_on_a_sampler_that_copies_test_images(digits_classifier, data_dir):
  """End to end through Evaluator with known answers: a 'generator' that returns copies
  of the test images of one digit has precision exactly 1 (every sample is a real
  image) and low recall (nine digits are missed); one that returns every test image
  has precision and recall 1 and FID ~ 0. Swapping real and generated anywhere
  (P/R argument order, which set is the reference) breaks these."""
  import types
  import jax.numpy as jnp

  config = eval_config("wgan_gp", data_dir, digits_classifier[0])
  config.eval.num_samples = 360
  test = load_dataset("digits", split="test", data_dir=data_dir, resolution=16).all()

  def copier(images):
    bank = jnp.asarray(images)
    # z -> one of the bank's images, by the first coordinate (deterministic, uniform-ish).
    pick = lambda z: bank[jnp.floor(jax.scipy.stats.norm.cdf(z[:, 0]) * len(bank)).astype(
        jnp.int32).clip(0, len(bank) - 1)]
    return types.SimpleNamespace(z_dim=4, num_classes=0,
                                 generate=lambda state, z, labels=None: pick(z))

  collapsed = evaluate.Evaluator(config, copier(test["x"][test["y"] == 0]), "image")
  out = collapsed(None, jax.random.PRNGKey(0), 360, full=False)
  assert out["precision"] == 1.0
  assert out["recall"] < 0.35, out
  assert out["fid"] > 3 * out["fid_train_test"]

  # The whole test split, in order, in one batch: the reference set itself.
  config.eval.batch_size = 360
  bank = jnp.asarray(test["x"])
  itself = types.SimpleNamespace(z_dim=4, num_classes=0,
                                 generate=lambda state, z, labels=None: bank[:z.shape[0]])
  out = evaluate.Evaluator(config, itself, "image")(None, jax.random.PRNGKey(0), 360,
                                                    full=False)
  assert out["precision"] == 1.0 and out["recall"] == 1.0, out
  assert abs(out["fid"]) < 1e-2 * out["fid_train_test"], out


class _Head:
  """A dataset cut to its first `n` examples (keeps Inception on a CPU cheap)."""

  def __init__(self, dataset, n):
    self.dataset, self.n = dataset, n

  def all(self):
    return {k: v[:self.n] for k, v in self.dataset.all().items()}


def test_inception_features_score_eval_as_the_fid_command_does(
    digits_classifier, data_dir, random_inception_npz, tmp_path, monkeypatch, capsys):
  """eval.features=inception: the Evaluator's fid_train_test is what `python -m gans_jax.fid`
  gives for folders of the same train and test images, in the same Inception features; a
  conditional sampler's conditional_accuracy stays the domain classifier's. Kept small for a
  CPU: random weights at 75x75, the first 48 images of each split, the first 64 of the 2048
  features (a 2048-d FID alone takes a minute on a loaded CPU)."""
  import types
  import jax.numpy as jnp
  from gans_jax import features, fid
  from gans_jax.families.classifier import load_classifier
  from gans_jax.image_files import to_uint8, write_png
  from gans_jax.nets import inception

  monkeypatch.setattr(inception, "INPUT_SIZE", 75)
  full = features.InceptionFeatures.__call__
  monkeypatch.setattr(features.InceptionFeatures, "__call__",
                      lambda self, x: (lambda f, p: (f[:, :64], p))(*full(self, x)))
  real_load = evaluate.load_dataset
  monkeypatch.setattr(evaluate, "load_dataset", lambda *a, **k: _Head(real_load(*a, **k), 48))
  clf_dir, _ = digits_classifier
  config = eval_config("wgan_gp", data_dir, clf_dir)
  config.eval.features, config.eval.inception_path = "inception", random_inception_npz
  test = real_load("digits", split="test", data_dir=data_dir, resolution=16).all()
  # A conditional "generator" returning the first test image of the requested class.
  bank = jnp.asarray(np.stack([test["x"][test["y"] == c][0] for c in range(10)]))
  sampler = types.SimpleNamespace(z_dim=4, num_classes=10,
                                  generate=lambda state, z, labels: bank[labels])
  ev = evaluate.Evaluator(config, sampler, "image")
  assert isinstance(ev.extractor, features.InceptionFeatures)

  folders = []
  for split in ("train", "test"):
    x = _Head(real_load("digits", split=split, data_dir=data_dir, resolution=16), 48).all()["x"]
    folders.append(tmp_path / split)
    os.makedirs(folders[-1])
    for i, image in enumerate(to_uint8(x)):
      write_png(str(folders[-1] / f"{i}.png"), image)
  assert fid.main([str(f) for f in folders] +
                  ["--features", "inception", "--inception_path", random_inception_npz]) == 0
  assert json.loads(capsys.readouterr().out)["fid"] == pytest.approx(ev.fid_train_test, rel=1e-3)

  key = jax.random.PRNGKey(0)
  out = ev(None, key, 20)
  samples = ev.samples(None, key, 20)
  predicted = np.argmax(np.asarray(load_classifier(clf_dir).apply(samples)[0]), -1)
  assert out["conditional_accuracy"] == np.mean(predicted == ev.labels(20))
  assert 1.0 <= out["inception_score"] <= 1008.0 and "classifier_score" not in out
  assert IMAGE_KEYS - {"classifier_score"} <= set(out)


def test_missing_inception_weights_name_eval_inception_path(tmp_path):
  config = eval_config("wgan_gp", str(tmp_path))
  config.eval.features, config.eval.inception_path = "inception", str(tmp_path / "w.pth")
  with pytest.raises(UserError, match=r"^eval\.inception_path: no file at .*w\.pth"):
    evaluate.feature_extractor(config)
