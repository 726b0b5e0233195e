"""The feature spaces images are scored in: the domain classifier, or the FID InceptionV3.

Both extractors map float32 images in [-1, 1], [N, H, W, C], to
``(features [N, F], class probabilities [N, K])``, in batches of one fixed size
(the last is padded, so each image size compiles once):

- `ClassifierFeatures`: the dataset's domain classifier
  (`gans_jax.families.classifier`); features are its penultimate layer, probs its
  softmax over the dataset's classes. Images of another size are resized to its
  resolution (``jax.image.resize`` bilinear, as evaluation always has).
- `InceptionFeatures`: the FID InceptionV3 (`gans_jax.nets.inception`); features
  are the 2048-d pool_3, probs the softmax of its 1008 logits (the Inception
  Score's). Images are first quantised to uint8 (``to_uint8`` then
  ``from_uint8``, a no-op on images read from files), then bilinearly resized to
  299x299 without antialiasing, half-pixel centres (PyTorch
  ``F.interpolate(mode='bilinear', align_corners=False)``), as pytorch-fid and
  clean-fid's ``legacy_pytorch`` mode do.

`fingerprint` identifies the weights, so statistics saved from one network are
never compared with another's.
"""

from __future__ import annotations

import hashlib
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from gans_jax.batching import batched
from gans_jax.families.classifier import META_FILE, load_classifier
from gans_jax.image_files import from_uint8, to_uint8
from gans_jax.nets import inception

# Images per Inception call: pytorch-fid's default; 299x299 activations of a
# larger batch take gigabytes of memory on a CPU.
INCEPTION_BATCH = 50


def _hash_files(paths: list[str]) -> str:
  digest = hashlib.sha256()
  for path in paths:
    digest.update(os.path.basename(path).encode())
    with open(path, "rb") as f:
      digest.update(f.read())
  return digest.hexdigest()[:16]


def _hash_arrays(tree) -> str:
  digest = hashlib.sha256()
  for leaf in jax.tree_util.tree_leaves(tree):
    digest.update(np.ascontiguousarray(np.asarray(leaf, np.float32)).tobytes())
  return digest.hexdigest()[:16]


class ClassifierFeatures:
  """The domain classifier in `directory` (see `load_classifier`) as a feature extractor."""
  kind = "classifier"

  def __init__(self, directory: str, dataset_name: str | None = None, batch_size: int = 500, *,
               resolution: int | None = None):
    # UserError naming the command that trains it (at `resolution`) if absent.
    self.classifier = load_classifier(directory, dataset_name, resolution=resolution)
    with open(os.path.join(directory, META_FILE)) as f:
      self.channels = int(json.load(f)["channels"])
    self.resolution, self.batch_size = self.classifier.resolution, int(batch_size)
    self.name = f"classifier:{directory}"
    params = [os.path.join(root, f) for root, _, files in
              sorted(os.walk(os.path.join(directory, "params"))) for f in sorted(files)]
    self.fingerprint = _hash_files([os.path.join(directory, META_FILE)] + params)
    self._apply = jax.jit(self._probs_and_features)

  def _probs_and_features(self, x):
    res = self.resolution
    if x.shape[1] != res:
      x = jax.image.resize(x, (x.shape[0], res, res, x.shape[-1]), "bilinear")
    logits, features = self.classifier.apply(x)
    return features, jax.nn.softmax(logits)

  def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """images [N, H, W, C] in [-1, 1] -> (features [N, F], probs [N, K])."""
    return tuple(batched(self._apply, self.batch_size, images))


class InceptionFeatures:
  """The FID InceptionV3 with the weights at `path` (a pytorch-fid .pth or converted .npz).

  Args:
    path: the weights; None: `inception.default_inception_path()`.
    batch_size: images per call.
    size: the side images are resized to; None: 299, the FID's. Smaller sides
      (>= 75) give other features: only for tests.
    field: the option that named `path`, for error messages.
  """
  kind = "inception"
  channels = 3
  name = "inception"

  def __init__(self, path: str | None = None, batch_size: int = INCEPTION_BATCH,
               size: int | None = None, field: str = "eval.inception_path"):
    self.variables = inception.load_inception_params(path, field=field)
    self.fingerprint = _hash_arrays(self.variables)
    self.batch_size = int(batch_size)
    self.size = int(size or inception.INPUT_SIZE)
    net = inception.InceptionV3FID()
    self._network = jax.jit(lambda variables, x: net.apply(variables, x, resize=False))
    self._resize = jax.jit(lambda x: inception.resize_bilinear(x, self.size, self.size))

  def preprocess(self, images: np.ndarray) -> jnp.ndarray:
    """What the network sees: quantised to uint8, back to [-1, 1], resized to `size`."""
    return self._resize(jnp.asarray(from_uint8(to_uint8(images))))

  def _pool_and_probs(self, images):
    out = self._network(self.variables, self.preprocess(images))
    return out["pool"], jax.nn.softmax(out["logits"])

  def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """images [N, H, W, 1 or 3] in [-1, 1] -> (pool features [N, 2048], probs [N, 1008])."""
    return tuple(batched(self._pool_and_probs, self.batch_size, images))
