"""Tests for gans_jax.data: the embedded TFDS builders and the input pipeline, all offline, no TensorFlow.

Expected values come from independent computations here: sklearn's own arrays, closed-form mixture
centres, Gaussian tail probabilities, and a hand-written bilinear interpolation matrix.
"""

import os
from unittest import mock

import numpy as np
from PIL import Image as PILImage
import pytest
from sklearn.datasets import load_digits
import tensorflow_datasets as tfds

from gans_jax.data import builders
from gans_jax.data import load_dataset
from gans_jax.data import mixture_centers
from gans_jax.errors import UserError


# `data_dir` (tests/conftest.py) is one session-wide TFDS directory: ring8/grid25 take seconds to prepare.


@pytest.fixture(scope='module')
def digits_train(data_dir):
  return load_dataset('digits', split='train', data_dir=data_dir)


@pytest.fixture(scope='module')
def digits_test(data_dir):
  return load_dataset('digits', split='test', data_dir=data_dir)


@pytest.fixture(scope='module')
def ring8(data_dir):
  return load_dataset('ring8', split='train', data_dir=data_dir)


@pytest.fixture(scope='module')
def grid25(data_dir):
  return load_dataset('grid25', split='train', data_dir=data_dir)


def _sklearn_rows(data_dir, split):
  """The sklearn row of every record of a digits split, read through TFDS's own decoder."""
  builder = builders.BUILDERS['digits'](data_dir=data_dir, file_format='array_record')
  source = builder.as_data_source(split=split)
  return np.array([source[i]['index'] for i in range(len(source))])


# ---------------------------------------------------------------------------------------------- digits


def test_digits_splits_have_fixed_sizes_that_add_up_to_1797(digits_train, digits_test):
  assert (digits_train.num_examples, digits_test.num_examples) == (1437, 360)
  assert digits_train.num_examples + digits_test.num_examples == 1797
  assert digits_train.kind == 'image' and digits_train.num_classes == 10


def test_digits_split_is_the_documented_permutation_and_disjoint(data_dir, digits_train):
  train_rows = _sklearn_rows(data_dir, 'train')
  test_rows = _sklearn_rows(data_dir, 'test')
  perm = np.random.RandomState(0).permutation(1797)
  np.testing.assert_array_equal(test_rows, np.sort(perm[:360]))
  np.testing.assert_array_equal(train_rows, np.sort(perm[360:]))
  assert not set(train_rows) & set(test_rows)
  assert len(train_rows) == digits_train.num_examples


def test_digits_values_and_labels_match_sklearn(data_dir, digits_train):
  sk = load_digits()
  rows = _sklearn_rows(data_dir, 'train')[:8]
  batch = digits_train.get(np.arange(8))
  np.testing.assert_allclose(batch['x'][..., 0], sk.images[rows] / 8.0 - 1.0, atol=1e-6)
  np.testing.assert_array_equal(batch['y'], sk.target[rows])
  assert batch['x'].dtype == np.float32 and batch['y'].dtype == np.int32


def test_digits_load_twice_gives_the_same_split(data_dir, digits_train):
  again = load_dataset('digits', split='train', data_dir=data_dir)
  first, second = digits_train.all(), again.all()
  np.testing.assert_array_equal(first['x'], second['x'])
  np.testing.assert_array_equal(first['y'], second['y'])


@pytest.mark.parametrize('resolution', [None, 8, 16, 32])
def test_digits_shapes_range_and_labels_at_each_resolution(data_dir, resolution):
  ds = load_dataset('digits', data_dir=data_dir, resolution=resolution)
  side = resolution or 8
  batch = ds.all()
  assert ds.example_shape == (side, side, 1)
  assert batch['x'].shape == (1437, side, side, 1) and batch['x'].dtype == np.float32
  assert batch['x'].min() >= -1.0 and batch['x'].max() <= 1.0
  assert batch['x'].min() == -1.0  # Background pixels (0) map to exactly −1.
  assert set(np.unique(batch['y'])) == set(range(10))


def test_digits_upsampling_is_half_pixel_bilinear(data_dir, digits_train):
  # 2x bilinear with half-pixel centres: output i samples input position i/2 − 1/4, edges clamped.
  a = np.zeros((16, 8))
  for i in range(16):
    pos = min(max(i / 2 - 0.25, 0.0), 7.0)
    lo = int(np.floor(pos))
    hi = min(lo + 1, 7)
    a[i, lo] += 1 - (pos - lo)
    a[i, hi] += pos - lo
  x8 = digits_train.get(np.arange(4))['x'][..., 0]
  x16 = load_dataset('digits', data_dir=digits_train.data_dir, resolution=16).get(np.arange(4))['x']
  np.testing.assert_allclose(x16[..., 0], np.einsum('ij,njk,lk->nil', a, x8, a), atol=1e-5)


