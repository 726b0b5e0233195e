"""Image files: folders of PNG/JPEG files, `.npz` arrays of uint8 images, and uint8 <-> [-1, 1].

What `--mode=sample` writes and `python -m gans_jax.fid` reads. Images are
uint8 NHWC on disk; the networks take float32 in [-1, 1]:

    to_uint8(x)   = clip(round((x + 1) * 127.5), 0, 255)   (what a PNG of x holds)
    from_uint8(u) = u / 127.5 - 1                         (pytorch-fid's 2 (u / 255) - 1)

A folder is read recursively (files ending .png, .jpg or .jpeg, any case,
sorted by path); an `.npz` holds one uint8 array [N, H, W, C] or [N, H, W]
under ``arr_0`` (what ``np.savez(path, images)`` writes, as the guided-diffusion
evaluator expects) or as its only array. Every image of one folder or file must
have the same height and width. A path that is missing, an empty folder, or a
file that cannot be read is one `UserError` naming it.
"""

from __future__ import annotations

import os
import zipfile
from typing import Iterator

import numpy as np
from PIL import Image

from gans_jax.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
NPZ_IMAGES_KEY = "arr_0"


def to_uint8(images: np.ndarray) -> np.ndarray:
  """Images in [-1, 1] (any shape) -> uint8 round((x + 1) * 127.5), clipped to [0, 255]."""
  return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def from_uint8(images: np.ndarray) -> np.ndarray:
  """uint8 images -> float32 u / 127.5 - 1 in [-1, 1]."""
  return np.asarray(images, np.float32) / 127.5 - 1.0


def write_png(path: str, image: np.ndarray) -> None:
  """Writes one uint8 [H, W, C] image, C = 1 (grayscale) or 3 (RGB), as a PNG."""
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
    raise ValueError(f"write_png takes uint8 [H, W, 1 or 3], got {image.dtype} {image.shape}")
  Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path, format="PNG")


def _with_channels(image: np.ndarray, channels: int | None, source: str) -> np.ndarray:
  """[..., C] uint8 -> [..., channels]: grayscale is tiled to RGB (as PIL's convert
  does); RGB becomes grayscale only when its three channels are equal."""
  if channels is None or image.shape[-1] == channels:
    return image
  if channels == 3 and image.shape[-1] == 1:
    return np.repeat(image, 3, axis=-1)
  if channels == 1 and image.shape[-1] == 3:
    if not (np.array_equal(image[..., 0], image[..., 1])
            and np.array_equal(image[..., 0], image[..., 2])):
      raise UserError(f"{source}: colour images, but the features take 1-channel images "
                      "(a classifier of a grayscale dataset)")
    return image[..., :1]
  raise UserError(f"{source}: images with {image.shape[-1]} channels, expected {channels}")


def read_image(path: str, channels: int | None = None) -> np.ndarray:
  """One image file -> uint8 [H, W, C]: C = 1 for grayscale files, else 3 (RGB; alpha
  and palettes are converted as PIL's ``convert('RGB')`` does), or `channels` if given."""
  try:
    with Image.open(path) as img:
      img.load()
      mode = "L" if img.mode in ("L", "1", "LA") else "RGB"
      array = np.asarray(img.convert(mode))
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
    raise UserError(f"{path}: not a readable image ({type(e).__name__}: "
                    f"{' '.join(str(e).split())[:150]})") from None
  array = array[..., None] if array.ndim == 2 else array
  return _with_channels(array, channels, path)


def list_image_files(folder: str) -> list[str]:
  """The PNG/JPEG files under `folder` (recursive), sorted by path."""
  return sorted(os.path.join(root, f) for root, _, files in os.walk(folder)
                for f in files if f.lower().endswith(IMAGE_EXTENSIONS))


def read_npz_images(path: str) -> np.ndarray:
  """The uint8 images [N, H, W, C] of an `.npz` (``arr_0``, or its only array)."""
  try:
    with np.load(path, allow_pickle=False) as npz:
      names = list(npz.files)
      if NPZ_IMAGES_KEY not in names and len(names) != 1:
        raise UserError(f"{path}: holds {names}; expected the images as {NPZ_IMAGES_KEY!r} "
                        "or as its only array")
      images = npz[NPZ_IMAGES_KEY if NPZ_IMAGES_KEY in names else names[0]]
  except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
    raise UserError(f"{path}: not a readable .npz ({type(e).__name__}: "
                    f"{' '.join(str(e).split())[:150]})") from None
  if images.ndim == 3:
    images = images[..., None]
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise UserError(f"{path}: holds {images.dtype} {images.shape}; expected uint8 images "
                    "[N, H, W, 1 or 3] (quantise [-1, 1] images with "
                    "gans_jax.image_files.to_uint8)")
  if len(images) == 0:
    raise UserError(f"{path}: holds no images")
  return images


class ImageSource:
  """A folder of image files or an `.npz` of uint8 images, read in batches.

  Attributes:
    path: what it was opened from.
    num: the number of images.
    size: (H, W) of the first image; every other must match.
  """

  def __init__(self, path: str, *, files: list[str] | None = None,
               array: np.ndarray | None = None):
    self.path, self._files, self._array = path, files, array
    self.num = len(files) if files is not None else len(array)
    self.size = (read_image(files[0]) if files is not None else array[0]).shape[:2]

  def batches(self, batch_size: int, channels: int | None = None) -> Iterator[np.ndarray]:
    """uint8 [B, H, W, C] batches in order (the last may be smaller); `channels`: as `read_image`."""
    for start in range(0, self.num, batch_size):
      if self._array is not None:
        yield _with_channels(self._array[start:start + batch_size], channels, self.path)
        continue
      images = []
      for path in self._files[start:start + batch_size]:
        image = read_image(path, channels)
        if image.shape[:2] != self.size:
          raise UserError(f"{path}: {image.shape[0]}x{image.shape[1]} pixels, but "
                          f"{self._files[0]} has {self.size[0]}x{self.size[1]}; the images "
                          "of one folder must share one size")
        images.append(image)
      yield np.stack(images)


def open_images(path: str) -> ImageSource:
  """A folder (PNG/JPEG files, recursive) or an `.npz` of uint8 images; UserError naming
  the path if it is missing, empty or unreadable."""
  if os.path.isdir(path):
    files = list_image_files(path)
    if not files:
      raise UserError(f"{path}: no {', '.join(IMAGE_EXTENSIONS)} files in this folder "
                      "or its subfolders")
    return ImageSource(path, files=files)
  if not os.path.exists(path):
    raise UserError(f"{path}: no such file or folder")
  if path.lower().endswith(".npz"):
    return ImageSource(path, array=read_npz_images(path))
  raise UserError(f"{path}: expected a folder of images or an .npz of uint8 images")
