"""The semi-supervised K+1 GAN family (families.ssgan); its losses are tested in test_losses.py."""

import importlib
import json
import os
import shutil

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import evaluate, families, trainer
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.families import ssgan
from gans_jax.nets.semi_supervised import ConvClassifier


def tiny(data_dir, num_steps=4):
  config = importlib.import_module("experiments.ssgan_digits").get_config()
  config.dataset.data_dir = data_dir
  config.model.g_hidden = (16,)
  config.model.d_hidden = (32, 16)
  config.model.z_dim = 8
  config.train.num_steps = num_steps
  config.train.batch_size = config.train.labeled_batch_size = 16
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_images = 16
  config.eval.num_samples = 200
  config.eval.truncation_sweep = ()
  return config


@pytest.fixture(scope="module")
def digits(data_dir):
  return load_dataset("digits", data_dir=data_dir, resolution=8)


def test_labelled_subset_is_class_balanced_disjoint_and_drawn_from_the_key(digits):
  y = digits.all()["y"]
  choose = jax.jit(lambda k: ssgan.choose_labeled(k, y, 5))
  labeled, unlabeled = map(np.asarray, choose(jax.random.PRNGKey(0)))
  np.testing.assert_array_equal(np.bincount(y[labeled], minlength=10), np.full(10, 5))
  assert len(set(labeled)) == 50
  np.testing.assert_array_equal(np.sort(np.concatenate([labeled, unlabeled])), np.arange(len(y)))
  again, _ = choose(jax.random.PRNGKey(0))
  other, _ = choose(jax.random.PRNGKey(1))
  np.testing.assert_array_equal(again, labeled)
  assert set(np.asarray(other)) != set(labeled)


@pytest.mark.parametrize("num_labeled, message", [
    (55, r"^dataset\.num_labeled: 55 does not divide into the 10 classes"),
    (1440, r"^dataset\.num_labeled: 1440 is too large for the 1437-image train split"),
])
def test_num_labeled_that_does_not_fit_the_train_split_is_one_error(num_labeled, message,
                                                                     data_dir, digits):
  config = tiny(data_dir)
  config.dataset.num_labeled = num_labeled
  families.check_config(config)
  with pytest.raises(UserError, match=message):
    ssgan.SSGAN(config, digits)


def test_bad_ssgan_fields_and_unlabelled_data_are_errors_naming_the_field(data_dir):
  config = tiny(data_dir)
  config.dataset.num_labeled = 0
  with pytest.raises(UserError, match=r"^dataset\.num_labeled: must be an integer >= 1"):
    families.check_config(config)
  config = tiny(data_dir)
  config.model.arch = "dcgan"
  with pytest.raises(UserError, match=r"^model\.arch: 'dcgan' is not one of mlp"):
    families.check_config(config)
  with pytest.raises(UserError, match=r"^dataset\.name: the ssgan family needs a labelled image"):
    ssgan.SSGAN(tiny(data_dir), load_dataset("ring8", data_dir=data_dir))


def test_step_reads_labels_of_the_labelled_subset_only(data_dir, digits):
  fam = ssgan.SSGAN(tiny(data_dir), digits)
  arrays = digits.all()
  data = {"x": jnp.asarray(arrays["x"]), "y": jnp.asarray(arrays["y"])}
  state = fam.init_state(jax.random.PRNGKey(0))
  step = jax.jit(fam.step_fn(resident=True))
  _one_step = lambda fam, data: (state, step(state, data, jax.random.PRNGKey(1))[0])
  _, after = _one_step(fam, data)
  labeled = np.asarray(state.labeled_idx)
  others = np.setdiff1d(np.arange(len(arrays["y"])), labeled)
  scrambled = arrays["y"].copy()
  scrambled[others] = (scrambled[others] + 3) % 10
  _, same = _one_step(fam, {**data, "y": jnp.asarray(scrambled)})
  chex.assert_trees_all_equal(same.d.params, after.d.params)
  flipped = arrays["y"].copy()
  flipped[labeled] = (flipped[labeled] + 3) % 10
  _, moved = _one_step(fam, {**data, "y": jnp.asarray(flipped)})
  assert not np.allclose(moved.d.params["Dense_2"]["kernel"], after.d.params["Dense_2"]["kernel"])


