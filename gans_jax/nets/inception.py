"""The FID InceptionV3 (Heusel et al. 2017, arXiv:1706.08500) in Flax linen, NHWC.

InceptionV3 (Szegedy et al. 2016, "Rethinking the Inception Architecture for
Computer Vision", arXiv:1512.00567) as frozen in TensorFlow's
``inception-2015-12-05`` graph that the FID and Inception Score reference code
uses, with the layer names and weights of pytorch-fid's port
(``pt_inception-2015-12-05-6726825d.pth``). It differs from torchvision's
InceptionV3 in four places, all reproduced here:

- the average-pool branches of Mixed_5b/5c/5d (A), Mixed_6b..6e (C) and
  Mixed_7b (E_1) average over the valid part of the 3x3 window only
  (TensorFlow ``SAME`` pooling; PyTorch ``count_include_pad=False``);
- the pool branch of Mixed_7c (E_2) is a 3x3 *max* pool;
- the classifier has 1008 outputs (``fc``: 2048 -> 1008), the logits the
  Inception Score is computed from;
- no auxiliary classifier.

Every conv is ``Conv(no bias) -> BatchNorm(eps=1e-3) -> ReLU``; BatchNorm always
uses its stored statistics. Inputs are bilinearly resized to 299x299 (half-pixel
centres, no antialiasing: PyTorch ``F.interpolate(mode='bilinear',
align_corners=False)``) and must already lie in [-1, 1], the range pytorch-fid's
``normalize_input`` (x -> 2x - 1 on [0, 1] images) produces.

Weights: ``load_inception_params`` reads the pytorch-fid ``.pth`` directly (a
small restricted unpickler for both PyTorch's zip format and its legacy
pre-1.6 format, applied to every pickle in the file; torch is not needed, no
pickled code is run, and every tensor view is checked to lie inside its storage)
or an ``.npz`` with the same torch state_dict names. ``python -m gans_jax.nets.inception
convert X.pth X.npz`` writes such an ``.npz``.
"""

from __future__ import annotations

import collections
import functools
import os
import pickle
import struct
import sys
import zipfile
from typing import Any, Mapping

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from gans_jax.errors import UserError

FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d"
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/"
                   f"fid_weights/{FID_WEIGHTS_NAME}.pth")
DEFAULT_WEIGHTS_DIR = os.path.join("~", ".cache", "gans_jax")
INPUT_SIZE = 299
# The smallest input the network maps to a non-empty 1x1 map (five stride-2 stages).
MIN_INPUT_SIZE = 75
POOL_DIM = 2048
NUM_LOGITS = 1008


# ----------------------------------------------------------------------------
# Layers.
# ----------------------------------------------------------------------------

def avg_pool_exclude_padding(x: jnp.ndarray, window: int = 3, stride: int = 1,
                             padding: int = 1) -> jnp.ndarray:
  """Average pool whose border windows average over their in-image elements only.

  .. math:: y_{ij} = \\frac{1}{|W_{ij} \\cap \\Omega|}\\sum_{(u,v) \\in W_{ij} \\cap \\Omega} x_{uv}

  with W_ij the window at (i, j) of the zero-padded input and Omega the unpadded
  image: TensorFlow's ``SAME`` average pool, which the FID graph uses
  (PyTorch ``avg_pool2d(count_include_pad=False)``).

  Args:
    x: [B, H, W, C].
    window, stride, padding: square window size, stride and zero padding.

  Returns:
    [B, H', W', C] with H' = (H + 2 padding - window) // stride + 1.
  """
  chex.assert_rank(x, 4)
  dims, strides = (1, window, window, 1), (1, stride, stride, 1)
  pads = ((0, 0), (padding, padding), (padding, padding), (0, 0))
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, strides, pads)
  ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, pads)
  return total / count


def max_pool(x: jnp.ndarray, window: int = 3, stride: int = 2,
             padding: int = 0) -> jnp.ndarray:
  """Max pool; padding (if any) is -inf, so it never wins (PyTorch ``max_pool2d``)."""
  return nn.max_pool(x, (window, window), (stride, stride),
                     padding=((padding, padding), (padding, padding)))


