"""--mode=edit end to end, its one-line errors, the conditional generator's class-vector input,
and the per-class metrics --mode=eval adds for conditional generators.

The editing math itself (gradients against finite differences, frozen
parameters, the keep-others penalty, slerp norms, directions) is proven in
test_latents.py; here the mode's plumbing, and numbers recomputed in NumPy from
the files it writes.
"""

import json
import os
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from gans_jax import evaluate
from gans_jax.checkpoint import Checkpointer
from gans_jax.families import check_config, gan
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.nets.conditional import ConditionalDCGANGenerator
from test_conditional_nets import _variables
from test_launch import launch
from test_train import experiment, shrink

SCALES = (2.0, 8.0)
EDIT_FLAGS = ["--config.edit.num_samples=24", "--config.edit.batch_size=16",
              "--config.edit.num_steps=3", "--config.edit.step_size=0.5",
              "--config.edit.num_interpolations=2", "--config.edit.interpolation_steps=3",
              f"--config.edit.direction_scales={SCALES}"]
PNGS = ("edit_before_after.png", "edit_trajectory.png", "direction_transfer.png",
        "interpolation_lerp.png", "interpolation_slerp.png", "latent_arithmetic.png")


def _save_random_checkpoint(config, data_dir, workdir):
  """A step-0 checkpoint of random networks: editing's plumbing needs a generator, not a
  trained one, and drawing the values in NumPy skips compiling initialisers or a train step."""
  ds = load_dataset(config.dataset.name, data_dir=data_dir, resolution=config.dataset.resolution)
  shapes = jax.eval_shape(gan.GAN(config, ds).init_state, jax.random.PRNGKey(0))
  rng = np.random.default_rng(0)

  def draw(path, leaf):
    name = jax.tree_util.keystr(path)
    if not jnp.issubdtype(leaf.dtype, jnp.floating):
      value = np.zeros(leaf.shape)
    elif name.endswith(("['var']", "['scale']")):
      value = np.ones(leaf.shape)
    elif name.endswith("['kernel']"):
      value = rng.normal(size=leaf.shape) / np.sqrt(np.prod(leaf.shape[:-1]))
    else:
      value = 0.1 * rng.normal(size=leaf.shape)
    return jnp.asarray(value, leaf.dtype)

  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), 1)
  ckpt.save(jax.tree_util.tree_map_with_path(draw, shapes))
  ckpt.close()


@pytest.fixture(scope="module")
def tiny_cgan(data_dir, digits_classifier, tmp_path_factory):
  """A conditional generator (8x8, widths 8) checkpoint and the launch flags that match it."""
  clf_dir, _ = digits_classifier
  config = shrink(experiment("cgan_digits"), data_dir)
  workdir = str(tmp_path_factory.mktemp("cgan_edit"))
  _save_random_checkpoint(config, data_dir, workdir)
  flags = ["--config", "experiments/cgan_digits.py", f"--config.dataset.data_dir={data_dir}",
           f"--config.eval.classifier_dir={clf_dir}", "--config.dataset.resolution=8",
           "--config.model.g_width=8", "--config.model.d_width=8"]
  return workdir, flags


def _one_error_line(result) -> str:
  assert result.returncode == 2, result.stderr
  assert "Traceback" not in result.stderr
  lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1, result.stderr
  return lines[0]


def test_edit_mode_writes_edit_json_pngs_and_a_direction(tiny_cgan):
  workdir, flags = tiny_cgan
  result = launch(*flags, "--workdir", workdir, "--mode=edit", "--config.edit.target=7",
                  "--config.edit.space=input", *EDIT_FLAGS)
  assert result.returncode == 0, result.stderr
  saved = json.load(open(os.path.join(workdir, "edit.json")))
  assert saved["target"] == 7 and saved["space"] == "input" and saved["num_steps"] == 3
  # It ends with its headline and the files it wrote.
  assert f"edit success {saved['success_rate']:.3f}: {saved['num_edited']} samples" in result.stdout
  wrote = [l for l in result.stdout.splitlines() if l.startswith(f"wrote in {workdir}: ")]
  assert len(wrote) == 1 and all(name in wrote[0] for name in PNGS + ("edit.json",)), wrote
  assert saved["num_edited"] + saved["num_dropped"] == 24 and saved["num_edited"] >= 1
  for key in ("success_rate", "non_target_change"):
    assert 0.0 <= saved[key] <= 1.0, key
  assert np.isfinite(saved["mean_dz_norm"]) and saved["mean_dz_norm"] > 0
  assert -1.0 <= saved["target_prob_gain"] <= 1.0
  assert saved["non_target_logit_change"] >= 0
  # The whole generator input moved: z (64) and the class vector (10), from onehot(y).
  direction = np.load(os.path.join(workdir, "edit_direction.npy"))
  assert direction.shape == (64 + 10,) and np.all(np.isfinite(direction))
  assert saved["direction_norm"] == pytest.approx(np.linalg.norm(direction), rel=1e-5)
  # Every moved latent is z + s d, so it moved by exactly s |d|.
  for s in SCALES:
    assert saved[f"transfer_mean_dz_norm_s{s:g}"] == pytest.approx(
        s * np.linalg.norm(direction), rel=1e-4)
    assert 0.0 <= saved[f"transfer_success_rate_s{s:g}"] <= 1.0
  for name in PNGS:
    assert os.path.getsize(os.path.join(workdir, name)) > 0, name