def test_supervised_baseline_fits_the_labelled_subset_and_ignores_the_rest(data_dir, digits):
  config = tiny(data_dir, num_steps=150)
  # Without noise and with a larger step, 150 steps fit the 50 labelled digits.
  config.model.input_noise = config.model.hidden_noise = 0.0
  config.optimizer.d.learning_rate = 1e-2
  fam = ssgan.SSGAN(config, digits)
  state = fam.init_state(ssgan.base_init_key(config.seed))
  baseline = fam.supervised_baseline(state, ssgan.base_init_key(config.seed))
  x, y = digits.all()["x"], digits.all()["y"]
  idx = np.asarray(state.labeled_idx)
  pred = np.argmax(np.asarray(fam.classify(baseline.params, x[idx])), -1)
  assert np.mean(pred == y[idx]) == 1.0
  assert int(baseline.step) == 150
  # Its test accuracy is the argmax against the test labels, computed here.
  test = load_dataset("digits", split="test", data_dir=data_dir, resolution=8).all()
  manual = np.mean(np.argmax(np.asarray(fam.classify(baseline.params, test["x"])), -1)
                   == test["y"])
  assert fam.test_accuracy(baseline.params) == pytest.approx(manual)


def test_ssgan_resumes_exactly_and_eval_writes_accuracies(data_dir, digits_classifier,
                                                          tmp_path):
  config = tiny(data_dir)
  config.eval.classifier_dir = digits_classifier[0]
  full = trainer.train_and_evaluate(config, str(tmp_path / "full"), progress=False)
  # The interrupted run: the full run's workdir as it was at step 2, continued to step 4.
  shutil.copytree(tmp_path / "full", tmp_path / "resumed")
  shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "4")
  resumed = trainer.train_and_evaluate(tiny(data_dir), str(tmp_path / "resumed"),
                                       progress=False)
  assert int(resumed.step) == 4
  chex.assert_trees_all_equal(flax.serialization.to_state_dict(jax.device_get(resumed)),
                              flax.serialization.to_state_dict(jax.device_get(full)))
  results = evaluate.evaluate(config, str(tmp_path / "full"))
  with open(tmp_path / "full" / "eval.json") as f:
    written = json.load(f)
  assert written == results
  assert written["num_labeled"] == 50
  assert 0 <= written["test_accuracy"] <= 1 and 0 <= written["supervised_baseline_accuracy"] <= 1
  assert np.isfinite(written["fid"])
  assert os.path.exists(tmp_path / "full" / "samples" / "step_0000004.png")


# ----------------------------------------------------------------------------- arch 'conv'


def tiny_conv(data_dir, num_steps=4):
  config = tiny(data_dir, num_steps)
  config.model.arch = "conv"
  config.dataset.resolution = 16
  config.model.d_width = config.model.g_width = 4
  config.model.input_noise = config.model.hidden_noise = 0.0  # the paper's CIFAR model
  return config


@pytest.mark.parametrize("channels", [1, 3])
def test_conv_discriminator_gives_k_logits_and_pooled_2w_features(channels):
  d = ConvClassifier(num_classes=10, width=4)
  x = jax.random.uniform(jax.random.PRNGKey(0), (3, 16, 16, channels), minval=-1, maxval=1)
  variables = d.init(jax.random.PRNGKey(1), x, train=False)
  rngs = {"noise": jax.random.PRNGKey(2), "dropout": jax.random.PRNGKey(3)}
  for train in (False, True):
    logits, features = d.apply(variables, x, train=train, rngs=rngs)
    chex.assert_shape(logits, (3, 10))
    chex.assert_shape(features, (3, 8))
    chex.assert_tree_all_finite((logits, features))
  # Nine convolutions and the dense layer, each weight-normalised.
  assert len([k for k in variables["params"] if k.startswith("WeightNorm_")]) == 10
  with pytest.raises(ValueError, match="side of at least 12"):
    d.init(jax.random.PRNGKey(1), x[:, :8, :8], train=False)


