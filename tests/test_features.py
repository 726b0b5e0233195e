"""gans_jax.features: what the classifier and the FID Inception see, against independent math.

The Inception weights are random (no real ones offline) and most checks run at
75x75, the network's smallest input, to stay fast on a CPU; the 299x299 resize
is checked on its own.
"""

import jax
import numpy as np
import pytest

from gans_jax import features
from gans_jax.families.classifier import load_classifier
from gans_jax.nets import inception
from test_inception import _np_resize_torch_bilinear


def _pytorch_fid_input(x: np.ndarray, size: int) -> np.ndarray:
  """pytorch-fid's input, written from its steps: the image as uint8 (PNG), ToTensor's u / 255,
  2 t - 1, then F.interpolate(bilinear, align_corners=False) to size x size."""
  u = np.clip(np.rint((x.astype(np.float64) + 1) * 255 / 2), 0, 255)
  return _np_resize_torch_bilinear(2 * (u / 255) - 1, size, size)


def test_inception_preprocess_at_299_is_pytorch_fids_input(random_inception_npz):
  x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
  extractor = features.InceptionFeatures(random_inception_npz)
  assert extractor.size == 299
  np.testing.assert_allclose(extractor.preprocess(x), _pytorch_fid_input(x, 299), atol=1e-5)


def test_inception_features_are_the_network_on_pytorch_fids_input(random_inception_npz):
  x = np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 1)).astype(np.float32)
  extractor = features.InceptionFeatures(random_inception_npz, batch_size=4, size=75)
  pool, probs = extractor(x)
  # The same compiled network (tested in test_inception.py) on the input built in NumPy:
  # what is checked is the quantisation, resize, batching and softmax around it.
  expected = extractor._network(inception.load_inception_params(random_inception_npz),
                                _pytorch_fid_input(x, 75).astype(np.float32))
  np.testing.assert_allclose(pool, expected["pool"], rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(probs, jax.nn.softmax(expected["logits"]), rtol=1e-4, atol=1e-6)
  assert pool.shape == (4, 2048) and probs.shape == (4, 1008)


def test_inception_weights_file_errors_name_the_option(tmp_path):
  with pytest.raises(Exception, match=r"--inception_path: no file at .*none\.npz"):
    features.InceptionFeatures(str(tmp_path / "none.npz"), field="--inception_path")


def test_classifier_features_are_the_classifiers_penultimate_layer(digits_classifier):
  directory, meta = digits_classifier
  extractor = features.ClassifierFeatures(directory, "digits", batch_size=8)
  assert (extractor.channels, extractor.resolution) == (1, meta["resolution"])
  x = np.random.default_rng(3).uniform(-1, 1, (10, 16, 16, 1)).astype(np.float32)
  feats, probs = extractor(x)
  logits, expected = load_classifier(directory).apply(x)
  np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(probs, jax.nn.softmax(logits), rtol=1e-5, atol=1e-7)
  # The fingerprint is of the files, the same on every load.
  assert features.ClassifierFeatures(directory).fingerprint == extractor.fingerprint
