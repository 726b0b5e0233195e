"""Shared fixtures: one prepared TFDS data_dir for the whole test session."""

import importlib
import os
import shutil
import tempfile

import pytest

_CACHE_ENV = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def pytest_configure(config):
  """One XLA compilation cache for this test session, shared by the xdist workers
  and the subprocesses tests start (launch.py, the 4-device and multi-host runs).

  Many tests compile the same tiny programs (the same shrunk configs); the cache
  compiles each once. It starts empty every session, so a local run takes what a
  clean CI run takes; the controller creates it before the workers start (they and
  every subprocess inherit the environment) and removes it at the end.
  """
  if hasattr(config, "workerinput") or "JAX_COMPILATION_CACHE_DIR" in os.environ:
    return  # an xdist worker (inherits the controller's cache) or a cache the user chose
  config._xla_cache_dir = tempfile.mkdtemp(prefix="gans_jax_xla_cache_")
  os.environ.update({"JAX_COMPILATION_CACHE_DIR": config._xla_cache_dir, **_CACHE_ENV})
  # This process imported jax already (its env was read then): without xdist it runs the tests.
  import jax
  jax.config.update("jax_compilation_cache_dir", config._xla_cache_dir)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
  directory = getattr(config, "_xla_cache_dir", None)
  if directory:
    shutil.rmtree(directory, ignore_errors=True)
    del os.environ["JAX_COMPILATION_CACHE_DIR"]

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