def test_conv_discriminator_is_deterministic_in_inference_and_dropout_draws_its_stream():
  d = ConvClassifier(num_classes=5, width=4)
  x = jax.random.uniform(jax.random.PRNGKey(0), (4, 16, 16, 1), minval=-1, maxval=1)
  variables = d.init(jax.random.PRNGKey(1), x, train=False)
  apply = lambda drop, noise=0, **kw: d.apply(
      variables, x, rngs={"dropout": jax.random.PRNGKey(drop),
                          "noise": jax.random.PRNGKey(noise)}, **kw)[0]
  infer = d.apply(variables, x, train=False)[0]
  chex.assert_trees_all_equal(apply(7, train=False), infer)
  chex.assert_trees_all_equal(apply(8, 9, train=False), infer)
  chex.assert_trees_all_equal(apply(7), apply(7))
  chex.assert_trees_all_equal(apply(7, 0), apply(7, 1))  # no Gaussian noise by default
  assert not np.allclose(apply(7), apply(8))
  assert not np.allclose(apply(7), infer)
  # Without dropout (and noise) training mode is the inference function.
  no_drop = ConvClassifier(num_classes=5, width=4, input_dropout=0.0, hidden_dropout=0.0)
  chex.assert_trees_all_close(no_drop.apply(variables, x, train=True)[0], infer, atol=1e-6)


def test_conv_ssgan_trains_with_finite_losses_resumes_exactly_and_has_a_baseline(data_dir,
                                                                               tmp_path):
  full = trainer.train_and_evaluate(tiny_conv(data_dir), str(tmp_path / "full"), progress=False)
  # The interrupted run: the full run's workdir as it was at step 2 (its checkpoint there, the
  # step-4 one gone), continued to step 4. One training fewer than a separate 2-step run.
  shutil.copytree(tmp_path / "full", tmp_path / "resumed")
  shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "4")
  os.remove(tmp_path / "resumed" / "samples" / "step_0000002.png")
  resumed = trainer.train_and_evaluate(tiny_conv(data_dir), str(tmp_path / "resumed"),
                                       progress=False)
  # It resumed after step 2 (a run from scratch would have drawn step 2's grid again).
  assert sorted(os.listdir(tmp_path / "resumed" / "samples")) == ["step_0000004.png"]
  chex.assert_trees_all_equal(flax.serialization.to_state_dict(jax.device_get(resumed)),
                              flax.serialization.to_state_dict(jax.device_get(full)))
  rows = [json.loads(l) for l in open(tmp_path / "full" / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [2, 4]
  for key in ssgan.SSGAN.progress_keys:
    assert all(np.isfinite(r[key]) for r in rows), key
  assert "ConvTranspose_1" in full.g.params and "WeightNorm_9" in full.d.params
  fam = ssgan.SSGAN(tiny_conv(data_dir), load_dataset("digits", data_dir=data_dir,
                                                      resolution=16))
  results = fam.eval_metrics(jax.device_get(full), None, None)
  assert 0 <= results["supervised_baseline_accuracy"] <= 1 and 0 <= results["test_accuracy"] <= 1
  chex.assert_shape(fam.generate(full, jnp.zeros((2, 8))), (2, 16, 16, 1))


@pytest.mark.parametrize("field, value, message", [
    ("dataset.resolution", 8, r"^dataset\.resolution: model\.arch='conv' needs square images "
                              r"of side 16, 32 or 64, got 8; set dataset\.resolution"),
    ("dataset.resolution", None, r"^dataset\.resolution: model\.arch='conv' needs square"),
    ("model.d_width", 0, r"^model\.d_width: must be an integer >= 1, got 0"),
    ("model.hidden_dropout", 1.0, r"^model\.hidden_dropout: must be in \[0, 1\), got 1\.0"),
    ("model.conv_impl", "fft", r"^model\.conv_impl: 'fft' is not one of auto"),
])
def test_bad_conv_fields_are_one_error_naming_the_field(field, value, message, data_dir):
  config = tiny_conv(data_dir)
  families.check_config(config)
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(UserError, match=message):
    families.check_config(config)


def test_conv_arch_on_points_is_an_error_naming_the_dataset(data_dir):
  with pytest.raises(UserError, match=r"^dataset\.name: model\.arch='conv' needs images, but "
                                      r"'ring8' holds points; use a labelled image dataset"):
    ssgan.SSGAN(tiny_conv(data_dir), load_dataset("ring8", data_dir=data_dir))
