"""The digits domain classifier: trains to >= 97 % test accuracy, saves, loads back."""

import numpy as np
import pytest

from gans_jax.families.classifier import load_classifier
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
