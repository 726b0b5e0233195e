"""Shared fixtures: one prepared TFDS data_dir for the whole test session."""

import pytest


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
  """Embedded datasets are prepared here once (a few seconds) and reused by every test."""
  return str(tmp_path_factory.mktemp("tfds"))
