"""Shared fixtures: one prepared TFDS data_dir for the whole test session."""

import importlib

import pytest

from gans_jax.classifier import train_classifier


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
  """Embedded datasets are prepared here once (a few seconds) and reused by every test."""
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def digits_classifier(data_dir, tmp_path_factory):
  config = importlib.import_module("experiments.classifier_digits").get_config()
  config.dataset.data_dir = data_dir
  config.train.num_steps = 300  # the default 1500 gives the same accuracy band; 300 keeps CI fast
  workdir = str(tmp_path_factory.mktemp("classifier_digits"))
  meta = train_classifier(config, workdir, progress=False)
  return workdir, meta
