"""A folder of PNG/JPEG images as a TFDS dataset: `dataset.name = 'folder:/path/to/images'`.

The folder is read recursively. When its top level holds the directories `train/` and `test/`
(and no images outside them), each is a split of the same name; otherwise the whole folder is the
split 'train'. Within a split, when the images sit in subfolders, the first-level subfolder of each
image is its class (labels 0..K-1 in sorted name order over both splits, as torchvision's
ImageFolder); when they all sit at the top, the dataset has no labels. Images are decoded with PIL (greyscale when
every image is, RGB otherwise), centre-cropped to their largest square and resized to
`dataset.resolution` with the pipeline's own resize (`preprocess.preprocess_images`, as for catalog
datasets), then stored as uint8 (the resize's output rounded to the nearest of 256 levels) in
array_record, with no TensorFlow. With `resolution=None` every image must have the same size and
is kept whole.

Prepared once per folder state, under `<data_dir>/gans_jax_folder/<config>/1.0.0/` where the
config name is `<folder name>_<fingerprint>_<resolution>`: the fingerprint is a SHA-256 prefix of
the folder's absolute path and every image's relative path, size and modification time, so an
image added, removed, replaced or touched makes a new copy instead of silently reusing the old
(older copies stay until deleted). Records follow the sorted paths.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from gans_jax.data.builders import _PackageBuilder, prepared
from gans_jax.data.preprocess import preprocess_images
from gans_jax.errors import UserError
from gans_jax.image_files import IMAGE_EXTENSIONS, list_image_files, read_image, to_uint8

PREFIX = "folder:"
# A folder whose top level holds these directories has these splits.
SPLIT_DIRS = ("train", "test")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclasses.dataclass(frozen=True)
class FolderScan:
  """What preparing a folder needs: its files, labels, channels and stored image side."""

  root: str
  files: tuple[str, ...]  # paths relative to root, sorted
  splits: tuple[str, ...]  # ('train',), or SPLIT_DIRS when the folder holds train/ and test/
  classes: tuple[str, ...]  # class subfolder names, sorted; () without labels
  channels: int
  side: int | None  # stored square side (the resolution); None: native size
  native_shape: tuple[int, int] | None  # (H, W) shared by every image when side is None
  fingerprint: str

  def split_files(self, split: str) -> list[tuple[str, str]]:
    return _split_members(self.files, self.splits, split)


def _split_members(files, splits: tuple[str, ...], split: str) -> list[tuple[str, str]]:
  """(path relative to root, path relative to the split's directory) of each file of `split`."""
  if splits == ("train",):
    return [(f, f) for f in files]
  prefix = split + os.sep
  return [(f, f[len(prefix):]) for f in files if f.startswith(prefix)]


def _split_names(root: str, files: list[str]) -> tuple[str, ...]:
  """SPLIT_DIRS when `root` holds train/ and test/ and every image is in one of them; ('train',)
  when it does not hold both; UserError naming an image outside them otherwise."""
  if not all(os.path.isdir(os.path.join(root, d)) for d in SPLIT_DIRS):
    return ("train",)
  outside = [f for f in files if f.split(os.sep, 1)[0] not in SPLIT_DIRS]
  if outside:
    raise UserError(f"dataset.name: {PREFIX}{root} holds train/ and test/ (its splits) but also "
                    f"{os.path.join(root, outside[0])}; move every image into train/ or test/.")
  return SPLIT_DIRS


def _split_classes(root: str, split_root: str, files: list[str]) -> set[str]:
  """The class subfolders of one split's files (relative to `split_root`); empty when flat."""
  if not files:
    raise UserError(f"dataset.name: {PREFIX}{root}: {split_root} holds no PNG or JPEG files.")
  nested = [f for f in files if os.sep in f]
  if nested and len(nested) < len(files):
    top = next(f for f in files if os.sep not in f)
    raise UserError(f"dataset.name: {PREFIX}{root} has images both in class subfolders and at "
                    f"the top level of {split_root} ({os.path.join(split_root, top)}); move them "
                    "into subfolders or out of them.")
  return {f.split(os.sep, 1)[0] for f in nested}


def _classes(root: str, files: list[str], splits: tuple[str, ...]) -> tuple[str, ...]:
  """Class names over every split; UserError if one split is labelled and another is not, or if
  the test split has a class the training split lacks."""
  per_split = {}
  for split in splits:
    split_root = root if splits == ("train",) else os.path.join(root, split)
    per_split[split] = _split_classes(
        root, split_root, [inner for _, inner in _split_members(files, splits, split)])
  if len(splits) > 1:
    train, test = per_split["train"], per_split["test"]
    if bool(train) != bool(test):
      raise UserError(f"dataset.name: {PREFIX}{root}: train/ and test/ must both have class "
                      "subfolders or both be flat.")
    if test - train:
      raise UserError(f"dataset.name: {PREFIX}{root}: test/ has class {sorted(test - train)[0]!r}"
                      " that train/ lacks.")
  return tuple(sorted(set().union(*per_split.values())))


def _read_header(path: str) -> tuple[str, tuple[int, int]]:
  """(PIL mode, (H, W)) from the file's header; UserError naming the file if PIL cannot (its
  message as `image_files.read_image`'s, which finds a body that does not decode)."""
  try:
    with Image.open(path) as image:
      return image.mode, (image.height, image.width)
  except Exception as e:  # PIL raises several types for a bad file; all mean "unreadable"
    raise UserError(f"{path}: not a readable image ({type(e).__name__}: "
                    f"{' '.join(str(e).split())[:150]})") from None


def scan_folder(root: str, resolution: int | None) -> FolderScan:
  """Lists and checks a folder's images (headers only); UserError naming the folder or file."""
  if not os.path.isdir(root):
    raise UserError(f"dataset.name: {PREFIX}{root} is not a directory.")
  files = [os.path.relpath(path, root) for path in list_image_files(root)]
  if not files:
    raise UserError(f"dataset.name: {PREFIX}{root} holds no PNG or JPEG files "
                    f"({', '.join(IMAGE_EXTENSIONS)}, searched recursively).")
  splits = _split_names(root, files)
  classes = _classes(root, files, splits)
  digest = hashlib.sha256(os.path.abspath(root).encode())
  modes, shapes = set(), set()
  for rel in files:
    path = os.path.join(root, rel)
    mode, shape = _read_header(path)
    modes.add(mode)
    shapes.add(shape)
    stat = os.stat(path)
    digest.update(f"\0{rel}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
  if resolution is None and len(shapes) > 1:
    raise UserError(f"dataset.resolution: the images in {root} have different sizes "
                    f"({', '.join(f'{h}x{w}' for h, w in sorted(shapes)[:3])}, ...); set "
                    "dataset.resolution to crop and resize them to one square size.")
  return FolderScan(
      root=root, files=tuple(files), splits=splits, classes=classes,
      channels=1 if modes <= set(_GREY_MODES) else 3, side=resolution,
      native_shape=None if resolution is not None else next(iter(shapes)),
      fingerprint=digest.hexdigest()[:16])


def config_name(scan: FolderScan) -> str:
  """``<folder name>_<fingerprint>_<side or 'native'>``, the prepared copy's directory name."""
  base = re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(os.path.normpath(scan.root)))[:40]
  return f"{base.strip('_') or 'images'}_{scan.fingerprint}_{scan.side or 'native'}"


def load_image(path: str, channels: int, side: int | None) -> np.ndarray:
  """uint8 [S, S, C] (or [H, W, C] when side is None): decoded, centre-cropped and resized as
  `preprocess.preprocess_images` does for catalog datasets, rounded back to 256 levels."""
  pixels = read_image(path, channels)  # UserError naming the file if its body is unreadable
  if side is None:
    return pixels
  return to_uint8(preprocess_images(pixels[None], max_value=255, resolution=side)[0])


@dataclasses.dataclass
class _FolderConfig(tfds.core.BuilderConfig):
  # Out of the repr: TFDS logs the config, and the scan lists every file.
  scan: FolderScan | None = dataclasses.field(default=None, repr=False)


class ImageFolder(_PackageBuilder, skip_registration=True):
  """The images of one folder (see the module docstring); build with `folder_builder`."""

  name = "gans_jax_folder"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Centre-cropped, resized uint8 images of a folder, with labels."}

  def _info(self) -> tfds.core.DatasetInfo:
    scan = self.builder_config.scan
    shape = (scan.side, scan.side) if scan.side else scan.native_shape
    features = {"image": tfds.features.Tensor(shape=(*shape, scan.channels), dtype=np.uint8)}
    if scan.classes:
      features["label"] = tfds.features.ClassLabel(names=list(scan.classes))
    return tfds.core.DatasetInfo(
        builder=self, description=f"The PNG/JPEG images under {scan.root}.",
        features=tfds.features.FeaturesDict(features), disable_shuffling=True)

  def _split_generators(self, dl_manager):
    del dl_manager  # Local files only.
    return {split: self._generate_examples(split) for split in self.builder_config.scan.splits}

  def _generate_examples(self, split: str):
    scan = self.builder_config.scan
    for i, (rel, in_split) in enumerate(scan.split_files(split)):
      example = {"image": load_image(os.path.join(scan.root, rel), scan.channels, scan.side)}
      if scan.classes:
        example["label"] = scan.classes.index(in_split.split(os.sep, 1)[0])
      yield i, example


def folder_builder(spec: str, data_dir: str | None, resolution: int | None) -> ImageFolder:
  """The prepared ImageFolder of `spec` ('folder:/path'), preparing it first if needed."""
  root = os.path.expanduser(spec[len(PREFIX):])
  scan = scan_folder(root, resolution)
  config = _FolderConfig(name=config_name(scan), scan=scan)
  return prepared(
      lambda: ImageFolder(config=config, data_dir=data_dir, file_format="array_record"))