@pytest.mark.parametrize("override,expected", [
    ("--config.edit.target=12", "edit.target"),                     # digits are 0..9
    ("--config.edit.direction_path=/no/such/direction.npy", "edit.direction_path"),
])
def test_bad_edit_option_is_one_line_naming_the_field_and_exit_2(tiny_cgan, override,
                                                                 expected):
  workdir, flags = tiny_cgan
  result = launch(*flags, "--workdir", workdir, "--mode=edit", override, *EDIT_FLAGS)
  assert expected in _one_error_line(result)


@pytest.mark.parametrize("field,value", [
    ("target", -1), ("num_steps", 0), ("step_size", 0.0), ("keep_others", -0.1),
    ("objective", "probability"), ("space", "w"), ("direction_scales", ()),
])
def test_bad_edit_config_is_a_user_error_naming_the_field(field, value):
  config = experiment("cgan_digits")
  config.edit[field] = value
  with pytest.raises(UserError, match=f"edit.{field}"):
    check_config(config)


def test_edit_without_checkpoint_is_exit_2(tiny_cgan, tmp_path):
  _, flags = tiny_cgan
  result = launch(*flags, "--workdir", str(tmp_path), "--mode=edit")
  assert "no checkpoint" in _one_error_line(result)


def test_float_one_hot_class_vector_equals_int_labels_exactly():
  g = ConditionalDCGANGenerator(resolution=8, channels=1, width=4, num_classes=3)
  z = jnp.asarray(np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32))
  labels = np.array([2, 0, 1, 2], np.int32)
  variables = _variables(g, z, jnp.asarray(labels))
  onehot = np.eye(3, dtype=np.float32)[labels]  # built here, not by jax.nn.one_hot
  np.testing.assert_array_equal(g.apply(variables, z, jnp.asarray(onehot), train=False),
                                g.apply(variables, z, jnp.asarray(labels), train=False))
  # A non-one-hot vector is a different input (it is used, not re-encoded).
  mixed = g.apply(variables, z, jnp.asarray(0.5 * onehot + 0.5 * onehot[::-1]), train=False)
  assert float(jnp.max(jnp.abs(mixed - g.apply(variables, z, jnp.asarray(labels),
                                               train=False)))) > 1e-6
  with pytest.raises(AssertionError):  # [B, K + 1]: not a class vector of this generator
    g.apply(variables, z, jnp.zeros((4, 4), jnp.float32), train=False)


def test_per_class_metrics_against_numpy_fid_and_hand_counts():
  """Two classes with hand-made features: FID by scipy's sqrtm, accuracy by counting."""
  rng = np.random.default_rng(0)
  dim, k = 3, 2
  real = rng.normal(size=(40, dim)).astype(np.float32)
  real_labels = np.repeat([0, 1], 20)
  fake = np.concatenate([real[:20], real[20:] + 2.0])  # class 0: the real ones; class 1: shifted
  fake_labels = np.repeat([0, 1], 20)
  probs = np.zeros((40, k), np.float32)
  probs[np.arange(40), np.r_[np.zeros(15, int), np.ones(5, int), np.ones(20, int)]] = 1.0
  ev = evaluate.Evaluator.__new__(evaluate.Evaluator)  # the data, not the classifier
  ev.sampler = types.SimpleNamespace(z_dim=4, num_classes=k)
  ev.config = experiment("cgan_digits")
  ev.real_features, ev.real_labels = real, real_labels
  ev.train_features, ev.train_labels = real, real_labels
  out = ev.per_class_metrics(fake, probs, fake_labels)

  def fid(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2)
            - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real))

  assert out["fid_class_0"] == pytest.approx(0.0, abs=1e-3)
  assert out["fid_class_1"] == pytest.approx(fid(fake[20:], real[20:]), rel=1e-3)
  assert out["fid_class_1"] == pytest.approx(dim * 2.0 ** 2, rel=1e-3)  # a pure shift
  assert out["fid_train_test_class_1"] == pytest.approx(0.0, abs=1e-3)
  assert out["accuracy_class_0"] == 15 / 20 and out["accuracy_class_1"] == 1.0
  assert out["precision_class_0"] == 1.0 and out["recall_class_0"] == 1.0
