"""Training, saving and loading the per-dataset domain classifier used by evaluation.

`python launch.py --config experiments/classifier_digits.py` calls
`train_classifier(config, workdir)`, which writes an orbax checkpoint of the
parameters and `classifier.json` (architecture, resolution, test accuracy) to
the workdir. `load_classifier(dir)` gives back a jitted function
``images -> (logits, features)``.
"""

import json
import os
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.nets.classifier import Classifier

META_FILE = "classifier.json"


class LoadedClassifier(NamedTuple):
  apply: Callable  # images [B, R, R, C] in [-1, 1] -> (logits [B, K], features [B, F])
  resolution: int
  num_classes: int
  test_accuracy: float


def check_classifier_config(config: ml_collections.ConfigDict) -> None:
  for field in ("train.num_steps", "train.batch_size"):
    section, key = field.split(".")
    if config[section][key] < 1:
      raise UserError(f"{field}: must be >= 1, got {config[section][key]}")
  if config.optimizer.learning_rate <= 0:
    raise UserError(f"optimizer.learning_rate: must be > 0, got {config.optimizer.learning_rate}")


def _module(meta: dict) -> Classifier:
  return Classifier(num_classes=meta["num_classes"], width=meta["width"],
                    feature_dim=meta["feature_dim"], dropout=meta["dropout"])


def accuracy(apply_fn, params, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
  correct = 0
  for i in range(0, len(x), batch):
    logits, _ = apply_fn({"params": params}, x[i:i + batch])
    correct += int(jnp.sum(jnp.argmax(logits, -1) == y[i:i + batch]))
  return correct / len(x)


def train_classifier(config: ml_collections.ConfigDict, workdir: str, *,
                     progress: bool = True) -> dict:
  """Trains the classifier on the dataset's train split; returns the metadata it saved."""
  check_classifier_config(config)
  kw = dict(data_dir=config.dataset.data_dir, resolution=config.dataset.resolution)
  train_ds = load_dataset(config.dataset.name, split="train", **kw)
  test_ds = load_dataset(config.dataset.name, split="test", **kw)
  if train_ds.kind != "image" or not train_ds.num_classes:
    raise UserError(f"dataset.name: {config.dataset.name!r} has no image labels to train a "
                    "classifier on")
  meta = {"dataset": config.dataset.name, "resolution": int(train_ds.example_shape[0]),
          "channels": int(train_ds.example_shape[-1]), "num_classes": int(train_ds.num_classes),
          "width": config.model.width, "feature_dim": config.model.feature_dim,
          "dropout": config.model.dropout}
  model = _module(meta)
  train_arrays, test_arrays = train_ds.all(), test_ds.all()
  x, y = jnp.asarray(train_arrays["x"]), jnp.asarray(train_arrays["y"])

  init_key, train_key = jax.random.split(jax.random.PRNGKey(config.seed))
  params = model.init(init_key, x[:2])["params"]
  tx = optax.adamw(config.optimizer.learning_rate, weight_decay=config.optimizer.weight_decay)
  opt_state = tx.init(params)
  batch_size = config.train.batch_size

  @jax.jit
  def step(params, opt_state, key):
    k_idx, k_drop = jax.random.split(key)
    idx = jax.random.randint(k_idx, (batch_size,), 0, x.shape[0])

    def loss_fn(p):
      logits, _ = model.apply({"params": p}, x[idx], train=True, rngs={"dropout": k_drop})
      return optax.softmax_cross_entropy_with_integer_labels(logits, y[idx]).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  steps = range(config.train.num_steps)
  if progress:
    from tqdm import tqdm
    steps = tqdm(steps, unit="step", dynamic_ncols=True)
  for s in steps:
    params, opt_state, loss = step(params, opt_state, jax.random.fold_in(train_key, s))
    if progress and (s + 1) % 100 == 0:
      steps.set_postfix(loss=f"{float(loss):.3f}")

  apply_fn = jax.jit(lambda v, im: model.apply(v, im))
  meta["train_accuracy"] = accuracy(apply_fn, params, train_arrays["x"], train_arrays["y"])
  meta["test_accuracy"] = accuracy(apply_fn, params, test_arrays["x"], test_arrays["y"])
  os.makedirs(workdir, exist_ok=True)
  with ocp.StandardCheckpointer() as ckptr:
    path = os.path.join(os.path.abspath(workdir), "params")
    ckptr.save(path, params, force=True)
  tmp = os.path.join(workdir, META_FILE + ".tmp")
  with open(tmp, "w") as f:
    json.dump(meta, f, indent=2)
  os.replace(tmp, os.path.join(workdir, META_FILE))
  return meta


def load_classifier(directory: str, dataset_name: str | None = None) -> LoadedClassifier:
  """Loads a classifier saved by `train_classifier`; UserError with the command if absent."""
  meta_path = os.path.join(directory, META_FILE)
  if not os.path.exists(meta_path):
    name = dataset_name or "<dataset>"
    override = "" if name == "digits" else f" --config.dataset.name={name}"
    raise UserError(
        f"eval.classifier_dir: no trained classifier in {directory}; train it with: "
        f"python launch.py --config experiments/classifier_digits.py{override} "
        f"--workdir {directory}")
  with open(meta_path) as f:
    meta = json.load(f)
  if dataset_name and meta["dataset"] != dataset_name:
    raise UserError(f"eval.classifier_dir: {directory} holds a classifier for "
                    f"{meta['dataset']!r}, not {dataset_name!r}")
  model = _module(meta)
  # Abstract template (shapes only): an eager init compiles each initialiser
  # separately, ~8 s of CPU per process for values the restore overwrites.
  template = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(
      (1, meta["resolution"], meta["resolution"], meta["channels"]))))["params"]
  with ocp.StandardCheckpointer() as ckptr:
    params = ckptr.restore(os.path.join(os.path.abspath(directory), "params"), template)
  apply = jax.jit(lambda im: model.apply({"params": params}, im))
  return LoadedClassifier(apply, meta["resolution"], meta["num_classes"], meta["test_accuracy"])


def classifier_logits(classifier: LoadedClassifier) -> Callable:
  """``images [B, R, R, C] -> logits [B, K]``, resizing (bilinear) to the classifier's resolution."""
  res = classifier.resolution

  def logits(images):
    if images.shape[1] != res:
      images = jax.image.resize(images, images.shape[:1] + (res, res) + images.shape[3:],
                                "bilinear")
    return classifier.apply(images)[0]

  return logits
