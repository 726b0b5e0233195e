"""A directory of MNIST-format (IDX) files as a TFDS dataset: `dataset.name = 'idx:/path/to/dir'`.

The directory holds the four files of the standard layout (MNIST, Fashion-MNIST, KMNIST, EMNIST's
letters ...), each plain or gzipped (`.gz`); the split 'train' is the first pair, 'test' the second:

    train-images-idx3-ubyte   train-labels-idx1-ubyte   t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte

The IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number — two zero
bytes, the element type (0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64) and the number of dimensions d — then d big-endian uint32 sizes, then the elements,
big-endian, in row-major order. Image files are uint8 [N, H, W] (or [N, H, W, C]); label files
uint8 [N] with labels 0..K-1.

Prepared once per file state, as the folder datasets are (`folder.py`): array_record under
`<data_dir>/gans_jax_idx/<dir name>_<fingerprint>_<resolution>/1.0.0/`, uint8 images resized to
`dataset.resolution` by the pipeline's own resize, with no TensorFlow. The fingerprint hashes the
directory's absolute path and each file's name, size and modification time, so a replaced file makes
a new copy instead of silently reusing the old.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import re
import zlib

import numpy as np
import tensorflow_datasets as tfds

from gans_jax.data.builders import _PackageBuilder, prepared
from gans_jax.data.preprocess import preprocess_images
from gans_jax.errors import UserError
from gans_jax.image_files import to_uint8

PREFIX = "idx:"
# Where Debian's package dataset-fashion-mnist puts the four files; the Fashion-MNIST experiments'
# default dataset.name.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST = PREFIX + FASHION_MNIST_DIR
# split -> (images file, labels file), the names without a '.gz'.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX element type byte -> big-endian NumPy dtype.
_ELEMENT_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# Images resized per chunk while preparing (one jitted resize per chunk shape).
_RESIZE_CHUNK = 4096


def parse_header(data: bytes, path: str) -> tuple[np.dtype, tuple[int, ...], int]:
  """(element dtype, dimensions, header size) of an IDX file's first bytes; UserError naming `path`."""
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _ELEMENT_TYPES:
    raise UserError(f"{path}: not an IDX file (wrong magic number "
                    f"{data[:4].hex() or 'in an empty file'}; expected 00 00 <type> <dims>).")
  dtype, ndim = np.dtype(_ELEMENT_TYPES[data[2]]), data[3]
  header = 4 + 4 * ndim
  if len(data) < header:
    raise UserError(f"{path}: truncated IDX file ({len(data)} bytes, its header needs {header}).")
  return dtype, tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4)), header


def parse_idx(data: bytes, path: str) -> np.ndarray:
  """The array an IDX file's bytes hold; UserError naming `path` when they are not IDX or cut short."""
  dtype, dims, header = parse_header(data, path)
  expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
  if len(data) != expected:
    kind = "truncated" if len(data) < expected else "malformed"
    raise UserError(f"{path}: {kind} IDX file ({len(data)} bytes; its header {list(dims)} of "
                    f"{dtype.name} needs {expected}).")
  return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _read_bytes(path: str, size: int = -1) -> bytes:
  """The first `size` (all: -1) bytes of a plain or gzipped (by its '.gz' name) file; UserError
  naming it if it cannot be read."""
  try:
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
      return f.read(size)
  except (EOFError, gzip.BadGzipFile, zlib.error) as e:
    raise UserError(f"{path}: not a complete gzip file ({e}).") from None
  except OSError as e:
    raise UserError(f"{path}: cannot be read ({e.strerror or e}).") from None


def read_idx(path: str) -> np.ndarray:
  """The array in a plain or gzipped IDX file; UserError naming it if it is unreadable or not IDX."""
  return parse_idx(_read_bytes(path), path)


def read_dims(path: str) -> tuple[np.dtype, tuple[int, ...]]:
  """(element dtype, dimensions) from the header alone (the body is checked when prepared)."""
  return parse_header(_read_bytes(path, 4 + 4 * 255), path)[:2]


def find_file(root: str, name: str) -> str:
  """The path of `name` or `name.gz` in `root`; UserError listing both when neither exists."""
  for candidate in (name, name + ".gz"):
    path = os.path.join(root, candidate)
    if os.path.isfile(path):
      return path
  raise UserError(f"dataset.name: {PREFIX}{root} has no {name} (nor {name}.gz); an IDX dataset "
                  f"needs {', '.join(f for pair in SPLIT_FILES.values() for f in pair)}.")


def _check_images(path: str, dtype: np.dtype, dims: tuple[int, ...]) -> None:
  if dtype != np.uint8 or len(dims) not in (3, 4):
    raise UserError(f"{path}: expected uint8 images [N, H, W] or [N, H, W, C], got "
                    f"{dtype.name} {list(dims)}.")


def _check_labels(labels: np.ndarray, num_images: int, labels_path: str, images_path: str) -> None:
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise UserError(f"{labels_path}: expected integer labels [N], got {labels.dtype.name} "
                    f"{list(labels.shape)}.")
  if len(labels) != num_images:
    raise UserError(f"{labels_path}: holds {len(labels)} labels but {images_path} holds "
                    f"{num_images} images.")
  if labels.size and labels.min() < 0:
    raise UserError(f"{labels_path}: labels must be >= 0, found {labels.min()}.")


