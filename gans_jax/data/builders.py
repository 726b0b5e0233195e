"""TFDS builders for the datasets embedded in the package: `digits`, `ring8`, `grid25`.

All three are generated offline (no download) and need no TensorFlow to prepare or read: their features
are plain `tfds.features.Tensor` / `ClassLabel` values (an `Image` feature would need TensorFlow to
encode numpy arrays), written as ArrayRecord so `builder.as_data_source` gives random access.

The builders are not put in the TFDS registry (`skip_registration=True`) and carry a `gans_jax_` prefix
in their on-disk names, so they can never collide with a TFDS catalog dataset, now or later, neither in
the registry nor inside a shared `data_dir`. The config-facing names are the keys of `BUILDERS`.

Every random draw uses `np.random.RandomState`, whose stream NumPy keeps fixed across versions, so a
dataset prepared on any machine holds the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import inspect
import io
import sys
import time

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from gans_jax.errors import UserError
from gans_jax.logs import silence_misleading_library_warnings

silence_misleading_library_warnings()

# The digits split: a fixed permutation of sklearn's 1,797 rows; the first 360 (20 %) are the test split.
DIGITS_TOTAL = 1797
DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0

# Sizes of the 2-D mixture splits: the PacGAN setup uses 100,000 training points.
MIXTURE_SPLIT_SIZES = {'train': 100_000, 'test': 10_000}
# One fixed seed per (dataset, split), all distinct so no two splits share noise.
_MIXTURE_SEEDS = {
    ('ring8', 'train'): 8_0,
    ('ring8', 'test'): 8_1,
    ('grid25', 'train'): 25_0,
    ('grid25', 'test'): 25_1,
}
_MIXTURE_STDS = {'ring8': 0.01, 'grid25': 0.05}


def digits_split_rows(split: str) -> np.ndarray:
  """Rows of `sklearn.datasets.load_digits()` in a split, in increasing order.

  The test split is the first `DIGITS_TEST_SIZE` entries of
  `np.random.RandomState(DIGITS_SPLIT_SEED).permutation(DIGITS_TOTAL)`, the train split the rest:
  1,437 train and 360 test examples.

  Args:
    split: 'train' or 'test'.

  Returns:
    int64 [n] sorted row indices into sklearn's arrays.
  """
  perm = np.random.RandomState(DIGITS_SPLIT_SEED).permutation(DIGITS_TOTAL)
  rows = {'test': perm[:DIGITS_TEST_SIZE], 'train': perm[DIGITS_TEST_SIZE:]}[split]
  return np.sort(rows).astype(np.int64)


def mixture_centers(name: str) -> tuple[np.ndarray, float]:
  """Centres and per-coordinate standard deviation of a 2-D Gaussian mixture dataset.

  ring8:  c_k = (cos(2πk/8), sin(2πk/8)), k = 0..7, σ = 0.01.
  grid25: c_{5i+j} = (v_i, v_j) with v = (−4, −2, 0, 2, 4), σ = 0.05.
  Both as in PacGAN (Lin, Khetan, Fanti, Oh, 2018, arXiv:1712.04086); the mode label of a point is k.

  Args:
    name: 'ring8' or 'grid25'.

  Returns:
    (centres float64 [K, 2], σ); each mode is N(c_k, σ² I), all modes equally likely.

  Raises:
    UserError: `name` is not a mixture dataset.
  """
  if name == 'ring8':
    angles = 2 * np.pi * np.arange(8) / 8
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
  elif name == 'grid25':
    values = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    centres = np.stack(np.meshgrid(values, values, indexing='ij'), axis=-1).reshape(25, 2)
  else:
    raise UserError(
        f"dataset.name: mixture centres exist only for 'ring8' and 'grid25', got {name!r}; "
        'use one of those two for mode-coverage metrics.')
  return centres, _MIXTURE_STDS[name]


def sample_mixture(name: str, num_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Draws i.i.d. points from a 2-D mixture: k ~ U{0..K−1}, x = c_k + σ ε, ε ~ N(0, I).

  Args:
    name: 'ring8' or 'grid25'.
    num_points: number of points n.
    seed: seed of the `np.random.RandomState` that makes every draw.

  Returns:
    (points float32 [n, 2], labels int64 [n]).
  """
  centres, std = mixture_centers(name)
  rng = np.random.RandomState(seed)
  labels = rng.randint(len(centres), size=num_points).astype(np.int64)
  points = centres[labels] + std * rng.standard_normal((num_points, 2))
  return points.astype(np.float32), labels