def test_get_follows_indices_with_repeats_and_matches_all(digits_train):
  idx = np.array([5, 0, 5, 1436, 3])
  batch, every = digits_train.get(idx), digits_train.all()
  np.testing.assert_array_equal(batch['x'], every['x'][idx])
  np.testing.assert_array_equal(batch['y'], every['y'][idx])
  np.testing.assert_array_equal(digits_train.get(idx)['x'], batch['x'])
  assert digits_train.get(np.array([], np.int64))['x'].shape == (0, 8, 8, 1)
  with pytest.raises(IndexError):
    digits_train.get(np.array([1437]))


def test_preparing_again_reuses_the_prepared_files(data_dir, digits_train):
  info = os.path.join(builders.BUILDERS['digits'](data_dir=data_dir).data_dir, 'dataset_info.json')
  mtime = os.stat(info).st_mtime_ns
  load_dataset('digits', data_dir=data_dir)
  assert os.stat(info).st_mtime_ns == mtime


# -------------------------------------------------------------------------------------- 2-D mixtures


def test_mixture_centers_are_the_closed_forms():
  centres, std = mixture_centers('ring8')
  k = np.arange(8)
  np.testing.assert_allclose(centres, np.c_[np.cos(np.pi * k / 4), np.sin(np.pi * k / 4)], atol=1e-12)
  assert std == 0.01
  centres, std = mixture_centers('grid25')
  expected = np.array([[x, y] for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)], float)
  np.testing.assert_array_equal(centres, expected)
  assert std == 0.05


@pytest.mark.parametrize('name', ['ring8', 'grid25'])
def test_mixture_split_sizes(data_dir, name, request):
  ds = request.getfixturevalue(name)
  assert (ds.kind, ds.example_shape, ds.num_examples) == ('points', (2,), 100_000)
  assert ds.num_classes == len(mixture_centers(name)[0])
  assert load_dataset(name, split='test', data_dir=data_dir).num_examples == 10_000


@pytest.mark.parametrize('name', ['ring8', 'grid25'])
def test_mixture_points_scatter_around_their_labelled_centre_with_std_sigma(name, request):
  data = request.getfixturevalue(name).all()
  centres, std = mixture_centers(name)
  assert data['x'].dtype == np.float32 and data['y'].dtype == np.int32
  offsets = data['x'] - centres[data['y']]
  for k in range(len(centres)):
    # ≥ 4,000 points per mode: the sample std's relative error is ≈ 1/sqrt(2n) ≈ 1 %.
    np.testing.assert_allclose(offsets[data['y'] == k].std(axis=0), [std, std], rtol=0.05)
  radius = np.linalg.norm(offsets, axis=1) / std
  # |offset|/σ is Rayleigh: P(r > 6) = e^{−18} ≈ 1.5e-8, so none of 100,000 points should exceed 6σ
  # (at 5σ, P = e^{−12.5} ≈ 3.7e-6 would expect 0.37 exceedances: too tight for a fixed sample).
  assert radius.max() < 6.0
  # P(r ≤ 2) = 1 − e^{−2}; binomial std over 100,000 points ≈ 0.001.
  assert abs(np.mean(radius <= 2.0) - (1 - np.exp(-2.0))) < 0.005
  nearest = np.argmin(np.linalg.norm(data['x'][:, None] - centres[None], axis=-1), axis=1)
  np.testing.assert_array_equal(nearest, data['y'])
  assert set(np.unique(data['y'])) == set(range(len(centres)))


def test_bulk_decoding_matches_tfds_decoder(data_dir, ring8):
  source = builders.BUILDERS['ring8'](data_dir=data_dir).as_data_source(split='train')
  idx = np.array([0, 1, 777, 99_999])
  batch = ring8.get(idx)
  for row, i in enumerate(idx):
    example = source[int(i)]
    np.testing.assert_array_equal(batch['x'][row], example['point'])
    assert batch['y'][row] == example['label']


# ------------------------------------------------------------------------------------ TFDS datasets


def test_catalog_dataset_under_mock_data(tmp_path):
  # tfds 4.9.10's mock sets `__getitems__` on a MagicMock, where (unlike `__getitem__`) it is not a
  # supported magic method, so it is called without `self` and fails; route batched reads through the
  # mock's working `__getitem__`. The real ArrayRecord path is covered by the next test.
  from tensorflow_datasets.core.data_sources import base  # pylint: disable=g-import-not-at-top
  one_by_one = lambda self, keys: [self[k] for k in keys]
  with tfds.testing.mock_data(num_examples=6), \
      mock.patch.object(base.BaseDataSource, '__getitems__', one_by_one):
    ds = load_dataset('mnist', split='train', data_dir=str(tmp_path))
    ds32 = load_dataset('mnist', split='train', data_dir=str(tmp_path), resolution=32)
    raw = [ds.reader.source[i] for i in range(6)]
    batch, batch32 = ds.all(), ds32.get(np.array([2, 4]))
  assert (ds.kind, ds.example_shape, ds.num_examples, ds.num_classes) == ('image', (28, 28, 1), 6, 10)
  expected = np.stack([ex['image'] for ex in raw]).astype(np.float64) / 127.5 - 1.0
  np.testing.assert_allclose(batch['x'], expected, atol=1e-6)
  np.testing.assert_array_equal(batch['y'], [ex['label'] for ex in raw])
  assert batch32['x'].shape == (2, 32, 32, 1) and ds32.example_shape == (32, 32, 1)
  assert -1.0 <= batch32['x'].min() and batch32['x'].max() <= 1.0
  np.testing.assert_array_equal(batch32['y'], batch['y'][[2, 4]])