def resize_bilinear(images: jnp.ndarray, height: int, width: int) -> jnp.ndarray:
  """Bilinear resize with half-pixel centres and no antialiasing.

  Output pixel i samples the input at s = (i + 0.5) * H_in / H_out - 0.5, clamped
  to [0, H_in - 1], interpolating its two neighbours: PyTorch's
  ``F.interpolate(mode='bilinear', align_corners=False)``, as pytorch-fid resizes.
  ``jax.image.resize`` antialiases when shrinking unless told not to.

  Args:
    images: [B, H, W, C].
    height, width: the output size.

  Returns:
    [B, height, width, C].
  """
  chex.assert_rank(images, 4)
  if images.shape[1:3] == (height, width):
    return images
  shape = (images.shape[0], height, width, images.shape[3])
  return jax.image.resize(images, shape, method="bilinear", antialias=False)


class BasicConv(nn.Module):
  """Conv (no bias) -> BatchNorm(eps=1e-3, stored statistics) -> ReLU."""
  features: int
  kernel: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)
  precision: Any = None

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    ph, pw = self.padding
    x = nn.Conv(self.features, self.kernel, (self.strides, self.strides),
                padding=((ph, ph), (pw, pw)), use_bias=False,
                precision=self.precision, name="conv")(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
    return nn.relu(x)


class InceptionA(nn.Module):
  """35x35 block (Mixed_5b/5c/5d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""
  pool_features: int
  precision: Any = None

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, precision=self.precision)
    b1 = conv(64, (1, 1), name="branch1x1")(x)
    b5 = conv(48, (1, 1), name="branch5x5_1")(x)
    b5 = conv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = conv(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = conv(self.pool_features, (1, 1), name="branch_pool")(
        avg_pool_exclude_padding(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """35 -> 17 reduction (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""
  precision: Any = None

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, precision=self.precision)
    b3 = conv(384, (3, 3), strides=2, name="branch3x3")(x)
    bd = conv(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = conv(96, (3, 3), strides=2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, max_pool(x)], axis=-1)


class InceptionC(nn.Module):
  """17x17 block with factorised 7x7 convs (Mixed_6b..6e)."""
  channels_7x7: int
  precision: Any = None

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, precision=self.precision)
    c7 = self.channels_7x7
    row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
    b1 = conv(192, (1, 1), name="branch1x1")(x)
    b7 = conv(c7, (1, 1), name="branch7x7_1")(x)
    b7 = conv(c7, **row, name="branch7x7_2")(b7)
    b7 = conv(192, **col, name="branch7x7_3")(b7)
    bd = conv(c7, (1, 1), name="branch7x7dbl_1")(x)
    bd = conv(c7, **col, name="branch7x7dbl_2")(bd)
    bd = conv(c7, **row, name="branch7x7dbl_3")(bd)
    bd = conv(c7, **col, name="branch7x7dbl_4")(bd)
    bd = conv(192, **row, name="branch7x7dbl_5")(bd)
    bp = conv(192, (1, 1), name="branch_pool")(avg_pool_exclude_padding(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """17 -> 8 reduction (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""
  precision: Any = None

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, precision=self.precision)
    b3 = conv(192, (1, 1), name="branch3x3_1")(x)
    b3 = conv(320, (3, 3), strides=2, name="branch3x3_2")(b3)
    b7 = conv(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = conv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = conv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = conv(192, (3, 3), strides=2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, max_pool(x)], axis=-1)


class InceptionE(nn.Module):
  """8x8 block with split 1x3/3x1 outputs (Mixed_7b: avg pool, Mixed_7c: max pool)."""
  pool: str = "avg"
  precision: Any = None

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, precision=self.precision)
    row, col = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1), padding=(1, 0))
    b1 = conv(320, (1, 1), name="branch1x1")(x)
    b3 = conv(384, (1, 1), name="branch3x3_1")(x)
    b3 = jnp.concatenate([conv(384, **row, name="branch3x3_2a")(b3),
                          conv(384, **col, name="branch3x3_2b")(b3)], axis=-1)
    bd = conv(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = conv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate([conv(384, **row, name="branch3x3dbl_3a")(bd),
                          conv(384, **col, name="branch3x3dbl_3b")(bd)], axis=-1)
    # The FID graph max-pools in Mixed_7c where the paper (and Mixed_7b) average.
    pooled = (max_pool(x, stride=1, padding=1) if self.pool == "max"
              else avg_pool_exclude_padding(x))
    bp = conv(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class InceptionV3FID(nn.Module):
  """images [B, H, W, 3 or 1] in [-1, 1] -> {'pool': [B, 2048], 'logits': [B, 1008]}.

  The InceptionV3 of the FID (Heusel et al. 2017, arXiv:1706.08500) and Inception
  Score (Salimans et al. 2016, arXiv:1606.03498) reference code; Szegedy et al.
  2016, arXiv:1512.00567. ``pool`` is the 2048-d global average pool (pool_3, the
  FID features); ``logits`` the 1008-way classifier (softmax -> Inception Score).
  Inference only: BatchNorm uses the stored statistics, there is no dropout.

  Attributes:
    precision: passed to every conv and the fc (e.g. ``'highest'`` on GPU/TPU,
      where float32 matmuls default to reduced precision).
  """
  precision: Any = None

  @nn.compact
  def __call__(self, images: jnp.ndarray, resize: bool = True) -> dict[str, jnp.ndarray]:
    """Args: images [B, H, W, C], C in {1, 3}, values in [-1, 1]; resize: to 299x299.

    Returns: {'pool': [B, 2048], 'logits': [B, 1008]}.
    """
    chex.assert_rank(images, 4)
    channels = images.shape[-1]
    if channels not in (1, 3):
      raise UserError(f"InceptionV3FID: images must have 1 or 3 channels (NHWC), "
                      f"got shape {images.shape}; convert them to grayscale or RGB")
    if not resize and min(images.shape[1:3]) < MIN_INPUT_SIZE:
      raise UserError(f"InceptionV3FID: images of {images.shape[1]}x{images.shape[2]} "
                      f"are below the {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} minimum; "
                      "call it with resize=True")
    x = images.astype(jnp.float32)
    if resize:
      x = resize_bilinear(x, INPUT_SIZE, INPUT_SIZE)
    if channels == 1:
      x = jnp.tile(x, (1, 1, 1, 3))

    conv = functools.partial(BasicConv, precision=self.precision)
    p = dict(precision=self.precision)
    x = conv(32, (3, 3), strides=2, name="Conv2d_1a_3x3")(x)
    x = conv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = conv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = max_pool(x)
    x = conv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = conv(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = max_pool(x)
    x = InceptionA(32, **p, name="Mixed_5b")(x)
    x = InceptionA(64, **p, name="Mixed_5c")(x)
    x = InceptionA(64, **p, name="Mixed_5d")(x)
    x = InceptionB(**p, name="Mixed_6a")(x)
    x = InceptionC(128, **p, name="Mixed_6b")(x)
    x = InceptionC(160, **p, name="Mixed_6c")(x)
    x = InceptionC(160, **p, name="Mixed_6d")(x)
    x = InceptionC(192, **p, name="Mixed_6e")(x)
    x = InceptionD(**p, name="Mixed_7a")(x)
    x = InceptionE("avg", **p, name="Mixed_7b")(x)
    x = InceptionE("max", **p, name="Mixed_7c")(x)
    pool = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(NUM_LOGITS, precision=self.precision, name="fc")(pool)
    chex.assert_shape(pool, (images.shape[0], POOL_DIM))
    return {"pool": pool, "logits": logits}


# ----------------------------------------------------------------------------
# Flax variables <-> torch state_dict names.
# ----------------------------------------------------------------------------

# (collection, module, leaf) of a flax variable -> (torch suffix, layout to transpose).
_LEAVES = {
    ("params", "conv", "kernel"): ("conv.weight", "hwio"),
    ("params", "bn", "scale"): ("bn.weight", None),
    ("params", "bn", "bias"): ("bn.bias", None),
    ("batch_stats", "bn", "mean"): ("bn.running_mean", None),
    ("batch_stats", "bn", "var"): ("bn.running_var", None),
    ("params", "fc", "kernel"): ("fc.weight", "io"),
    ("params", "fc", "bias"): ("fc.bias", None),
}


def _to_torch_layout(x: np.ndarray, layout: str | None) -> np.ndarray:
  if layout == "hwio":
    return np.transpose(x, (3, 2, 0, 1))  # HWIO -> OIHW
  if layout == "io":
    return np.transpose(x)  # (in, out) -> (out, in)
  return x


def _from_torch_layout(x: np.ndarray, layout: str | None) -> np.ndarray:
  if layout == "hwio":
    return np.transpose(x, (2, 3, 1, 0))  # OIHW -> HWIO
  if layout == "io":
    return np.transpose(x)
  return x


def _torch_name(path: tuple[str, ...]) -> tuple[str, str | None]:
  """('params', 'Mixed_5b', 'branch1x1', 'conv', 'kernel') -> ('Mixed_5b.branch1x1.conv.weight', 'hwio')."""
  collection, *modules, leaf = path
  suffix, layout = _LEAVES[(collection, modules[-1], leaf)]
  return ".".join(modules[:-1] + [suffix]), layout


@functools.lru_cache(maxsize=1)
def _expected_flax_shapes() -> dict[tuple[str, ...], tuple[int, ...]]:
  """Shapes of every variable of InceptionV3FID, traced abstractly (no compute)."""
  shapes = jax.eval_shape(
      lambda: InceptionV3FID().init(jax.random.PRNGKey(0),
                                    jnp.zeros((1, MIN_INPUT_SIZE, MIN_INPUT_SIZE, 3)),
                                    resize=False))
  flat = traverse_util.flatten_dict({k: shapes[k] for k in ("params", "batch_stats")})
  return {path: s.shape for path, s in flat.items()}


def variables_to_torch_state_dict(variables: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Flax variables of InceptionV3FID -> {torch state_dict name: numpy array}.

  Conv kernels HWIO -> OIHW, the fc kernel (in, out) -> (out, in); BatchNorm
  scale/bias/mean/var -> weight/bias/running_mean/running_var. The inverse of
  `torch_state_dict_to_variables`.
  """
  flat = traverse_util.flatten_dict({k: variables[k] for k in ("params", "batch_stats")})
  out = {}
  for path, value in flat.items():
    name, layout = _torch_name(path)
    out[name] = _to_torch_layout(np.asarray(value), layout)
  return out


def torch_state_dict_to_variables(state_dict: Mapping[str, Any], *,
                                  source: str = "the state_dict") -> dict[str, Any]:
  """{torch state_dict name: array} (pytorch-fid names) -> InceptionV3FID variables.

  Every expected key must be present with its exact shape; keys the network does
  not have raise too (BatchNorm's ``num_batches_tracked`` counters are ignored).

  Args:
    state_dict: e.g. ``Conv2d_1a_3x3.conv.weight`` [32, 3, 3, 3] (OIHW),
      ``Mixed_5b.branch1x1.bn.running_mean`` [64], ``fc.weight`` [1008, 2048].
    source: the file it came from, for error messages.

  Returns:
    {'params': ..., 'batch_stats': ...} of float32 arrays.

  Raises:
    UserError naming the first missing, unexpected or wrong-shaped key.
  """
  hint = f"expected the pytorch-fid FID Inception weights ({FID_WEIGHTS_NAME}.pth)"
  flat, used = {}, set()
  for path, shape in _expected_flax_shapes().items():
    name, layout = _torch_name(path)
    torch_shape = _to_torch_layout(np.empty(shape, np.uint8), layout).shape
    if name not in state_dict:
      raise UserError(f"{source}: missing key {name!r} (shape {torch_shape}); {hint}")
    value = np.asarray(state_dict[name])
    if value.shape != torch_shape:
      raise UserError(f"{source}: key {name!r} has shape {value.shape}, "
                      f"expected {torch_shape}; {hint}")
    flat[path] = jnp.asarray(_from_torch_layout(value, layout), jnp.float32)
    used.add(name)
  for name in state_dict:
    if name not in used and not name.endswith("num_batches_tracked"):
      raise UserError(f"{source}: unexpected key {name!r}; {hint}")
  return traverse_util.unflatten_dict(flat)


# ----------------------------------------------------------------------------
# Reading PyTorch .pth files without torch.
# ----------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001


class _Refused(Exception):
  """The file asks for more than a state_dict needs: code, or memory outside a storage."""


class _StorageType:
  """What the unpickler gives for ``torch.FloatStorage`` etc.: the storage's element type."""

  def __init__(self, name: str):
    self.name = name


def _storage_dtype(storage_type: Any) -> np.dtype:
  # Looked up by name here, since a pickle can overwrite the attributes of what it builds.
  if not isinstance(storage_type, _StorageType) or storage_type.name not in _STORAGE_DTYPES:
    raise pickle.UnpicklingError(f"a storage of type {storage_type!r}, not a torch storage type")
  return np.dtype(_STORAGE_DTYPES[storage_type.name]).newbyteorder("<")


class _Storage:
  """A typed flat buffer; `data` is filled when the file's bytes are read."""

  def __init__(self, dtype: np.dtype, numel: int):
    self.dtype, self.numel, self.data = dtype, numel, None


class _LazyTensor:
  """A strided view of a storage, materialised once all storages are read."""

  def __init__(self, storage, offset, size, stride):
    self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

  def materialize(self, name: Any) -> np.ndarray:
    """The view as an array, once it is checked to lie inside its storage.

    ``as_strided`` trusts its offset, shape and strides: unchecked, a view past the
    storage returns neighbouring heap memory as weights, and a huge stride crashes.
    Element (i_1, ..., i_k) is at offset + sum_j i_j stride_j; with every number
    non-negative the farthest is offset + sum_j (size_j - 1) stride_j.

    Args:
      name: the tensor's state_dict key, for error messages.

    Raises:
      _Refused naming the tensor when the view is malformed or leaves its storage.
    """
    tensor = f"tensor {name!r}"
    if not isinstance(self.storage, _Storage) or self.storage.data is None:
      raise _Refused(f"{tensor} has no storage in the file")
    flat = self.storage.data
    layout = f"offset {self.offset!r}, size {self.size!r}, stride {self.stride!r}"
    numbers = (self.offset, *self.size, *self.stride)
    if not all(isinstance(n, int) for n in numbers) or len(self.size) != len(self.stride):
      raise _Refused(f"{tensor} views its storage with a malformed layout ({layout})")
    if min(numbers) < 0:
      raise _Refused(f"{tensor} views its storage with a negative offset, size or stride "
                     f"({layout})")
    if any(s == 0 for s in self.size):
      return np.zeros(self.size, flat.dtype)
    last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
    if last >= flat.size:
      raise _Refused(f"{tensor} reaches element {last} of its storage of {flat.size} "
                     f"elements ({layout})")
    view = np.lib.stride_tricks.as_strided(
        flat[self.offset:], shape=self.size,
        strides=[s * flat.itemsize for s in self.stride], writeable=False)
    return np.array(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
  return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *unused):
  return data


class _PlainDataUnpickler(pickle.Unpickler):
  """Unpickles plain data (numbers, strings, lists, dicts) and nothing else: no globals.

  Enough for the legacy format's records around the state_dict: magic number,
  protocol version, sys_info and the list of storage keys. Any global (the way a
  pickle calls ``os.system`` or anything else) is refused before it is looked up.
  """

  def find_class(self, module, name):
    raise _Refused(f"a header pickle asks for {module}.{name}, where plain data belongs")

  def persistent_load(self, pid):
    raise _Refused("a header pickle refers to a storage, where plain data belongs")


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickles a tensor state_dict and nothing else: no other globals, no code."""

  def __init__(self, file, persistent_load):
    super().__init__(file)
    self._persistent_load = persistent_load

  def persistent_load(self, pid):
    return self._persistent_load(pid)

  def find_class(self, module, name):
    if module == "collections" and name == "OrderedDict":
      return collections.OrderedDict
    if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
      return _rebuild_tensor
    if module == "torch._utils" and name == "_rebuild_parameter":
      return _rebuild_parameter
    if module == "torch" and name in _STORAGE_DTYPES:
      return _StorageType(name)
    raise _Refused(f"its pickle asks for {module}.{name}, which a state_dict of tensors "
                   "never needs")


def _materialize(obj):
  """Materialises the tensors of a (flat) state_dict, or a lone tensor."""
  if isinstance(obj, _LazyTensor):
    return obj.materialize("<the file's only object>")
  if isinstance(obj, Mapping):
    return {k: v.materialize(k) if isinstance(v, _LazyTensor) else v for k, v in obj.items()}
  return obj


def _read_zip_pth(path: str) -> Any:
  """PyTorch >= 1.6 format: a zip with <root>/data.pkl and one raw file per storage."""
  with zipfile.ZipFile(path) as zf:
    pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pkl:
      raise pickle.UnpicklingError("zip has no data.pkl")
    root = pkl[0][: -len("data.pkl")]
    if f"{root}byteorder" in zf.namelist() and zf.read(f"{root}byteorder") != b"little":
      raise pickle.UnpicklingError("big-endian checkpoints are not supported")
    storages = {}

    def persistent_load(pid):
      kind, storage_type, key, _location, numel = pid[:5]
      if kind != "storage":
        raise pickle.UnpicklingError(f"unsupported persistent id {kind!r}")
      if key not in storages:
        st = _Storage(_storage_dtype(storage_type), numel)
        raw = zf.read(f"{root}data/{key}")
        st.data = np.frombuffer(raw, st.dtype, count=numel)
        storages[key] = st
      return storages[key]

    with zf.open(pkl[0]) as f:
      return _materialize(_RestrictedUnpickler(f, persistent_load).load())


def _read_legacy_pth(path: str) -> Any:
  """PyTorch < 1.6 format: magic, protocol, sys_info, the object, storage keys, raw storages."""
  with open(path, "rb") as f:
    if _PlainDataUnpickler(f).load() != _LEGACY_MAGIC:
      raise pickle.UnpicklingError("not a PyTorch file (bad magic number)")
    if _PlainDataUnpickler(f).load() != _LEGACY_PROTOCOL:
      raise pickle.UnpicklingError("unsupported legacy protocol version")
    sys_info = _PlainDataUnpickler(f).load()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
      raise pickle.UnpicklingError("big-endian checkpoints are not supported")
    storages = {}

    def persistent_load(pid):
      kind, storage_type, key, _location, numel, view = pid
      if kind != "storage":
        raise pickle.UnpicklingError(f"unsupported persistent id {kind!r}")
      if view is not None:
        raise pickle.UnpicklingError("storage views are not supported")
      storages.setdefault(key, _Storage(_storage_dtype(storage_type), numel))
      return storages[key]

    obj = _RestrictedUnpickler(f, persistent_load).load()
    keys = _PlainDataUnpickler(f).load()
    if not isinstance(keys, list):
      raise pickle.UnpicklingError(f"storage keys are a {type(keys).__name__}, not a list")
    size = os.fstat(f.fileno()).st_size
    for key in keys:
      st = storages[key]
      (numel,) = struct.unpack("<q", f.read(8))
      # A bad count must not make read() allocate it: check it against the bytes left.
      if not 0 <= numel * st.dtype.itemsize <= size - f.tell():
        raise pickle.UnpicklingError(f"storage {key!r} claims {numel} elements; file is truncated")
      raw = f.read(numel * st.dtype.itemsize)
      st.data = np.frombuffer(raw, st.dtype, count=numel)
    return _materialize(obj)


def _one_line(message: str) -> str:
  # Names inside a file (keys, globals) may hold line breaks; the error stays one line.
  return " ".join(message.splitlines())


def read_torch_state_dict(path: str) -> dict[str, np.ndarray]:
  """Reads a PyTorch ``torch.save``-d state_dict of dense CPU tensors, without torch.

  Both the zip format (PyTorch >= 1.6) and the legacy format are read with an
  unpickler that accepts only tensors, storages and OrderedDicts (the legacy
  format's other pickles: plain data only), so no code from the file runs; each
  tensor's offset, size and stride must lie inside its storage.

  Raises:
    UserError when the file is not such a state_dict.
  """
  try:
    obj = _read_zip_pth(path) if zipfile.is_zipfile(path) else _read_legacy_pth(path)
  except _Refused as e:
    raise UserError(_one_line(
        f"{path}: refused: {e}; nothing in it was run; it is not a plain torch.save-d "
        f"state_dict (damaged or crafted): download {FID_WEIGHTS_URL} again")) from e
  except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AttributeError,
          IndexError, OverflowError, struct.error, OSError, zipfile.BadZipFile) as e:
    raise UserError(_one_line(
        f"{path}: not a readable PyTorch state_dict ({e}); convert it to .npz "
        f"with: python -m gans_jax.nets.inception convert {path} X.npz")) from e
  if not isinstance(obj, Mapping) or not all(isinstance(v, np.ndarray) for v in obj.values()):
    raise UserError(f"{path}: holds a {type(obj).__name__}, not a state_dict of tensors; "
                    "save model.state_dict() instead")
  return dict(obj)


# ----------------------------------------------------------------------------
# Loading.
# ----------------------------------------------------------------------------

def default_inception_path() -> str:
  """``~/.cache/gans_jax/pt_inception-2015-12-05-6726825d.npz`` if present, else the ``.pth``."""
  base = os.path.join(os.path.expanduser(DEFAULT_WEIGHTS_DIR), FID_WEIGHTS_NAME)
  return base + ".npz" if os.path.exists(base + ".npz") else base + ".pth"


def load_inception_params(path: str | None = None, *,
                          field: str = "eval.inception_path") -> dict[str, Any]:
  """Loads the FID Inception weights into InceptionV3FID variables.

  Args:
    path: a pytorch-fid ``.pth`` state_dict or an ``.npz`` keyed by the same torch
      names (``eval.inception_path`` in the config); None: `default_inception_path()`.
    field: the option that sets `path`, named in error messages (``--inception_path``
      for ``python -m gans_jax.fid``).

  Returns:
    {'params': ..., 'batch_stats': ...} for ``InceptionV3FID().apply``.

  Raises:
    UserError if the file is missing, unreadable, or a key is missing or misshapen.
  """
  if path is None:
    path = default_inception_path()
    if not os.path.exists(path):
      raise UserError(
          f"Inception weights not found at {path} (or .npz): download {FID_WEIGHTS_URL} "
          f"to that path, or set {field} to the file")
  path = os.path.expanduser(path)
  if not os.path.isfile(path):
    raise UserError(
        f"{field}: no file at {path}; download {FID_WEIGHTS_URL} there, or "
        f"unset {field} to use {os.path.join(DEFAULT_WEIGHTS_DIR, FID_WEIGHTS_NAME)}.pth")
  if path.endswith(".npz"):
    try:
      with np.load(path, allow_pickle=False) as npz:
        state_dict = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
      raise UserError(f"{field}: {path} is not a readable .npz ({e}); "
                      "rewrite it with: python -m gans_jax.nets.inception convert X.pth X.npz") from e
  else:
    state_dict = read_torch_state_dict(path)
  return torch_state_dict_to_variables(state_dict, source=path)


def convert(pth_path: str, npz_path: str) -> None:
  """Writes the .pth state_dict at `pth_path` as a validated, torch-named .npz."""
  if not os.path.isfile(pth_path):
    raise UserError(f"convert: no file at {pth_path}; download {FID_WEIGHTS_URL}")
  variables = torch_state_dict_to_variables(read_torch_state_dict(pth_path), source=pth_path)
  np.savez(npz_path, **variables_to_torch_state_dict(variables))


def main(argv: list[str]) -> int:
  usage = "usage: python -m gans_jax.nets.inception convert X.pth X.npz"
  if len(argv) != 3 or argv[0] != "convert":
    print(usage, file=sys.stderr)
    return 2
  try:
    convert(argv[1], argv[2])
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {argv[2]}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
