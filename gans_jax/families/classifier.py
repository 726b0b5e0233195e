"""The classifier family: the per-dataset domain classifier evaluation scores in.

`python launch.py --config experiments/classifier_digits.py` trains it on the
shared trainer (resume, devices, metrics.jsonl, Ctrl-C/SIGTERM); at the last
step `finish` exports the parameters (`params/`, an orbax checkpoint) and
`classifier.json` (architecture, resolution, train and test accuracy) to the
workdir. `load_classifier(dir)` gives back a jitted ``images -> (logits,
features)`` for evaluation, editing and disentanglement.

Dropout draws its mask from ``fold_in(step key, device index)``: on N devices
the step is the same algorithm, with different dropout masks than on one.
"""

import json
import os
import re
from typing import Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from gans_jax import augment
from gans_jax.atomic import write_json
from gans_jax.batching import batched
from gans_jax.configs import augment_config, base_config, check_augment, require
from gans_jax.data.idx import FASHION_MNIST
from gans_jax.errors import UserError
from gans_jax.families import base
from gans_jax.families.interface import Family
from gans_jax.nets.classifier import Classifier as ClassifierNet
from gans_jax.optim import check_schedule, learning_rate_schedule

META_FILE = "classifier.json"


class LoadedClassifier(NamedTuple):
  apply: Callable  # images [B, R, R, C] in [-1, 1] -> (logits [B, K], features [B, F])
  resolution: int
  num_classes: int
  test_accuracy: float


@flax.struct.dataclass
class ClassifierState:
  step: jnp.ndarray
  net: base.TrainState


def default_config() -> ml_collections.ConfigDict:
  """The shared skeleton plus the classifier's network, AdamW and augmentation sections."""
  config = base_config()
  config.family = "classifier"
  config.model = ml_collections.ConfigDict()
  config.model.width = 32
  config.model.feature_dim = 128
  config.model.dropout = 0.3
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.learning_rate = 1e-3
  config.optimizer.weight_decay = 1e-4
  # The learning rate's schedule over train.num_steps (gans_jax.optim.learning_rate_schedule).
  config.optimizer.schedule = "constant"
  config.optimizer.warmup_steps = 0
  config.optimizer.decay_steps = 0
  config.optimizer.final_scale = 0.0
  # Augmentation of the training images (gans_jax/augment.py), e.g. 'flip,translation'.
  config.augment = augment_config()
  return config


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  del num_devices
  require(config.optimizer.learning_rate > 0, "optimizer.learning_rate",
          f"must be > 0, got {config.optimizer.learning_rate}")
  require(config.optimizer.weight_decay >= 0, "optimizer.weight_decay",
          f"must be >= 0, got {config.optimizer.weight_decay}")
  require(0 <= config.model.dropout < 1, "model.dropout",
          f"must be in [0, 1), got {config.model.dropout}")
  check_schedule(config.optimizer, "optimizer")
  check_augment(config)


# The experiment that trains the classifier of a dataset, where one exists (else classifier_digits.py
# with the dataset's name and resolution as overrides).
CLASSIFIER_EXPERIMENTS = {
    "digits": "experiments/classifier_digits.py",
    FASHION_MNIST: "experiments/classifier_fashion.py",
}


def default_classifier_dir(dataset_name: str) -> str:
  """runs/classifier_<dataset>; for 'idx:/a/b' and 'folder:/a/b', runs/classifier_idx_b and
  runs/classifier_folder_b (the directory's name; classifier.json records the whole path)."""
  kind, sep, path = dataset_name.partition(":")
  if sep and kind in ("idx", "folder"):
    base = re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(os.path.normpath(path))).strip("_")
    return os.path.join("runs", f"classifier_{kind}_{base or 'data'}")
  return os.path.join("runs", f"classifier_{dataset_name}")


def classifier_dir(config: ml_collections.ConfigDict) -> str:
  """Where evaluation finds the dataset's classifier: eval.classifier_dir, else its default."""
  return config.eval.classifier_dir or default_classifier_dir(config.dataset.name)


def train_command(dataset_name: str, directory: str, resolution: int | None = None) -> str:
  """The command that trains `dataset_name`'s classifier into `directory`."""
  known = CLASSIFIER_EXPERIMENTS.get(dataset_name)
  overrides = ""
  if known is None:
    known = CLASSIFIER_EXPERIMENTS["digits"]
    overrides = f" --config.dataset.name={dataset_name}"
    if resolution is not None:
      overrides += f" --config.dataset.resolution={resolution}"
  # launch.py's default workdir is runs/<experiment file name>.
  default_workdir = os.path.join("runs", os.path.splitext(os.path.basename(known))[0])
  workdir = "" if os.path.normpath(directory) == default_workdir else f" --workdir {directory}"
  return f"python launch.py --config {known}{overrides}{workdir}"