class TinyFaces(builders._PackageBuilder, skip_registration=True):  # pylint: disable=protected-access
  """A celeb_a-like prepared dataset: non-square RGB `Image` (PNG via PIL, no TF), no 'label'."""

  VERSION = tfds.core.Version('1.0.0')

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(6, 10, 3)),
            'attributes': tfds.features.Tensor(shape=(), dtype=np.bool_),
        }),
        disable_shuffling=True)

  def _split_generators(self, dl_manager):
    return {'train': self._generate_examples()}

  def _generate_examples(self):
    for i in range(5):
      yield i, {'image': PILImage.fromarray(_tiny_face(i)), 'attributes': bool(i % 2)}


def _tiny_face(i):
  return ((np.arange(180).reshape(6, 10, 3) * (i + 1)) % 256).astype(np.uint8)


def test_prepared_image_dataset_is_read_decoded_and_cropped(tmp_path):
  TinyFaces(data_dir=str(tmp_path), file_format='array_record').download_and_prepare()
  ds = load_dataset('tiny_faces', data_dir=str(tmp_path))
  assert (ds.kind, ds.example_shape, ds.num_examples, ds.num_classes) == ('image', (6, 10, 3), 5, None)
  batch = ds.get(np.array([3, 0]))
  assert set(batch) == {'x'}
  expected = np.stack([_tiny_face(3), _tiny_face(0)]) / 127.5 - 1.0
  np.testing.assert_allclose(batch['x'], expected, atol=1e-6)
  # Resolution 6: the centre 6 × 6 square (columns 2..7), no resampling.
  square = load_dataset('tiny_faces', data_dir=str(tmp_path), resolution=6).all()['x']
  np.testing.assert_allclose(square[1], _tiny_face(1)[:, 2:8] / 127.5 - 1.0, atol=1e-6)
  small = load_dataset('tiny_faces', data_dir=str(tmp_path), resolution=3).all()['x']
  assert small.shape == (5, 3, 3, 3) and -1.0 <= small.min() and small.max() <= 1.0


# ------------------------------------------------------------------------------------ user errors


@pytest.mark.parametrize('name', ['no_such_dataset', 'huggingface:mnist', 'bad name', ''])
def test_unknown_name_is_a_user_error_naming_dataset_name(tmp_path, name):
  with pytest.raises(UserError, match='dataset.name'):
    load_dataset(name, data_dir=str(tmp_path))


def test_unprepared_catalog_dataset_is_a_user_error_naming_data_dir(tmp_path):
  with pytest.raises(UserError, match=r'dataset\.data_dir.*tfds build mnist'):
    load_dataset('mnist', data_dir=str(tmp_path))


def test_dataset_without_images_is_a_user_error(data_dir):
  # A prepared dataset without an 'image' feature, found through data_dir (read-only builder).
  with pytest.raises(UserError, match='dataset.name'):
    load_dataset('gans_jax_ring8', data_dir=data_dir)


@pytest.mark.parametrize('resolution', [0, -8, 2.5, True, '32'])
def test_bad_resolution_is_a_user_error(data_dir, resolution):
  with pytest.raises(UserError, match='dataset.resolution'):
    load_dataset('digits', data_dir=data_dir, resolution=resolution)


def test_resolution_for_points_is_a_user_error(data_dir, ring8):
  with pytest.raises(UserError, match='dataset.resolution'):
    load_dataset('ring8', data_dir=data_dir, resolution=16)


def test_unknown_split_is_a_user_error(data_dir, digits_train):
  with pytest.raises(UserError, match='dataset.split'):
    load_dataset('digits', split='validation', data_dir=data_dir)


def test_slice_split_selects_a_prefix(data_dir, digits_train):
  head = load_dataset('digits', split='train[:10]', data_dir=data_dir).all()
  np.testing.assert_array_equal(head['x'], digits_train.get(np.arange(10))['x'])


def test_mixture_centers_of_other_datasets_is_a_user_error():
  with pytest.raises(UserError, match='dataset.name'):
    mixture_centers('digits')