class _PackageBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A builder that lives in this package and downloads nothing."""

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # TFDS 4.9.x computes this for builders inside packages through the `importlib_resources`
    # backport, which Python >= 3.9 installs do not have (ModuleNotFoundError while preparing);
    # its own fallback, the defining file, is the same path and needs nothing extra.
    return epath.Path(inspect.getfile(cls))


def prepared(make_builder: Callable[[], tfds.core.DatasetBuilder]) -> tfds.core.DatasetBuilder:
  """`make_builder()`'s builder, prepared first (as array_record, downloading nothing) if it is not.

  When another process prepares the same dataset at the same time (multi-host, parallel tests), the
  one that renames its complete copy into place second gets FileExistsError and uses the first's.
  """
  builder = make_builder()
  if not builder.is_prepared():
    # TFDS announces "Downloading and preparing dataset Unknown size" on stdout and shows its
    # progress bars; nothing is downloaded, so say what happens instead, on stderr.
    start = time.perf_counter()
    print(f"preparing {builder.name} once as array_record in {builder.data_dir} "
          "(nothing is downloaded) ...", file=sys.stderr, flush=True)
    try:
      with contextlib.redirect_stdout(io.StringIO()):
        tfds.display_progress_bar(False)
        try:
          builder.download_and_prepare(
              download_config=tfds.download.DownloadConfig(try_download_gcs=False))
        finally:
          tfds.display_progress_bar(True)
      print(f"prepared {builder.name} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    except FileExistsError:
      builder = make_builder()
      if not builder.is_prepared():
        raise
  return builder


class Digits(_PackageBuilder, skip_registration=True):
  """The 1,797 8×8 handwritten digits (values 0..16) shipped inside scikit-learn."""

  name = 'gans_jax_digits'
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Fixed 1,437 / 360 train/test split of sklearn.datasets.load_digits.'}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Optical recognition of handwritten digits (UCI), the 8x8 version bundled with '
            'scikit-learn: 1,797 grayscale images with 17 intensity levels (0..16). `index` is the '
            'row in sklearn.datasets.load_digits().'),
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
            'label': tfds.features.ClassLabel(num_classes=10),
            'index': tfds.features.Tensor(shape=(), dtype=np.int64),
        }),
        supervised_keys=('image', 'label'),
        # Records stay in key order, so record i of a split is its i-th smallest sklearn row.
        disable_shuffling=True,
        homepage='https://archive.ics.uci.edu/dataset/80',
        citation=(
            '@misc{alpaydin1998digits, author={Alpaydin, E. and Kaynak, C.}, title={Optical '
            'Recognition of Handwritten Digits}, year={1998}, publisher={UCI Machine Learning '
            'Repository}}'),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the data ship with scikit-learn.
    return {split: self._generate_examples(split) for split in ('train', 'test')}

  def _generate_examples(self, split):
    from sklearn.datasets import load_digits  # Slow import, needed only while preparing.

    digits = load_digits()
    for row in digits_split_rows(split):
      yield int(row), {
          'image': digits.images[row].astype(np.uint8)[..., None],
          'label': int(digits.target[row]),
          'index': row,
      }


class _Mixture2D(_PackageBuilder, skip_registration=True):
  """Shared builder of the 2-D Gaussian mixtures; subclasses set `name`, `MIXTURE`, `NUM_MODES`."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': '100,000 train and 10,000 test points from fixed seeds.'}
  MIXTURE: str
  NUM_MODES: int

  def _info(self) -> tfds.core.DatasetInfo:
    centres, std = mixture_centers(self.MIXTURE)
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            f'{self.NUM_MODES} isotropic Gaussians with std {std} at the centres given by '
            f'gans_jax.data.mixture_centers({self.MIXTURE!r}); `label` is the mode index.'),
        features=tfds.features.FeaturesDict({
            'point': tfds.features.Tensor(shape=(2,), dtype=np.float32),
            'label': tfds.features.ClassLabel(num_classes=len(centres)),
        }),
        supervised_keys=('point', 'label'),
        disable_shuffling=True,
        homepage='https://arxiv.org/abs/1712.04086',
        citation=(
            '@inproceedings{lin2018pacgan, author={Lin, Zinan and Khetan, Ashish and Fanti, Giulia '
            'and Oh, Sewoong}, title={PacGAN: The power of two samples in generative adversarial '
            'networks}, booktitle={NeurIPS}, year={2018}}'),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Generated from fixed seeds.
    return {split: self._generate_examples(split) for split in MIXTURE_SPLIT_SIZES}

  def _generate_examples(self, split):
    points, labels = sample_mixture(
        self.MIXTURE, MIXTURE_SPLIT_SIZES[split], _MIXTURE_SEEDS[(self.MIXTURE, split)])
    for i in range(len(points)):
      yield i, {'point': points[i], 'label': int(labels[i])}