def _module(meta: dict) -> ClassifierNet:
  return ClassifierNet(num_classes=meta["num_classes"], width=meta["width"],
                       feature_dim=meta["feature_dim"], dropout=meta["dropout"])


def accuracy(apply_fn, params, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
  logits, _ = batched(lambda xb: apply_fn({"params": params}, xb), batch, x)
  return float(np.mean(np.argmax(logits, -1) == y))


class Classifier(Family):
  """Softmax cross-entropy on the dataset's labels (no sampler)."""
  name = "classifier"
  progress_keys = ("loss", "accuracy")
  has_sampler = False

  def __init__(self, config, dataset, axis_name=None):
    super().__init__(config, dataset, axis_name)
    if dataset.kind != "image" or not dataset.num_classes:
      raise UserError(f"dataset.name: {dataset.name!r} has no image labels to train a "
                      "classifier on")
    # The test split its accuracy is measured on, opened now so that a dataset without one fails
    # before the first step rather than after training.
    self.test_dataset = base.load_config_dataset(config, split="test")
    m = config.model
    self.meta = {"dataset": config.dataset.name, "resolution": int(dataset.example_shape[0]),
                 "channels": int(dataset.example_shape[-1]),
                 "num_classes": int(dataset.num_classes),
                 "width": m.width, "feature_dim": m.feature_dim, "dropout": m.dropout}
    self.net = _module(self.meta)

  @property
  def data_keys(self) -> tuple:
    return ("x", "y")

  def init_fn(self):
    opt = self.config.optimizer
    lr = learning_rate_schedule(opt, num_steps=int(self.config.train.num_steps))
    tx = optax.adamw(lr, weight_decay=opt.weight_decay)
    shape = (2,) + tuple(self.dataset.example_shape)

    def init(key):
      variables = self.net.init(key, jnp.zeros(shape, jnp.float32))
      return ClassifierState(step=jnp.zeros((), jnp.int32),
                             net=base.new_train_state(self.net, variables, tx))

    return init

  def step_fn(self, *, resident, num_shards=1):
    batch = int(self.config.train.batch_size) // num_shards
    mean = base.device_mean(self.axis_name)
    aug = self.config.get("augment", augment_config())  # absent in configs saved before it
    policy = augment.parse_policy(aug.policy)
    ratios = dict(translation_ratio=float(aug.translation_ratio),
                  cutout_ratio=float(aug.cutout_ratio))

    def step(state, data, key):
      offset = base.device_offset(self.axis_name, batch)
      k_step = base.step_key(key, state.step)
      k_data, k_drop = jax.random.split(k_step)
      k_aug = jax.random.fold_in(k_step, 2)
      if self.axis_name:
        k_drop = jax.random.fold_in(k_drop, jax.lax.axis_index(self.axis_name))
      x, y = base.draw_batch(data, ("x", "y"), k_data, offset, batch, resident=resident)
      x = augment.augment_batch(x, base.example_keys(k_aug, offset, batch), policy, **ratios)

      def loss_fn(params):
        logits, _ = self.net.apply({"params": params}, x, train=True, rngs={"dropout": k_drop})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

      (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.net.params)
      net = state.net.apply_gradients(grads=mean(grads))
      return (ClassifierState(step=state.step + 1, net=net),
              mean({"loss": loss, "accuracy": acc}))

    return step

  def _accuracies(self, params) -> dict:
    apply_fn = jax.jit(lambda v, im: self.net.apply(v, im))
    test = self.test_dataset.all()
    train = self.dataset.all()
    return {"train_accuracy": accuracy(apply_fn, params, train["x"], train["y"]),
            "test_accuracy": accuracy(apply_fn, params, test["x"], test["y"])}

  def eval_metrics(self, state, evaluator, key):
    del evaluator, key
    return self._accuracies(state.net.params)

  def finish(self, state, workdir: str) -> dict:
    """Exports `params/` and classifier.json (what `load_classifier` reads); returns the
    accuracies."""
    accuracies = self._accuracies(state.net.params)
    with ocp.StandardCheckpointer() as ckptr:
      ckptr.save(os.path.join(os.path.abspath(workdir), "params"), state.net.params, force=True)
    write_json(os.path.join(workdir, META_FILE), {**self.meta, **accuracies})
    return accuracies


def load_classifier(directory: str, dataset_name: str | None = None, *,
                    resolution: int | None = None) -> LoadedClassifier:
  """Loads a classifier exported at the end of training; UserError with the command that trains
  it (at `resolution`, the scored images' side) if absent."""
  meta_path = os.path.join(directory, META_FILE)
  if not os.path.exists(meta_path):
    raise UserError(
        f"eval.classifier_dir: no trained classifier in {directory}; train it with: "
        f"{train_command(dataset_name or '<dataset>', directory, resolution)}")
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

