"""Scoring a generator: FID, KID, precision/recall, density/coverage, IS, mode coverage.

Images are scored against the held-out test split in the features
`eval.features` names (`gans_jax.features`): the dataset's domain classifier
(`gans_jax.families.classifier`, the default) or the FID InceptionV3 with the
weights at `eval.inception_path` (samples and real images quantised to uint8
first, the IS from its 1008 logits). Whether samples show their requested
class (conditional models) is always the domain classifier's call. 2-D
mixtures are scored by mode coverage against the true centres. Generation and
feature extraction run in batches of `eval.batch_size` (at most 50 for
Inception).

`evaluate(config, workdir)` is `--mode=eval`: it loads the latest checkpoint,
writes `eval.json` (flat keys), `truncation.json` and a precision-vs-recall
plot over the truncation sweep, `eval_samples.png` (64 samples drawn as the scored ones
are), and returns the metrics; for a conditional
generator eval.json also holds per-class metrics (`Evaluator.per_class_metrics`:
fid_class_c, precision_class_c, recall_class_c, accuracy_class_c). `Evaluator` is the
reusable part the training loop calls every `eval_every` steps.
"""

import os
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gans_jax import families, metrics, plots
from gans_jax.atomic import write_json
from gans_jax.checkpoint import Checkpointer
from gans_jax.data import load_dataset, mixture_centers
from gans_jax.errors import UserError
from gans_jax.families.base import load_config_dataset, step_of
from gans_jax.families.classifier import classifier_dir
from gans_jax.features import INCEPTION_BATCH, ClassifierFeatures, InceptionFeatures
from gans_jax.latents import sample_latents
from gans_jax.summary import progress_printer, quiet


# Folded into the seed for the latents --mode=eval scores (and --mode=sample exports).
EVAL_KEY = 0xE7A1


def _stats(features: np.ndarray):
  stats = metrics.feature_stats_init(features.shape[-1])
  return metrics.feature_stats_finalize(metrics.feature_stats_update(stats, features))


def feature_extractor(config: ml_collections.ConfigDict):
  """The features `eval.features` names: the domain classifier or the FID InceptionV3."""
  if config.eval.features == "inception":
    return InceptionFeatures(config.eval.inception_path,
                             batch_size=min(int(config.eval.batch_size), INCEPTION_BATCH))
  return ClassifierFeatures(classifier_dir(config), config.dataset.name,
                            batch_size=int(config.eval.batch_size),
                            resolution=config.dataset.resolution)


def requested_labels(num: int, num_classes: int, classes=()) -> np.ndarray | None:
  """The labels asked of a conditional sampler: `classes` cycled through (default: every
  class, balanced: 0, 1, ..., K-1, 0, ...); None for an unconditional one."""
  if not num_classes:
    return None
  classes = np.asarray(classes if len(classes) else np.arange(num_classes), np.int32)
  return classes[np.arange(num) % len(classes)]


def score_name(features_kind: str) -> str:
  """The name of Salimans et al.'s score in a feature space: `inception_score` only in Inception's
  softmax (the published score); in the domain classifier's, `classifier_score`."""
  return "inception_score" if features_kind == "inception" else "classifier_score"


def generate_samples(generate, z_dim: int, key: jax.Array, num: int, batch_size: int,
                     truncation: float | None = None,
                     labels: np.ndarray | None = None, latent_transform=None) -> np.ndarray:
  """`num` samples of the jitted ``generate(z, labels)``, in batches; batch i draws its
  latents (truncated to [-psi, psi] if `truncation`) from ``fold_in(key, i)``, mapped by
  `latent_transform` (a family's fitted prior) when given."""
  out = []
  for i, start in enumerate(range(0, num, batch_size)):
    n = min(batch_size, num - start)
    z = sample_latents(jax.random.fold_in(key, i), n, z_dim, truncation=truncation)
    if latent_transform is not None:
      z = latent_transform(z, truncation)
    y = None if labels is None else jnp.asarray(labels[start:start + n])
    out.append(np.asarray(generate(z, y)))
  return np.concatenate(out)


