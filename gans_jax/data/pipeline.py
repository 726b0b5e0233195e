"""The input pipeline: a `Dataset` that returns preprocessed numpy batches by index.

Three kinds of source, all read through TFDS data sources (ArrayRecord, random access, no TensorFlow):
- the embedded datasets `digits`, `ring8`, `grid25` (`builders.py`), prepared into `data_dir` on first use,
  then decoded in bulk once and held in memory (they are small: ring8 is 100,000 × 2 floats);
- any image dataset already prepared (as ArrayRecord) in `data_dir`, e.g. a TFDS catalog dataset such as
  mnist, cifar10 or celeb_a; read lazily, batch by batch, and never downloaded;
- a folder of PNG/JPEG files, 'folder:/path' (`folder.py`), or a directory of MNIST-format IDX files,
  'idx:/path' (`idx.py`), prepared into `data_dir` once per file state and read lazily.

Two-domain datasets (CycleGAN's `digits2styled` and TFDS `cycle_gan/*`, splits trainA, trainB, testA,
testB): their split 'train' holds both training domains, `Dataset.domains`; index i of it is the pair
(a[i // n_b], b[i % n_b]), and `all()` gives each domain whole, as arrays 'a' and 'b'.

Preprocessing (deterministic, `preprocess.py`): images become float32 NHWC in [−1, 1] (x / (max/2) − 1,
max = 16 for digits and 255 for uint8 images); with a `resolution`, a non-square image is centre-cropped
to its largest central square and then resized to resolution × resolution with `jax.image.resize(...,
'bilinear', antialias=True)` on the host CPU. 2-D points are returned unscaled.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import os
import re
from typing import Any, Protocol

import numpy as np
import tensorflow_datasets as tfds

from gans_jax.data import builders
from gans_jax.data import folder
from gans_jax.data import idx
from gans_jax.data.preprocess import preprocess_images
from gans_jax.errors import UserError

# Examples decoded per `__getitems__` call when `all()` walks a lazily read dataset.
_ALL_CHUNK = 1024


class _Reader(Protocol):
  """Returns preprocessed arrays {'x': ..., 'y': ...} for validated indices."""

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    ...


@dataclasses.dataclass(frozen=True)
class _ArrayReader:
  """An in-memory dataset whose arrays are already preprocessed."""

  arrays: dict[str, np.ndarray]

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[indices] for key, value in self.arrays.items()}

  def all(self) -> dict[str, np.ndarray]:
    return {key: value.copy() for key, value in self.arrays.items()}


@dataclasses.dataclass(frozen=True)
class _SourceReader:
  """A lazily read image data source; decodes and preprocesses each batch on request."""

  source: Any  # A TFDS data source: `__len__`, `__getitem__` and usually `__getitems__`.
  image_key: str
  label_key: str | None
  max_value: float
  resolution: int | None
  example_shape: tuple[int, ...]

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    keys = [int(i) for i in indices]
    if not keys:
      examples = []
    elif hasattr(self.source, '__getitems__'):  # One batched read instead of len(keys) reads.
      examples = self.source.__getitems__(keys)
    else:
      examples = [self.source[k] for k in keys]
    if examples:
      x = self._preprocess([np.asarray(ex[self.image_key]) for ex in examples])
    else:
      x = np.zeros((0, *self.example_shape), np.float32)
    batch = {'x': x}
    if self.label_key is not None:
      batch['y'] = np.asarray([ex[self.label_key] for ex in examples], np.int32).reshape(len(keys))
    return batch

  def _preprocess(self, images: list[np.ndarray]) -> np.ndarray:
    if len({im.shape for im in images}) == 1:
      return preprocess_images(np.stack(images), max_value=self.max_value,
                               resolution=self.resolution)
    # Images of varying size (only with a resolution, checked at load): each on its own.
    return np.concatenate([preprocess_images(im[None], max_value=self.max_value,
                                             resolution=self.resolution) for im in images])


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One split of a dataset, preprocessed, addressed by example index.

  Attributes:
    name: the config-facing name ('digits', 'ring8', 'grid25' or a TFDS dataset name).
    kind: 'image' (x is NHWC in [−1, 1]) or 'points' (x is [N, 2], unscaled).
    example_shape: shape of one preprocessed example, e.g. (16, 16, 1) or (2,).
    num_examples: number of examples in the split.
    num_classes: number of labels (the mode index for the 2-D mixtures), None without labels.
    split: the TFDS split string it was loaded with.
    data_dir: the TFDS data directory it was read from.
    resolution: the requested image side, None for native size (always None for points).
    reader: internal; produces the batches.
  """

  name: str
  kind: str
  example_shape: tuple[int, ...]
  num_examples: int
  num_classes: int | None
  split: str
  data_dir: str
  resolution: int | None
  reader: _Reader = dataclasses.field(repr=False, compare=False)

  def get(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    """Preprocessed examples at `indices`, in that order (repeats allowed).

    Args:
      indices: integer [B] indices in [0, num_examples).

    Returns:
      {'x': float32 [B, *example_shape], 'y': int32 [B]}; 'y' only when the dataset has labels.
    """
    indices = np.asarray(indices)
    if indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
      raise TypeError(f'indices must be a 1-D integer array, got {indices.dtype} {indices.shape}')
    if indices.size and (indices.min() < 0 or indices.max() >= self.num_examples):
      raise IndexError(
          f'indices must lie in [0, {self.num_examples}), got [{indices.min()}, {indices.max()}]')
    return self.reader.read(indices.astype(np.int64))

  @property
  def domains(self) -> tuple[Dataset, Dataset] | None:
    """(A, B), each a one-domain dataset, when this is a two-domain dataset; else None."""
    if isinstance(self.reader, _TwoDomainReader):
      return self.reader.domain_a, self.reader.domain_b
    return None

  def all(self) -> dict[str, np.ndarray]:
    """Every example in index order: the same as `get(np.arange(num_examples))`, except for two
    domains, where it is every example of each domain ('a', 'b', of their own lengths)."""
    if hasattr(self.reader, 'all'):
      return self.reader.all()
    chunks = [
        self.get(np.arange(start, min(start + _ALL_CHUNK, self.num_examples)))
        for start in range(0, self.num_examples, _ALL_CHUNK)
    ]
    if not chunks:
      return self.get(np.zeros((0,), np.int64))
    return {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}


@dataclasses.dataclass(frozen=True)
class _TwoDomainReader:
  """The unpaired training set of two domains, each a one-domain `Dataset` ('x', maybe 'y').

  Index i addresses the pair (a[i // n_b], b[i % n_b]) of all n_a * n_b pairs, so a uniformly drawn
  index gives independent, uniformly drawn examples of each domain whatever their sizes.
  """

  domain_a: Dataset
  domain_b: Dataset

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    n_b = self.domain_b.num_examples
    return _pair(self.domain_a.get(indices // n_b), self.domain_b.get(indices % n_b))

  def all(self) -> dict[str, np.ndarray]:
    return _pair(self.domain_a.all(), self.domain_b.all())


def _pair(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """{'a', 'b'} images plus {'y_a', 'y_b'} labels where the domains have them."""
  out = {'a': a['x'], 'b': b['x']}
  out.update({f'y_{d}': arrays['y'] for d, arrays in (('a', a), ('b', b)) if 'y' in arrays})
  return out


def _two_domains(name: str, domain_a: Dataset, domain_b: Dataset) -> Dataset:
  """The 'train' split of a two-domain dataset from its one-domain splits trainA and trainB."""
  shape_a, shape_b = domain_a.example_shape, domain_b.example_shape
  if shape_a != shape_b:
    field = 'dataset.name' if shape_a[:-1] == shape_b[:-1] else 'dataset.resolution'
    raise UserError(
        f'{field}: the domains of {name!r} differ in shape: {domain_a.split} {shape_a}, '
        f'{domain_b.split} {shape_b}'
        + ('' if field == 'dataset.name' else '; set dataset.resolution to make both square') + '.')
  return Dataset(
      name=name, kind='image', example_shape=shape_a,
      num_examples=domain_a.num_examples * domain_b.num_examples,
      num_classes=domain_a.num_classes, split='train', data_dir=domain_a.data_dir,
      resolution=domain_a.resolution, reader=_TwoDomainReader(domain_a, domain_b))


def _check_resolution(resolution: Any) -> None:
  if resolution is None:
    return
  if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
    raise UserError(
        f'dataset.resolution must be a positive integer (the side of the square images) or None '
        f'for the native size, got {resolution!r}.')


def _check_split(builder: tfds.core.DatasetBuilder, name: str, split: Any) -> None:
  """Rejects split names the prepared dataset does not have (slices like 'train[:90%]' pass)."""
  if not isinstance(split, str) or not split.strip():
    raise UserError(f"dataset.split must be a TFDS split string such as 'train', got {split!r}.")
  known = sorted(builder.info.splits.keys())
  if not known:  # Metadata without split info (e.g. under tfds.testing.mock_data): let TFDS decide.
    return
  for part in split.split('+'):
    base = part.split('[', 1)[0].strip()
    if base not in known:
      fix = f"use one of {known} (TFDS slices such as 'train[:90%]' work too)"
      if name.startswith(folder.PREFIX) and base in folder.SPLIT_DIRS:
        root = name[len(folder.PREFIX):]
        fix = (f'put the training images in {os.path.join(root, "train")} and held-out ones in '
               f'{os.path.join(root, "test")} (each flat or in class subfolders)')
      raise UserError(f'dataset.split: {name!r} has no split {base!r}; {fix}.')


def _decode_records(builder: tfds.core.DatasetBuilder, split: str) -> dict[str, np.ndarray]:
  """Reads every record of a split of fixed-shape numeric features into stacked arrays.

  TFDS's per-record `deserialize_example_np` costs ~70 µs, 7 s for ring8's 100,000 points; reading raw
  bytes in one batch and parsing the `tf.train.Example` protos straight into preallocated arrays takes
  ~1 s. Valid only for `Tensor`/`ClassLabel` features of fixed shape, which TFDS stores as
  float_list (floating) or int64_list (integers, bool); tests compare it with TFDS's own decoder.
  """
  from tensorflow_datasets.proto import tf_example_pb2  # pylint: disable=g-import-not-at-top

  specs = builder.info.features.get_serialized_info()
  source = builder.as_data_source(
      split=split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
  records = source.__getitems__(list(range(len(source)))) if len(source) else []
  n = len(records)
  out, flat, fields = {}, {}, {}
  for key, spec in specs.items():
    if any(d is None for d in spec.shape):
      raise AssertionError(f'{builder.name}/{key}: bulk decoding needs a fixed shape')
    out[key] = np.empty((n, *spec.shape), spec.np_dtype)
    flat[key] = out[key].reshape(n, -1)  # A view: filling it fills out[key].
    fields[key] = 'float_list' if np.issubdtype(spec.np_dtype, np.floating) else 'int64_list'
  for i, record in enumerate(records):
    feature = tf_example_pb2.Example.FromString(record).features.feature
    for key, field in fields.items():
      flat[key][i] = getattr(feature[key], field).value
  return out


def _load_embedded(name: str, split: str, data_dir: str | None,
                   resolution: int | None) -> Dataset:
  if name != 'digits' and resolution is not None:
    raise UserError(
        f'dataset.resolution applies to image datasets only; set it to None for {name!r}.')
  builder = builders.prepared(
      lambda: builders.BUILDERS[name](data_dir=data_dir, file_format='array_record'))
  _check_split(builder, name, split)
  records = _decode_records(builder, split)
  num_classes = builder.info.features['label'].num_classes
  if name == 'digits':
    x = preprocess_images(records['image'], max_value=16, resolution=resolution)
    kind = 'image'
  else:
    x, kind = records['point'], 'points'
  arrays = {'x': x, 'y': records['label'].astype(np.int32)}
  return Dataset(
      name=name, kind=kind, example_shape=tuple(x.shape[1:]), num_examples=len(x),
      num_classes=num_classes, split=split, data_dir=os.fspath(builder.data_dir_root),
      resolution=resolution, reader=_ArrayReader(arrays))


def _open_source(builder: tfds.core.DatasetBuilder, name: str, split: str) -> Sequence[Any]:
  """`builder.as_data_source(split)`, with a fix-it message when the data are missing or unreadable."""
  root = os.fspath(builder.data_dir_root)
  try:
    return builder.as_data_source(split=split)
  except Exception as e:  # Diagnosed below; anything not diagnosed is re-raised unchanged.
    if not builder.is_prepared():
      raise UserError(
          f'dataset.data_dir: {name!r} is not prepared in {root} and is never downloaded here; on '
          f'a machine with internet and TensorFlow run `tfds build {name} --data_dir=DIR '
          f'--file_format=array_record`, then copy DIR/{builder.name} into {root} or set '
          f'dataset.data_dir to DIR.') from e
    file_format = builder.info.file_format
    if file_format not in (tfds.core.FileFormat.ARRAY_RECORD, tfds.core.FileFormat.PARQUET):
      raise UserError(
          f'dataset.data_dir: {name!r} in {builder.data_dir} is stored as {file_format.value}, '
          f'which has no random access; rebuild it with `tfds build {name} --data_dir={root} '
          '--file_format=array_record`.') from e
    raise


# TFDS names, optionally with a config and a version: 'mnist', 'celeb_a:2.1.0', 'ds/config:1.0.0'.
# Namespaced community names ('huggingface:x') would go online, so they are not accepted.
_TFDS_NAME = re.compile(r'[A-Za-z0-9_]+(/[A-Za-z0-9_.\-]+)?(:[0-9.*]+)?')


def _load_prepared(name: str, split: str, data_dir: str | None,
                   resolution: int | None) -> Dataset:
  unknown = (
      f"dataset.name: unknown dataset {name!r}; use 'digits', 'ring8', 'grid25', the name of a "
      'TFDS image dataset (see tfds.list_builders()) prepared in dataset.data_dir, or '
      "'folder:/path/to/images' or 'idx:/path/to/idx_files'")
  if not _TFDS_NAME.fullmatch(name):
    raise UserError(unknown + '.')
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise UserError(unknown + '.') from e
  except (ValueError, AssertionError) as e:  # Bad config or version: TFDS says which.
    raise UserError(f'{unknown}: {str(e).splitlines()[0]}') from e
  if split == 'train' and _is_two_domain(builder):
    return _two_domains(name, *(_load_prepared(name, f'train{d}', data_dir, resolution)
                                for d in 'AB'))
  features = builder.info.features
  image = features['image'] if 'image' in features else None
  if not isinstance(image, tfds.features.Image) or image.np_dtype != np.uint8:
    raise UserError(
        f"dataset.name: {name!r} has no uint8 'image' feature; only image datasets can be read "
        "from TFDS (use 'digits', 'ring8' or 'grid25' otherwise).")
  _check_split(builder, name, split)
  height, width, channels = image.shape
  if resolution is None:
    if height is None or width is None:
      raise UserError(
          f'dataset.resolution: {name!r} has images of varying size; set dataset.resolution.')
    example_shape = (height, width, channels)
  else:
    example_shape = (resolution, resolution, channels)
  label = features['label'] if 'label' in features else None
  has_labels = isinstance(label, tfds.features.ClassLabel)
  source = _open_source(builder, name, split)
  reader = _SourceReader(
      source=source, image_key='image', label_key='label' if has_labels else None,
      max_value=255, resolution=resolution, example_shape=example_shape)
  return Dataset(
      name=name, kind='image', example_shape=example_shape, num_examples=len(source),
      num_classes=label.num_classes if has_labels else None, split=split,
      data_dir=data_dir if data_dir is not None else os.fspath(builder.data_dir_root),
      resolution=resolution, reader=reader)


def _load_local(name: str, split: str, data_dir: str | None,
                resolution: int | None) -> Dataset:
  """A folder of images (`folder.py`) or a directory of IDX files (`idx.py`), prepared once per
  file state, read lazily."""
  make_builder = folder.folder_builder if name.startswith(folder.PREFIX) else idx.idx_builder
  builder = make_builder(name, data_dir, resolution)
  _check_split(builder, name, split)
  features = builder.info.features
  has_labels = "label" in features
  source = builder.as_data_source(split=split)
  example_shape = tuple(features["image"].shape)
  reader = _SourceReader(
      source=source, image_key="image", label_key="label" if has_labels else None,
      max_value=255, resolution=resolution, example_shape=example_shape)
  return Dataset(
      name=name, kind="image", example_shape=example_shape, num_examples=len(source),
      num_classes=features["label"].num_classes if has_labels else None, split=split,
      data_dir=os.fspath(builder.data_dir_root), resolution=resolution, reader=reader)


def _is_two_domain(builder: tfds.core.DatasetBuilder) -> bool:
  """TFDS `cycle_gan/*`, or any prepared dataset with a split trainA or trainB and no 'train' (a
  missing domain is then named by the split check)."""
  splits = set(builder.info.splits.keys())
  return builder.name == 'cycle_gan' or (bool({'trainA', 'trainB'} & splits) and 'train' not in splits)


# The splits of the two-domain dataset: 'train' holds both domains (for CycleGAN), the others one.
TWO_DOMAIN_SPLITS = ('train', 'trainA', 'trainB', 'testA', 'testB')


def _load_digits2styled(name: str, split: str, data_dir: str | None,
                        resolution: int | None) -> Dataset:
  """digits2styled (see `builders.style_transform`), built from the prepared digits.

  Split 'train' of 'digits2styled' is the two-domain training set (`_TwoDomainReader`): arrays 'a',
  'b' (images, unpaired) and 'y_a', 'y_b' (their digit labels, never trained on); splits
  'trainA', 'trainB', 'testA', 'testB' are one domain each ('x', 'y'). 'digits2styled_a' and
  'digits2styled_b' are the one-domain views with splits 'train' and 'test' (what a classifier of
  one domain trains on). testB[i] = T(testA[i]).
  """
  if name in builders.DOMAIN_DATASETS:
    views = builders.DOMAIN_DATASETS[name]
    if split not in views:
      raise UserError(f'dataset.split: {name!r} has no split {split!r}; use one of {sorted(views)}.')
    dataset = _load_digits2styled('digits2styled', views[split], data_dir, resolution)
    return dataclasses.replace(dataset, name=name, split=split)
  if split not in TWO_DOMAIN_SPLITS:
    raise UserError(f'dataset.split: {name!r} has no split {split!r}; use one of '
                    f'{list(TWO_DOMAIN_SPLITS)}.')
  if split == 'train':
    return _two_domains(name, *(_load_digits2styled(name, f'train{d}', data_dir, resolution)
                                for d in 'AB'))
  source = 'test' if split.startswith('test') else 'train'
  digits = _load_embedded('digits', source, data_dir, resolution)
  arrays = digits.all()
  x, y = arrays['x'], arrays['y']
  if source == 'train':
    pos = builders.digits2styled_train_positions(split[-1])
    x, y = x[pos], y[pos]
  if split.endswith('B'):
    x = builders.style_transform(x)
  return Dataset(
      name=name, kind='image', example_shape=tuple(x.shape[1:]), num_examples=len(x),
      num_classes=digits.num_classes, split=split, data_dir=digits.data_dir,
      resolution=resolution, reader=_ArrayReader({'x': x, 'y': y}))


def load_dataset(name: str, *, split: str = 'train', data_dir: str | None = None,
                 resolution: int | None = None) -> Dataset:
  """Opens one split of a dataset for random-access, preprocessed reads.

  'digits', 'ring8' and 'grid25' are prepared into `data_dir` on first use (fast and harmless on
  later calls) and held in memory; 'folder:/path' is a folder of PNG/JPEG images (`folder.py`) and
  'idx:/path' a directory of MNIST-format files (`idx.py`), prepared into `data_dir` once per file
  state; any other name must be a TFDS image dataset
  already prepared as ArrayRecord in `data_dir`; both read lazily and never downloaded.

  Args:
    name: 'digits', 'ring8', 'grid25', or a TFDS dataset name such as 'mnist' or 'celeb_a'.
    split: a TFDS split string: 'train', 'test', 'train[:90%]', ...
    data_dir: the TFDS data directory; None for TFDS's default (~/tensorflow_datasets or
      $TFDS_DATA_DIR).
    resolution: for images, the side of the square output (None keeps the native size); must be
      None for 2-D points.

  Returns:
    A `Dataset`.

  Raises:
    UserError: unknown name, data not prepared in `data_dir`, unknown split, or bad resolution.
  """
  if not isinstance(name, str) or not name:
    raise UserError(f"dataset.name must be a dataset name such as 'digits', got {name!r}.")
  _check_resolution(resolution)
  if data_dir is not None:
    data_dir = os.path.expanduser(os.fspath(data_dir))
  if name.startswith((folder.PREFIX, idx.PREFIX)):
    return _load_local(name, split, data_dir, resolution)
  if name in builders.BUILDERS:
    return _load_embedded(name, split, data_dir, resolution)
  if name in builders.TWO_DOMAIN_DATASETS or name in builders.DOMAIN_DATASETS:
    return _load_digits2styled(name, split, data_dir, resolution)
  return _load_prepared(name, split, data_dir, resolution)