def read_split(images_path: str, labels_path: str) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 images [N, H, W, C], int64 labels [N]) of one split; UserError naming the bad file."""
  images, labels = read_idx(images_path), read_idx(labels_path)
  _check_images(images_path, images.dtype, images.shape)
  _check_labels(labels, len(images), labels_path, images_path)
  return (images if images.ndim == 4 else images[..., None]), labels.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class IdxScan:
  """What preparing an IDX directory needs, read from its image headers and its labels."""

  root: str
  paths: tuple[tuple[str, str, str], ...]  # (split, images path, labels path)
  image_shape: tuple[int, int, int]  # native (H, W, C)
  num_classes: int
  side: int | None  # stored square side (the resolution); None: native size
  fingerprint: str


def scan_idx(root: str, resolution: int | None) -> IdxScan:
  """Finds the files of `root` and checks their headers and labels (the image bodies are read
  and checked only when the directory is prepared, by `read_split`)."""
  if not os.path.isdir(root):
    hint = ""
    if os.path.normpath(root) == FASHION_MNIST_DIR:
      hint = (" Install Fashion-MNIST with `apt-get install dataset-fashion-mnist`, or put its four "
              "IDX files in a directory and pass --config.dataset.name=idx:/that/directory.")
    raise UserError(f"dataset.name: {PREFIX}{root} is not a directory.{hint}")
  digest = hashlib.sha256(os.path.abspath(root).encode())
  paths, shapes, max_label = [], {}, -1
  for split, names in SPLIT_FILES.items():
    images_path, labels_path = (find_file(root, name) for name in names)
    dtype, dims = read_dims(images_path)
    _check_images(images_path, dtype, dims)
    labels = read_idx(labels_path)
    _check_labels(labels, dims[0], labels_path, images_path)
    shapes[images_path] = (*dims[1:3], dims[3] if len(dims) == 4 else 1)
    max_label = max(max_label, int(labels.max()) if labels.size else -1)
    paths.append((split, images_path, labels_path))
    for path in (images_path, labels_path):
      stat = os.stat(path)
      digest.update(f"\0{os.path.basename(path)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
  if len(set(shapes.values())) > 1:
    raise UserError(f"dataset.name: {PREFIX}{root}: the splits' images differ in shape ("
                    + ", ".join(f"{os.path.basename(p)} {list(s)}" for p, s in shapes.items()) + ").")
  return IdxScan(root=root, paths=tuple(paths), image_shape=next(iter(shapes.values())),
                 num_classes=max_label + 1, side=resolution,
                 fingerprint=digest.hexdigest()[:16])


def config_name(scan: IdxScan) -> str:
  """``<dir name>_<fingerprint>_<side or 'native'>``, the prepared copy's directory name."""
  base = re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(os.path.normpath(scan.root)))[:40]
  return f"{base.strip('_') or 'idx'}_{scan.fingerprint}_{scan.side or 'native'}"


def stored_images(images: np.ndarray, side: int | None) -> np.ndarray:
  """uint8 images as stored: unchanged without a side, else centre-cropped and resized as
  `preprocess.preprocess_images` does for every image source, rounded back to 256 levels."""
  if side is None or images.shape[1:3] == (side, side):
    return images
  return np.concatenate([
      to_uint8(preprocess_images(images[i:i + _RESIZE_CHUNK], max_value=255, resolution=side))
      for i in range(0, len(images), _RESIZE_CHUNK)])


@dataclasses.dataclass
class _IdxConfig(tfds.core.BuilderConfig):
  scan: IdxScan | None = dataclasses.field(default=None, repr=False)


class IdxDataset(_PackageBuilder, skip_registration=True):
  """The train and test splits of one IDX directory (see the module docstring); use `idx_builder`."""

  name = "gans_jax_idx"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "uint8 images and labels of an MNIST-format directory, resized."}

  def _info(self) -> tfds.core.DatasetInfo:
    scan = self.builder_config.scan
    h, w, c = scan.image_shape
    shape = (scan.side, scan.side, c) if scan.side else (h, w, c)
    return tfds.core.DatasetInfo(
        builder=self, description=f"The IDX files in {scan.root}.",
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=shape, dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=scan.num_classes)}),
        disable_shuffling=True)

  def _split_generators(self, dl_manager):
    del dl_manager  # Local files only.
    return {split: self._generate_examples(images, labels)
            for split, images, labels in self.builder_config.scan.paths}

  def _generate_examples(self, images_path: str, labels_path: str):
    images, labels = read_split(images_path, labels_path)
    images = stored_images(images, self.builder_config.scan.side)
    for i, (image, label) in enumerate(zip(images, labels)):
      yield i, {"image": image, "label": int(label)}


def idx_builder(spec: str, data_dir: str | None, resolution: int | None) -> IdxDataset:
  """The prepared IdxDataset of `spec` ('idx:/path'), preparing it first if needed."""
  root = os.path.expanduser(spec[len(PREFIX):])
  scan = scan_idx(root, resolution)
  config = _IdxConfig(name=config_name(scan), scan=scan)
  make_builder = lambda: IdxDataset(config=config, data_dir=data_dir, file_format="array_record")
  if not make_builder().is_prepared():
    for _, images_path, labels_path in scan.paths:
      read_split(images_path, labels_path)  # every body checked before TFDS starts writing
  return prepared(make_builder)