class Evaluator:
  """Holds what does not change between evaluations: real features, feature extractor, centres."""

  def __init__(self, config: ml_collections.ConfigDict, sampler, kind: str,
               log: Callable[[str], None] = quiet):
    """`sampler`: a family with a sampler (``generate(state, z, labels)``, `z_dim`, `num_classes`);
    `log` reports the long stages (`summary.progress_printer`)."""
    self.config, self.sampler, self.kind, self.log = config, sampler, kind, log
    ev = config.eval
    self.batch_size = int(ev.batch_size)
    self._generate = jax.jit(sampler.generate)
    if kind == "points":
      self.centers, self.std = mixture_centers(config.dataset.name)
      return
    self.extractor = feature_extractor(config)
    self._label_extractor = None  # the domain classifier when eval.features is not it
    # The classifier reads real images at its own resolution; Inception resizes anything.
    resolution = getattr(self.extractor, "resolution", config.dataset.resolution)
    kw = dict(data_dir=config.dataset.data_dir, resolution=resolution)
    test = load_dataset(config.dataset.name, split="test", **kw).all()
    train_arrays = load_dataset(config.dataset.name, split="train", **kw).all()
    log(f"features of the {len(test['x']):,} test and {len(train_arrays['x']):,} training images "
        f"({self.extractor.kind})")
    self.real_features, _ = self._features(test["x"])
    self.real_stats = _stats(self.real_features)
    train_features, _ = self._features(train_arrays["x"])
    if sampler.num_classes:
      # Per-class references for a conditional generator: test and train
      # features split by their true labels.
      self.real_labels, self.train_labels = test["y"], train_arrays["y"]
      self.train_features = train_features
    # What "good" is: the distance between two real samples in the same features.
    self.fid_train_test = float(metrics.frechet_distance(*_stats(train_features),
                                                         *self.real_stats))

  def _classifier_features(self) -> ClassifierFeatures:
    """The domain classifier: it measures whether samples show the requested class,
    whatever `eval.features` is; loaded when first needed."""
    if self.extractor.kind == "classifier":
      return self.extractor
    if self._label_extractor is None:
      self._label_extractor = ClassifierFeatures(
          classifier_dir(self.config), self.config.dataset.name, batch_size=self.batch_size,
          resolution=self.config.dataset.resolution)
    return self._label_extractor

  @property
  def classifier(self):
    """The domain classifier's `LoadedClassifier` (e.g. for the disentanglement metrics)."""
    return self._classifier_features().classifier

  def _features(self, images: np.ndarray):
    """(features, probs) of `images` in the `eval.features` space."""
    return self.extractor(images)

  def _class_probs(self, images: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The domain classifier's probabilities of `images` (`probs` if those are already its)."""
    if self.extractor.kind == "classifier":
      return probs
    return self._classifier_features()(images)[1]

  def fid_of(self, images: np.ndarray) -> float:
    """FID of `images` against the test split, in the `eval.features` space."""
    return float(metrics.frechet_distance(*_stats(self._features(images)[0]), *self.real_stats))

  def labels(self, num: int) -> np.ndarray | None:
    """Requested classes of a conditional generator: balanced, 0, 1, ..., K-1, 0, ..."""
    return requested_labels(num, self.sampler.num_classes)

  def samples(self, state, key: jax.Array, num: int,
              truncation: float | None = None) -> np.ndarray:
    return generate_samples(lambda z, y: self._generate(state, z, y), self.sampler.z_dim, key,
                            num, self.batch_size, truncation, self.labels(num),
                            getattr(self.sampler, "latent_transform", None))

  def __call__(self, state, key: jax.Array, num: int,
               truncation: float | None = None, *, full: bool = True,
               per_class: bool = False) -> dict:
    """Metrics of `num` generated samples; `full=False` skips KID, D/C and IS (P/R only);
    `per_class=True` adds `per_class` metrics for a conditional generator (full only)."""
    self.log(f"{num:,} samples" + ("" if truncation is None else f" at truncation {truncation:g}"))
    x = self.samples(state, key, num, truncation)
    if self.kind == "points":
      mc = metrics.mode_coverage(jnp.asarray(x), jnp.asarray(self.centers), self.std)
      return {k: float(v) for k, v in mc.items()}
    ev = self.config.eval
    self.log("their features and scores")
    fake_features, probs = self._features(x)
    n_real = len(self.real_features)
    # P/R and D/C compare equal-sized sets, as the papers do.
    fake_subset = fake_features[:n_real]
    out = {"fid": float(metrics.frechet_distance(*_stats(fake_features), *self.real_stats)),
           "fid_train_test": self.fid_train_test}
    if self.sampler.num_classes:
      # The domain classifier's accuracy against the requested labels.
      class_probs = self._class_probs(x, probs)
      out["conditional_accuracy"] = float(np.mean(np.argmax(class_probs, -1) == self.labels(num)))
    out.update({k: float(v) for k, v in metrics.precision_recall(
        self.real_features, fake_subset, k=ev.pr_k).items()})
    if not full:
      return out
    kid, kid_std = metrics.kernel_inception_distance(
        self.real_features, fake_features, num_subsets=ev.kid_subsets,
        subset_size=min(ev.kid_subset_size, n_real, len(fake_features)))
    out.update({"kid": float(kid), "kid_std": float(kid_std)})
    out.update({k: float(v) for k, v in metrics.density_coverage(
        self.real_features, fake_subset, k=ev.dc_k).items()})
    # Salimans et al.'s score, named for the network whose softmax it is computed in.
    name = score_name(self.extractor.kind)
    is_mean, is_std = metrics.inception_score(jnp.asarray(probs), num_splits=ev.is_splits)
    out.update({name: float(is_mean), f"{name}_std": float(is_std)})
    if per_class and self.sampler.num_classes:
      out.update(self.per_class_metrics(fake_features, class_probs, self.labels(num)))
    return out

  def per_class_metrics(self, fake_features: np.ndarray, probs: np.ndarray,
                        labels: np.ndarray) -> dict:
    """Per requested class c of a conditional generator: its samples against class c's test images.

    `probs` are the domain classifier's. ``fid_class_c``: FID between the
    class-c samples and the class-c test images, in `eval.features`; ``fid_train_test_class_c`` is the same
    distance between the class-c train and test images, its reference (with
    ~36 test images per digit both carry FID's small-sample bias: compare a
    class with its reference, not with the all-class FID).
    ``precision_class_c`` / ``recall_class_c`` (Kynkaanniemi et al. 2019,
    arXiv:1904.06991) compare equal-sized sets, as the global ones: the first
    n of each, n the smallest class count (one compilation for all classes).
    ``accuracy_class_c``: the fraction of class-c requests the classifier calls c.
    """
    k = self.sampler.num_classes
    real = [self.real_features[self.real_labels == c] for c in range(k)]
    fake = [fake_features[labels == c] for c in range(k)]
    n = min(len(x) for x in real + fake)
    out = {}
    for c in range(k):
      if min(len(real[c]), len(fake[c])) < 2:
        continue  # a class absent from the test split or the requests: no covariance
      out[f"fid_class_{c}"] = _fid(fake[c], real[c])
      out[f"fid_train_test_class_{c}"] = _fid(self.train_features[self.train_labels == c],
                                              real[c])
      if n > self.config.eval.pr_k:
        pr = metrics.precision_recall(real[c][:n], fake[c][:n], k=self.config.eval.pr_k)
        out[f"precision_class_{c}"] = float(pr["precision"])
        out[f"recall_class_{c}"] = float(pr["recall"])
      out[f"accuracy_class_{c}"] = float(np.mean(np.argmax(probs[labels == c], -1) == c))
    return out


def _fid(a: np.ndarray, b: np.ndarray) -> float:
  """FID of two small feature sets; NumPy mean/covariance (the same unbiased statistics as
  `metrics.feature_stats_finalize`) so that only fixed-shape [F], [F, F] arrays are compiled."""
  stats = [(x.mean(0).astype(np.float32), np.cov(x, rowvar=False).astype(np.float32))
           for x in (np.asarray(a, np.float64), np.asarray(b, np.float64))]
  return float(metrics.frechet_distance(*stats[0], *stats[1]))


def restore_latest(config, workdir: str):
  """(dataset, family, state) of the newest checkpoint in `workdir` that restores.

  Creates and changes nothing. Raises UserError if there is none, if none
  restores, or if `config` changes a field that changes what the run's state
  means (see `configs.resume_changes`); a damaged newer one is skipped with a warning.
  """
  from gans_jax import checkpoint, configs  # pylint: disable=import-outside-toplevel
  fam_cls = families.check_config(config, num_devices=jax.local_device_count())
  # eval.checkpoint='best': the best in-training evaluation's state (trainer's eval.keep_best).
  subdir = (checkpoint.BEST_DIR if config.eval.get("checkpoint", "latest") == "best"
            else "checkpoints")
  checkpoint.require_checkpoint(workdir, "evaluating or editing", subdir)
  changes = configs.resume_changes(workdir, config)
  dataset = load_config_dataset(config)
  family = fam_cls(config, dataset)
  ckpt = Checkpointer(os.path.join(workdir, subdir), config.keep_checkpoints,
                      read_only=True)
  try:
    # Abstract (shapes and dtypes only): an eager init compiles every parameter's
    # initialiser one by one, seconds of CPU for values the restore overwrites.
    template = jax.eval_shape(family.init_state, jax.random.PRNGKey(0))
    hint = (f"the config differs from the run's in {configs.describe_changes(changes)}"
            if changes else "")
    state = ckpt.restore_newest(template, hint=hint)
  finally:
    ckpt.close()
  if state is None:  # removed since require_checkpoint looked
    raise UserError(f"--workdir: no checkpoint in {ckpt.directory}; train first with the same "
                    "--config and --workdir (without --mode)")
  return dataset, family, state


EVAL_GRID = "eval_samples.png"


def _save_sample_grid(evaluator, family, state, key, truncation, workdir: str, step: int) -> None:
  """64 samples drawn as the scored ones are (same prior, truncation and key), as EVAL_GRID:
  the picture of what the scores are of, where a training grid may show another prior."""
  prior = "N(0, I)" if family.latent_transform is None else "the fitted mixture prior"
  psi = "" if truncation is None else f", truncation {truncation:g}"
  plots.save_image_grid(evaluator.samples(state, key, 64, truncation),
                        os.path.join(workdir, EVAL_GRID), ncols=8,
                        title=f"{plots.run_name(workdir)}, step {step:,}: --mode=eval samples, "
                              f"z from {prior}{psi}")


def _table(results: dict) -> str:
  lines = [f"{'metric':<22}{'value':>12}"]
  for k, v in results.items():
    lines.append(f"{k:<22}{v:>12.4f}" if isinstance(v, float) else f"{k:<22}{v!s:>12}")
  return "\n".join(lines)


def evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """--mode=eval: scores the latest checkpoint, writes eval.json (+ truncation sweep)."""
  log = progress_printer("eval")
  log(f"restoring the latest checkpoint of {workdir}")
  dataset, family, state = restore_latest(config, workdir)
  family.prepare_sampling(state)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), EVAL_KEY)
  num = int(config.eval.num_samples)
  results = {"step": step_of(state)}
  evaluator = None
  if family.has_sampler:
    evaluator = Evaluator(config, family, dataset.kind, log)
    results["num_samples"] = num
    # Conditional generators: also per requested class (fid_class_3, accuracy_class_3, ...).
    results.update(evaluator(state, key, num, config.eval.truncation, per_class=True))
  log(f"the {family.name} family's own metrics")
  results.update(family.eval_metrics(state, evaluator, key))
  if evaluator is not None and dataset.kind == "image" and config.eval.truncation_sweep:
    sweep = []
    log(f"truncation sweep over psi = {', '.join(f'{p:g}' for p in config.eval.truncation_sweep)}"
        " and none (precision and recall)")
    for psi in config.eval.truncation_sweep:
      r = evaluator(state, key, num, float(psi), full=False)
      sweep.append({"truncation": float(psi), **r})
    sweep.append({"truncation": None, **evaluator(state, key, num, None, full=False)})
    write_json(os.path.join(workdir, "truncation.json"), sweep)
    plots.save_precision_recall(
        sweep, os.path.join(workdir, "truncation_pr.png"),
        title=f"{plots.run_name(workdir)}, step {results['step']:,}: "
              f"precision vs recall, {num:,} samples")
  if evaluator is not None and dataset.kind == "image":
    _save_sample_grid(evaluator, family, state, key, config.eval.truncation, workdir,
                      results["step"])
  write_json(os.path.join(workdir, "eval.json"), results)
  print(_table(results))
  return results
