"""The digits domain classifier: trains to >= 97 % test accuracy, saves, loads back."""

import numpy as np
import pytest

from gans_jax.data.idx import FASHION_MNIST
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
