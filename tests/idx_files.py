"""IDX files written from the format's definition (LeCun et al.), for tests of `gans_jax.data.idx`.

An IDX file is two zero bytes, a type byte (0x08 = unsigned byte, 0x0B = int16 ...), a byte with the
number of dimensions d, d big-endian uint32 sizes, then the elements big-endian in row-major order.
Written here with `struct`, independently of the reader under test.
"""

import gzip
import os
import shutil
import struct
import tempfile

import numpy as np

# type byte -> (struct format character, NumPy dtype)
TYPES = {0x08: ("B", np.uint8), 0x09: ("b", np.int8), 0x0B: ("h", np.int16),
         0x0C: ("i", np.int32), 0x0D: ("f", np.float32), 0x0E: ("d", np.float64)}


def idx_bytes(values, type_byte: int = 0x08) -> bytes:
  values = np.asarray(values)
  char, _ = TYPES[type_byte]
  header = bytes([0, 0, type_byte, values.ndim]) + struct.pack(f">{values.ndim}I", *values.shape)
  return header + struct.pack(f">{values.size}{char}", *values.ravel().tolist())


def write_idx(path: str, values, type_byte: int = 0x08) -> None:
  data = idx_bytes(values, type_byte)
  with (gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")) as f:
    f.write(data)


def tiny_mnist(root: str, *, num_train: int = 40, num_test: int = 20, side: int = 8,
               num_classes: int = 4, gz: bool = False, seed: int = 0) -> dict:
  """The four files of the standard layout in `root`: each image is its label's constant level plus
  noise, so a classifier can learn it. Returns {split: (images uint8 [N, S, S], labels [N])}."""
  rng = np.random.RandomState(seed)
  os.makedirs(root, exist_ok=True)
  out = {}
  for split, prefix, n in (("train", "train", num_train), ("test", "t10k", num_test)):
    labels = np.arange(n) % num_classes
    images = np.clip(labels[:, None, None] * (255 // num_classes) + rng.randint(0, 40, (n, side, side)),
                     0, 255).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte{ext}"), images)
    write_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte{ext}"), labels.astype(np.uint8))
    out[split] = (images, labels)
  return out


def shared_tiny_mnist(parent: str) -> str:
  """A 10-class tiny_mnist in `parent`/tiny_mnist, made once however many processes ask at once
  (each writes its own copy and renames it into place; a later one finds it there)."""
  root = os.path.join(parent, "tiny_mnist")
  if not os.path.isdir(root):
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent)
    tiny_mnist(tmp, num_train=80, num_test=40, num_classes=10)
    try:
      os.rename(tmp, root)
    except OSError:  # another process renamed its copy first
      shutil.rmtree(tmp)
  return root
