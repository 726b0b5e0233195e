"""The digits domain classifier: trains to >= 97 % test accuracy, saves, loads back."""

import chex
import jax
import numpy as np
import pytest

from gans_jax.data.idx import FASHION_MNIST
from gans_jax.families import classifier
from gans_jax.families.base import load_config_dataset
from gans_jax.families.classifier import default_classifier_dir, load_classifier, train_command
from gans_jax.data import load_dataset
from gans_jax.errors import UserError


def test_classifier_reaches_97_percent_on_held_out_digits(digits_classifier, data_dir):
  workdir, meta = digits_classifier
  assert meta["test_accuracy"] >= 0.97, meta
  # Recount the accuracy from the loaded classifier, independently of the trainer.
  clf = load_classifier(workdir, "digits")
  test = load_dataset("digits", split="test", data_dir=data_dir, resolution=clf.resolution).all()
  logits, features = clf.apply(test["x"])
  predicted = np.argmax(np.asarray(logits), -1)
  assert len(predicted) == 360
  assert np.mean(predicted == test["y"]) == pytest.approx(meta["test_accuracy"])
  assert features.shape == (360, meta["feature_dim"])


def test_missing_classifier_names_the_command_that_trains_it(tmp_path):
  with pytest.raises(UserError, match=r"experiments/classifier_digits\.py"):
    load_classifier(str(tmp_path / "nothing"), "digits")


@pytest.mark.parametrize("name, directory", [
    ("digits", "runs/classifier_digits"),
    ("idx:/usr/share/datasets/fashion-mnist", "runs/classifier_idx_fashion_mnist"),
    ("idx:/data/kmnist/", "runs/classifier_idx_kmnist"),
    ("folder:~/my pets", "runs/classifier_folder_my_pets"),
])
def test_each_dataset_has_a_readable_default_classifier_dir(name, directory):
  assert default_classifier_dir(name) == directory


def test_the_missing_classifier_error_is_the_exact_command_for_the_dataset(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # runs/ relative to an empty directory
  with pytest.raises(UserError, match=r"train it with: python launch\.py --config "
                     r"experiments/classifier_digits\.py --config\.dataset\.name=idx:/d/kmnist "
                     r"--config\.dataset\.resolution=28 --workdir runs/classifier_idx_kmnist$"):
    load_classifier("runs/classifier_idx_kmnist", "idx:/d/kmnist", resolution=28)
  # Fashion-MNIST has its own experiment, whose default workdir is the classifier's directory.
  with pytest.raises(UserError, match=r"train it with: python launch\.py --config "
                     r"experiments/classifier_fashion\.py$"):
    load_classifier("runs/classifier_fashion", FASHION_MNIST)
  assert (train_command(FASHION_MNIST, "runs/classifier_fashion")
          == "python launch.py --config experiments/classifier_fashion.py")
  assert (train_command("digits", "elsewhere")
          == "python launch.py --config experiments/classifier_digits.py --workdir elsewhere")


def _one_step(config, data, policy):
  """The classifier's state after one step on `data` (resident) with augment.policy `policy`."""
  config.augment.policy = policy
  family = classifier.Classifier(config, load_config_dataset(config))
  init = family.init_fn()
  state = init(jax.random.PRNGKey(0))
  new, _ = jax.jit(family.step_fn(resident=True))(state, data, jax.random.PRNGKey(1))
  return jax.device_get(new.net.params)


def test_the_classifier_trains_on_flipped_images_when_asked_and_keeps_its_other_draws(data_dir):
  config = classifier.default_config()
  config.dataset.data_dir = data_dir
  config.dataset.resolution = 8
  config.train.batch_size = 16
  config.model.width = 4
  config.model.feature_dim = 8
  config.model.dropout = 0.5
  rng = np.random.default_rng(0)
  left = rng.uniform(-1, 1, size=(40, 8, 4, 1)).astype(np.float32)
  symmetric = np.concatenate([left, left[:, :, ::-1]], axis=2)   # mirror images of themselves
  skewed = np.concatenate([left, -left], axis=2)
  y = rng.integers(0, 10, size=40).astype(np.int32)
  # On mirror-symmetric images a flip changes nothing: the same data draw and dropout masks give the
  # same step; on other images it changes the step.
  plain = _one_step(config, {"x": symmetric, "y": y}, "")
  chex.assert_trees_all_equal(plain, _one_step(config, {"x": symmetric, "y": y}, "flip"))
  with pytest.raises(AssertionError):
    chex.assert_trees_all_close(_one_step(config, {"x": skewed, "y": y}, ""),
                                _one_step(config, {"x": skewed, "y": y}, "flip"))


def test_the_classifier_names_a_bad_augmentation_or_schedule():
  config = classifier.default_config()
  config.augment.policy = "flip,zoom"
  with pytest.raises(UserError, match=r"^augment\.policy: unknown augmentation 'zoom'"):
    classifier.check_config(config)
  config.augment.policy = "flip"
  config.optimizer.schedule = "step"
  with pytest.raises(UserError, match=r"^optimizer\.schedule: 'step' is not one of"):
    classifier.check_config(config)
