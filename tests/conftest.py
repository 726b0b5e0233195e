"""Shared fixtures and one per-session directory shared by the xdist workers.

The session directory holds an XLA compilation cache and the digits classifier:
many tests compile the same tiny programs (the same shrunk configs) and several
need the classifier; both are made once per session instead of once per worker
and test. The directory starts empty every session, so a local run takes what a
clean CI run takes. The controller creates it before the workers start (they and
every subprocess a test starts inherit the environment) and removes it at the end.

The session also compiles with LLVM's optimisation level 1 instead of XLA:CPU's
default (unless XLA_FLAGS already names a level): the suite's tiny programs
spend most of their time compiling, partitionable threefry's hash above all
(jax.random.uniform of 144 numbers: 2.4 s at the default, 0.3 s at level 1), and
level 1 took three of the suite's files from 407 s to 325 s. The tests' expectations
do not depend on it: NumPy references within tolerances, and exact equality only
between programs compiled in the same session.
"""

import fcntl
import importlib
import json
import os
import shutil
import tempfile

import pytest

from gans_jax.families.classifier import META_FILE

_SESSION_ENV = "GANS_JAX_TEST_SESSION_DIR"


def pytest_configure(config):
  if hasattr(config, "workerinput") or _SESSION_ENV in os.environ:
    return  # an xdist worker: it inherits the controller's directory
  config._session_dir = tempfile.mkdtemp(prefix="gans_jax_tests_")
  os.environ[_SESSION_ENV] = config._session_dir
  if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=1").strip()
  if "JAX_COMPILATION_CACHE_DIR" in os.environ:
    return  # a cache the user chose
  cache = {"JAX_COMPILATION_CACHE_DIR": os.path.join(config._session_dir, "xla_cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
  os.environ.update(cache)
  # This process imported jax already (its env was read then); without xdist it runs the tests.
  import jax
  for name, value in cache.items():
    jax.config.update(name.lower(), value if name.endswith("DIR") else 0)


def pytest_unconfigure(config):
  directory = getattr(config, "_session_dir", None)
  if directory:
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
  """Embedded datasets are prepared here once (a few seconds) and reused by every test."""
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def digits_classifier(data_dir, tmp_path_factory):
  """Trained once per session: the first worker to need it trains it, the other waits."""
  shared = os.environ.get(_SESSION_ENV) or str(tmp_path_factory.mktemp("shared"))
  workdir = os.path.join(shared, "classifier_digits")
  with open(workdir + ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if os.path.exists(os.path.join(workdir, META_FILE)):
      with open(os.path.join(workdir, META_FILE)) as f:
        return workdir, json.load(f)
    config = importlib.import_module("experiments.classifier_digits").get_config()
    config.dataset.data_dir = data_dir
    config.train.num_steps = 500  # the default 1500 gives the same accuracy band; 500 keeps CI fast
    from gans_jax.trainer import train_and_evaluate
    train_and_evaluate(config, workdir, progress=False)
    with open(os.path.join(workdir, META_FILE)) as f:
      return workdir, json.load(f)


@pytest.fixture(scope="session")
def random_inception_npz(tmp_path_factory):
  """Randomly initialised FID Inception weights in the converted .npz format (no real
  weights exist offline): they exercise the weight-file path, not the real features."""
  import numpy as np
  from gans_jax.nets import inception
  from test_inception import _random_variables
  path = str(tmp_path_factory.mktemp("inception") / "random_inception.npz")
  np.savez(path, **inception.variables_to_torch_state_dict(_random_variables(seed=0)))
  return path
