"""--mode=sample: the latest checkpoint's samples as files, for FID tools and for looking at.

`export_samples(config, workdir)` draws `sample.num` samples from any family
with a sampler and writes `<workdir>/export/`:

- ``000000.png``, ``000001.png``, ...: one PNG per image (grayscale or RGB),
  ``to_uint8`` of the [-1, 1] sample;
- ``samples.npz``: the same uint8 images [N, H, W, C] as ``arr_0`` (the layout
  ``np.savez(path, images)`` gives, which outside FID tools read), plus
  ``labels`` [N] for a conditional model (2-D datasets: float32 points [N, 2],
  no PNGs);
- ``export.json``: step, num, truncation, classes, shape.

With `sample.split` set (e.g. ``--config.sample.split=test``), `export_split` writes that split's
real images the same way to ``<workdir>/export_<split>/`` instead, without a checkpoint: the
reference set for ``python -m gans_jax.fid``.

Latents come from ``fold_in(PRNGKey(seed), EVAL_KEY)`` like `--mode=eval`'s, so
with the same seed, `sample.truncation` and balanced classes the export holds
the samples `--mode=eval` scores. `sample.truncation` = psi draws latents
truncated to [-psi, psi]; a conditional model is asked for `sample.classes`
cycled through (default: every class, balanced). The folder is written next to
the old one and swapped in, so a re-run never leaves a mixture of two exports.
"""

import json
import os
import shutil

import jax
import ml_collections
import numpy as np

from gans_jax import families
from gans_jax.errors import UserError
from gans_jax.evaluate import EVAL_KEY, generate_samples, requested_labels, restore_latest
from gans_jax.families.base import load_config_dataset, step_of
from gans_jax.image_files import to_uint8, write_png

EXPORT_DIR = "export"
NPZ_FILE = "samples.npz"


def _labels(config: ml_collections.ConfigDict, family, num: int) -> np.ndarray | None:
  classes = tuple(config.sample.classes)
  k = family.num_classes
  if classes and not k:
    raise UserError(f"sample.classes: the {family.name} model is unconditional; "
                    "leave sample.classes empty")
  bad = [c for c in classes if c >= k]
  if bad:
    raise UserError(f"sample.classes: {bad[0]} is not a class of this model (0..{k - 1})")
  return requested_labels(num, k, classes)


def _write(directory: str, samples: np.ndarray, labels: np.ndarray | None, meta: dict,
           kind: str) -> None:
  os.makedirs(directory)
  arrays = {"arr_0": to_uint8(samples) if kind == "image" else samples.astype(np.float32)}
  if labels is not None:
    arrays["labels"] = labels
  np.savez(os.path.join(directory, NPZ_FILE), **arrays)
  if kind == "image":
    for i, image in enumerate(arrays["arr_0"]):
      write_png(os.path.join(directory, f"{i:06d}.png"), image)
  with open(os.path.join(directory, "export.json"), "w") as f:
    json.dump(meta, f, indent=2)


def _swap_in(new: str, final: str) -> None:
  """Replaces the folder `final` by `new` (both in one parent directory)."""
  old = final + ".old"
  shutil.rmtree(old, ignore_errors=True)
  if os.path.exists(final):
    os.replace(final, old)
  os.replace(new, final)
  shutil.rmtree(old, ignore_errors=True)


def export_split(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """--mode=sample with `sample.split`: the first `sample.num` real images of that split, at
  `dataset.resolution`, written as an export (`<workdir>/export_<split>/`) for FID tools."""
  split = config.sample.split
  dataset = load_config_dataset(config, split=split)  # UserError naming a missing split
  if dataset.kind != "image":
    raise UserError(f"sample.split: {config.dataset.name!r} holds {dataset.kind}, not images")
  num = min(int(config.sample.num), dataset.num_examples)
  data = dataset.get(np.arange(num))
  meta = {"dataset": config.dataset.name, "split": split, "num": num,
          "shape": list(data["x"].shape)}
  final = os.path.join(workdir, f"{EXPORT_DIR}_{split}")
  tmp = final + ".tmp"
  shutil.rmtree(tmp, ignore_errors=True)
  _write(tmp, data["x"], data.get("y"), meta, "image")
  _swap_in(tmp, final)
  return meta


def export_samples(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """--mode=sample: writes `<workdir>/export/` (see the module docstring); returns its meta."""
  fam_cls = families.check_config(config, num_devices=jax.local_device_count())
  if not fam_cls.has_sampler:
    raise UserError(f"--mode=sample: the {fam_cls.name} family has no sampler; "
                    "it exports samples of gan, vae and vae_gan runs")
  dataset, family, state = restore_latest(config, workdir)
  family.prepare_sampling(state)
  sample = config.sample
  num = int(sample.num)
  labels = _labels(config, family, num)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), EVAL_KEY)
  generate = jax.jit(family.generate)
  samples = generate_samples(lambda z, y: generate(state, z, y), family.z_dim, key, num,
                             int(sample.batch_size), sample.truncation, labels,
                             family.latent_transform)
  meta = {"step": step_of(state), "num": num, "truncation": sample.truncation,
          "classes": None if labels is None else list(sample.classes) or "balanced",
          "shape": list(samples.shape)}
  final = os.path.join(workdir, EXPORT_DIR)
  tmp = final + ".tmp"
  shutil.rmtree(tmp, ignore_errors=True)
  _write(tmp, samples, labels, meta, dataset.kind)
  _swap_in(tmp, final)
  return meta