class Ring8(_Mixture2D, skip_registration=True):
  """8 Gaussians (σ = 0.01) on the unit circle; PacGAN's 2-D ring."""

  name = 'gans_jax_ring8'
  MIXTURE = 'ring8'
  NUM_MODES = 8


class Grid25(_Mixture2D, skip_registration=True):
  """25 Gaussians (σ = 0.05) on the grid {−4, −2, 0, 2, 4}²; PacGAN's 2-D grid."""

  name = 'gans_jax_grid25'
  MIXTURE = 'grid25'
  NUM_MODES = 25


# Config-facing name -> builder class.
BUILDERS: dict[str, type[tfds.core.GeneratorBasedBuilder]] = {
    'digits': Digits,
    'ring8': Ring8,
    'grid25': Grid25,
}


# digits2styled: two unpaired domains made from the digits (CycleGAN's trainA/trainB/testA/testB).
# Domain A is the digits; domain B is `style_transform` of digits. The 1,437 train digits are permuted
# with this seed: the first DIGITS2STYLED_HALF go to trainA, the next DIGITS2STYLED_HALF to trainB
# (one digit is left out so both domains have the same size). testA is the digits test split and
# testB its transforms in the same order, so (testA[i], testB[i]) = (a, T(a)) pairs for measurement.
DIGITS2STYLED_SPLIT_SEED = 1
DIGITS2STYLED_HALF = 718
TWO_DOMAIN_DATASETS = ('digits2styled',)
# One-domain views of it (e.g. for each domain's classifier): name -> (domain, {split: two-domain split}).
DOMAIN_DATASETS = {
    'digits2styled_a': {'train': 'trainA', 'test': 'testA'},
    'digits2styled_b': {'train': 'trainB', 'test': 'testB'},
}


def digits2styled_train_positions(domain: str) -> np.ndarray:
  """Positions in the digits train split (records in sklearn row order) of trainA or trainB.

  Args:
    domain: 'A' or 'B'.

  Returns:
    int64 [DIGITS2STYLED_HALF] positions; A's and B's are disjoint.
  """
  perm = np.random.RandomState(DIGITS2STYLED_SPLIT_SEED).permutation(
      DIGITS_TOTAL - DIGITS_TEST_SIZE)
  h = DIGITS2STYLED_HALF
  return {'A': perm[:h], 'B': perm[h:2 * h]}[domain].astype(np.int64)


def style_transform(x: np.ndarray) -> np.ndarray:
  """The known style T of domain B: thicker strokes, then inverted intensities.

  T(x) = −maxpool_{3×3, stride 1}(x), the max over each pixel's 3×3 neighbourhood (edges padded
  with −1, the background), on images in [−1, 1] at the training resolution: strokes (high values)
  grow by one pixel on every side and the picture is inverted (white background, dark digits).

  Args:
    x: float32 [N, H, W, C] in [−1, 1].

  Returns:
    float32 [N, H, W, C] in [−1, 1].
  """
  pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1.0)
  h, w = x.shape[1:3]
  shifted = [pad[:, i:i + h, j:j + w] for i in range(3) for j in range(3)]
  return -np.max(np.stack(shifted), axis=0).astype(np.float32)
