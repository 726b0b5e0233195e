"""Tests for gans_jax.nets.inception: the FID InceptionV3 and its weight files.

No real weights exist offline, so these are structural: shapes, the parameter
count derived here from the published layer table, name/layout mapping to the
pytorch-fid state_dict, the pooling and resizing helpers against NumPy, and the
.pth reader against bytes written by PyTorch itself.

The .pth fixtures below are the zlib-compressed bytes of

    sd = OrderedDict(w=torch.arange(6.).reshape(2, 3), t=torch.arange(6.).reshape(2, 3).t(),
                     n=torch.tensor(7), h=torch.tensor([1.5, -2.0], dtype=torch.float16))
    torch.save(sd, "small_zip.pth")                                            # torch 2.5.1
    torch.save(sd, "small_legacy.pth", _use_new_zipfile_serialization=False)
"""

import base64
import math
import os
import pickle
import shlex
import struct
import subprocess
import sys
import zipfile
import zlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.errors import UserError
from gans_jax.nets import inception as inc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SMALL_ZIP_PTH = (
    "eNrFlLtv01AUxq/t1DGmQPqgDyilPJWiktrOgwTRUqXIQjISIQip6hK5iUksTJxj37SiU5dWYgPEwIQY"
    "+TPYmEEqIwtD/w3utUPkR98LVm4sJef3fZ91znFF4xIICQKKXcMohdzXumXVNs3OfEPHeqbzylLLg2g1"
    "cG2x9bptWUYdm3bbFZ86DcMxGo/MOhYBzVaBSa8wRGwD2Dq2nXorU+ti03LFmmOsdU2rUcNG27Wd2roi"
    "ApdOryRJsUsq9aYBCR8RVcvW8XP/RxEGPEEJ+BWO3OudLiQ1HoPwTEMaq3E7cEbjNGYHxLctGuAshsEq"
    "nPMgDOdbxKSVaPkiMlxoeXCKwpzG7sCQxlCNYR8ewTBahYtecRvGfLiX6ondbvZDjXslCkwQPQbDJNGb"
    "nfU1LmG4XIUpr6AFV0Iaj3XrZV9j2ivJwlWiwWKY8R5oG65pzDZc97VuYLhZhVvdTEVLCmZz+fcGQeip"
    "HNjGESQE2rj2Bhs27ZFaTnh9tEyMLYPKbS/8meQJQM/Bcin0IDIV85JaLoZm4iSXr7r1kHwtkQ85W+R8"
    "WaKJxt/tvZ8gf0wckehONJGslm+j/+ivHN8/2VOhfp1fezY1EI7wux/1y6rlwik7gBbRN+pd2N39SAxR"
    "4lDvIbQQ8F43HJdsvVounbr9q1mRuv/43HzBEn32UPcZJAXcM96ju4Zj6pa5qdP3T81sqOW5E4WR8oVC"
    "Ni+X8lIuJxflUk4u3ZOySqmYLRYkRSlJ+ZySz+UKNOXUT24hTXKkvZQMDdvPGVzG4Vjy+Hs0yge3byTE"
    "fmfQfgscFQgOayokMMai2Moen/4ap+UoHRzcMJ3mYrQSpYOjF6Y/xelslA6OzlCIHk2g+LBG8WBPZ0L4"
    "hxC+/7RVNJ6f69VPc3f7rBC586x/Lw7823beW/zF3voz3m8DvM8IXr1f+xfPt5kt")
_SMALL_LEGACY_PTH = (
    "eNqFkstu00AUhj1jJykDLaXlVq7lJjmbyJg4xBvoAlVIw61mMxtkBWeoXVmeHHtcBFKlbBoBz8CCJY/B"
    "6/AISCw4tkMVpEhYnmP5nDPf/89lSr+w9PfX3V/bB99fbfWm9PlPE+MRGLZYNwxjkiutIpWGhzIvEpUB"
    "wQaxipU00TqVoczGySgD+kkwTOoPExkWyUdZgHkEli1amCxilWtocSpM/EsyDW1uCatiqGwfOtwqS9SM"
    "UCaVkUaVgr3MxzKX4ydJpBkY3QCILQjOeA800iqP4l5Y6iQtWJjLt2WSjkMts0Ll4aHLwLRt0amEsXO0"
    "L8FqprDdVI306ybJoCXWsMfvD73+Q8f3fM91HGjXHqNJibbaLzSs7HGDU27O4BQ3OZkB+xxXdk5rOBPA"
    "au1Jw1qMkrEVLyAHvuv6vuP24WzcoNYrlMnpDM5xUhE3GtSmhvMBXKhRGVxsUHPHz3CDTgxfWjQ8RLu+"
    "O4TLSCdI30J6t9sQr2i4GsC1mhjD9X+IT0fpuxPijQWi5zzwBv37A7iJRIrE7Xrpx3CLk2O43ZDvaLgb"
    "wL3quN5UV2TJcskyl3TZXpvL1C3ZaxuLz/Qxhh18cUxxfNsh80pn/v1fP/1bemT8+ANG4rLR")


# ----------------------------------------------------------------------------
# The architecture table (Szegedy et al. 2016, Table 1 / Figs. 5-7, with the
# channel widths of torchvision's and pytorch-fid's inception.py), written out
# here independently of the Flax code: (torch module name, in, out, kh, kw).
# ----------------------------------------------------------------------------

def _block_a(name, cin, pool_features):
  return [(f"{name}.branch1x1", cin, 64, 1, 1),
          (f"{name}.branch5x5_1", cin, 48, 1, 1), (f"{name}.branch5x5_2", 48, 64, 5, 5),
          (f"{name}.branch3x3dbl_1", cin, 64, 1, 1), (f"{name}.branch3x3dbl_2", 64, 96, 3, 3),
          (f"{name}.branch3x3dbl_3", 96, 96, 3, 3),
          (f"{name}.branch_pool", cin, pool_features, 1, 1)]


def _block_b(name, cin):
  return [(f"{name}.branch3x3", cin, 384, 3, 3),
          (f"{name}.branch3x3dbl_1", cin, 64, 1, 1), (f"{name}.branch3x3dbl_2", 64, 96, 3, 3),
          (f"{name}.branch3x3dbl_3", 96, 96, 3, 3)]


def _block_c(name, cin, c7):
  return [(f"{name}.branch1x1", cin, 192, 1, 1),
          (f"{name}.branch7x7_1", cin, c7, 1, 1), (f"{name}.branch7x7_2", c7, c7, 1, 7),
          (f"{name}.branch7x7_3", c7, 192, 7, 1),
          (f"{name}.branch7x7dbl_1", cin, c7, 1, 1), (f"{name}.branch7x7dbl_2", c7, c7, 7, 1),
          (f"{name}.branch7x7dbl_3", c7, c7, 1, 7), (f"{name}.branch7x7dbl_4", c7, c7, 7, 1),
          (f"{name}.branch7x7dbl_5", c7, 192, 1, 7),
          (f"{name}.branch_pool", cin, 192, 1, 1)]


def _block_d(name, cin):
  return [(f"{name}.branch3x3_1", cin, 192, 1, 1), (f"{name}.branch3x3_2", 192, 320, 3, 3),
          (f"{name}.branch7x7x3_1", cin, 192, 1, 1), (f"{name}.branch7x7x3_2", 192, 192, 1, 7),
          (f"{name}.branch7x7x3_3", 192, 192, 7, 1), (f"{name}.branch7x7x3_4", 192, 192, 3, 3)]


def _block_e(name, cin):
  return [(f"{name}.branch1x1", cin, 320, 1, 1),
          (f"{name}.branch3x3_1", cin, 384, 1, 1), (f"{name}.branch3x3_2a", 384, 384, 1, 3),
          (f"{name}.branch3x3_2b", 384, 384, 3, 1),
          (f"{name}.branch3x3dbl_1", cin, 448, 1, 1), (f"{name}.branch3x3dbl_2", 448, 384, 3, 3),
          (f"{name}.branch3x3dbl_3a", 384, 384, 1, 3), (f"{name}.branch3x3dbl_3b", 384, 384, 3, 1),
          (f"{name}.branch_pool", cin, 192, 1, 1)]


_CONVS = ([("Conv2d_1a_3x3", 3, 32, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3),
           ("Conv2d_2b_3x3", 32, 64, 3, 3), ("Conv2d_3b_1x1", 64, 80, 1, 1),
           ("Conv2d_4a_3x3", 80, 192, 3, 3)]
          + _block_a("Mixed_5b", 192, 32) + _block_a("Mixed_5c", 256, 64)
          + _block_a("Mixed_5d", 288, 64) + _block_b("Mixed_6a", 288)
          + _block_c("Mixed_6b", 768, 128) + _block_c("Mixed_6c", 768, 160)
          + _block_c("Mixed_6d", 768, 160) + _block_c("Mixed_6e", 768, 192)
          + _block_d("Mixed_7a", 768) + _block_e("Mixed_7b", 1280) + _block_e("Mixed_7c", 2048))


def _table_counts(convs, fcs):
  """(learned parameters, BatchNorm running statistics) of BasicConv layers and fcs.

  BasicConv = conv without bias (cin*cout*kh*kw) + BatchNorm weight and bias (2*cout);
  its running mean and var (2*cout) are buffers, not parameters.
  """
  params = sum(cin * cout * kh * kw + 2 * cout for _, cin, cout, kh, kw in convs)
  params += sum(fin * fout + fout for fin, fout in fcs)
  stats = sum(2 * cout for _, _, cout, _, _ in convs)
  return params, stats


def _expected_state_dict_shapes():
  """The pytorch-fid state_dict (without num_batches_tracked): name -> torch shape."""
  shapes = {"fc.weight": (1008, 2048), "fc.bias": (1008,)}
  for name, cin, cout, kh, kw in _CONVS:
    shapes[f"{name}.conv.weight"] = (cout, cin, kh, kw)
    for leaf in ("weight", "bias", "running_mean", "running_var"):
      shapes[f"{name}.bn.{leaf}"] = (cout,)
  return shapes


# ----------------------------------------------------------------------------
# Random variables without model.init (whose jitted RNG for 24M weights costs ~30 s on CPU).
# ----------------------------------------------------------------------------

def _random_variables(seed):
  shapes = jax.eval_shape(lambda: inc.InceptionV3FID().init(
      jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)), resize=False))
  rng = np.random.default_rng(seed)

  def make(path, s):
    leaf = path[-1].key
    if leaf == "kernel":  # He init keeps ReLU activations O(1) through 94 convs.
      x = rng.normal(0.0, math.sqrt(2.0 / math.prod(s.shape[:-1])), s.shape)
    elif leaf in ("scale", "var"):
      x = rng.uniform(0.5, 1.5, s.shape)
    else:  # bias, mean
      x = rng.normal(0.0, 0.1, s.shape)
    return x.astype(np.float32)

  return jax.tree_util.tree_map_with_path(make, shapes)


@pytest.fixture(scope="module")
def variables():
  return _random_variables(seed=0)


@pytest.fixture(scope="module")
def apply_fn():
  return jax.jit(inc.InceptionV3FID().apply, static_argnames="resize")


# ----------------------------------------------------------------------------
# Forward pass.
# ----------------------------------------------------------------------------

def test_outputs_are_pool_2048_and_logits_1008_at_299(variables, apply_fn):
  x = jax.random.uniform(jax.random.PRNGKey(0), (1, 299, 299, 3), minval=-1.0, maxval=1.0)
  out = apply_fn(variables, x)
  assert set(out) == {"pool", "logits"}
  chex.assert_shape(out["pool"], (1, 2048))
  chex.assert_shape(out["logits"], (1, 1008))
  chex.assert_tree_all_finite(out)
  # pool follows a ReLU, so it is a mean of non-negative values.
  assert float(jnp.min(out["pool"])) >= 0.0


def test_small_grayscale_is_resized_and_equals_its_rgb_tiling(variables, apply_fn):
  gray = jax.random.uniform(jax.random.PRNGKey(1), (2, 32, 32, 1), minval=-1.0, maxval=1.0)
  out = apply_fn(variables, gray)
  chex.assert_shape(out["pool"], (2, 2048))
  chex.assert_shape(out["logits"], (2, 1008))
  chex.assert_tree_all_finite(out)
  rgb = apply_fn(variables, jnp.tile(gray, (1, 1, 1, 3)))
  np.testing.assert_allclose(out["pool"], rgb["pool"], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(out["logits"], rgb["logits"], rtol=1e-5, atol=1e-5)


def test_bad_channel_count_and_too_small_unresized_input_raise_user_errors():
  model = inc.InceptionV3FID()
  with pytest.raises(UserError, match="1 or 3 channels"):
    jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 299, 299, 2))))
  with pytest.raises(UserError, match="resize=True"):
    jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 74, 74, 3)),
                                      resize=False))


# ----------------------------------------------------------------------------
# Parameters and names.
# ----------------------------------------------------------------------------

def test_architecture_table_reproduces_torchvisions_published_count():
  """Anchors the table: torchvision's inception_v3 (1000 classes, aux classifier) has
  27,161,264 parameters (its weights' published num_params). The aux head is
  avgpool -> BasicConv 768->128 1x1 -> BasicConv 128->768 5x5 -> fc 768->1000."""
  aux = [("AuxLogits.conv0", 768, 128, 1, 1), ("AuxLogits.conv1", 128, 768, 5, 5)]
  params, _ = _table_counts(_CONVS + aux, [(2048, 1000), (768, 1000)])
  assert params == 27_161_264


def test_parameter_count_is_the_fid_inceptions():
  # FID net: no aux head, fc 2048 -> 1008. 23,850,960 parameters + 34,432 running
  # statistics = 23,885,392 numbers in the pytorch-fid state_dict.
  params, stats = _table_counts(_CONVS, [(2048, 1008)])
  assert (params, stats) == (23_850_960, 34_432)
  shapes = jax.eval_shape(lambda: inc.InceptionV3FID().init(
      jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)), resize=False))
  count = lambda tree: sum(math.prod(s.shape) for s in jax.tree_util.tree_leaves(tree))
  assert set(shapes) == {"params", "batch_stats"}
  assert count(shapes["params"]) == params
  assert count(shapes["batch_stats"]) == stats


def test_torch_names_and_shapes_match_the_pytorch_fid_state_dict(variables):
  sd = inc.variables_to_torch_state_dict(variables)
  assert {k: v.shape for k, v in sd.items()} == _expected_state_dict_shapes()


def test_conv_kernels_are_oihw_and_fc_is_out_in_in_torch_layout(variables):
  sd = inc.variables_to_torch_state_dict(variables)
  p = variables["params"]
  kernel = np.asarray(p["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"])  # HWIO (1, 7, 128, 128)
  o, i, h, w = 5, 3, 0, 6
  assert sd["Mixed_6b.branch7x7_2.conv.weight"][o, i, h, w] == kernel[h, w, i, o]
  assert sd["fc.weight"][7, 1000] == np.asarray(p["fc"]["kernel"])[1000, 7]
  np.testing.assert_array_equal(sd["Conv2d_1a_3x3.bn.weight"], p["Conv2d_1a_3x3"]["bn"]["scale"])
  np.testing.assert_array_equal(sd["Mixed_7c.branch_pool.bn.running_var"],
                                variables["batch_stats"]["Mixed_7c"]["branch_pool"]["bn"]["var"])


def test_npz_round_trip_restores_every_array_exactly(variables, tmp_path):
  path = str(tmp_path / "w.npz")
  np.savez(path, **inc.variables_to_torch_state_dict(variables))
  loaded = inc.load_inception_params(path)
  chex.assert_trees_all_equal_structs(loaded, variables)
  for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(variables)):
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_wrong_shape_in_npz_raises_user_error_naming_the_key(variables, tmp_path):
  sd = inc.variables_to_torch_state_dict(variables)
  sd["Mixed_6c.branch7x7dbl_3.conv.weight"] = np.zeros((160, 160, 7, 1), np.float32)  # 1x7 expected
  path = str(tmp_path / "bad.npz")
  np.savez(path, **sd)
  with pytest.raises(UserError, match=r"'Mixed_6c\.branch7x7dbl_3\.conv\.weight'.*\(160, 160, 1, 7\)"):
    inc.load_inception_params(path)


def test_missing_and_unexpected_keys_raise_user_errors_naming_the_key(variables):
  sd = inc.variables_to_torch_state_dict(variables)
  missing = {k: v for k, v in sd.items() if k != "fc.bias"}
  with pytest.raises(UserError, match=r"missing key 'fc\.bias'"):
    inc.torch_state_dict_to_variables(missing)
  extra = dict(sd, **{"AuxLogits.fc.weight": np.zeros((1008, 768))})
  with pytest.raises(UserError, match=r"unexpected key 'AuxLogits\.fc\.weight'"):
    inc.torch_state_dict_to_variables(extra)
  # BatchNorm's step counters are in every torch state_dict and carry no weights.
  counters = dict(sd, **{"Conv2d_1a_3x3.bn.num_batches_tracked": np.array(0)})
  inc.torch_state_dict_to_variables(counters)


# ----------------------------------------------------------------------------
# Files.
# ----------------------------------------------------------------------------

def test_missing_default_file_names_the_default_path_url_and_config_field(tmp_path, monkeypatch):
  monkeypatch.setenv("HOME", str(tmp_path))
  with pytest.raises(UserError) as e:
    inc.load_inception_params()
  msg = str(e.value)
  assert "\n" not in msg
  assert os.path.join(str(tmp_path), ".cache", "gans_jax",
                      "pt_inception-2015-12-05-6726825d.pth") in msg
  assert inc.FID_WEIGHTS_URL in msg
  assert "eval.inception_path" in msg


def test_missing_configured_file_names_the_config_field(tmp_path):
  path = str(tmp_path / "nowhere.npz")
  with pytest.raises(UserError, match=r"eval\.inception_path.*nowhere\.npz"):
    inc.load_inception_params(path)


def test_default_path_prefers_a_converted_npz(tmp_path, monkeypatch):
  monkeypatch.setenv("HOME", str(tmp_path))
  assert inc.default_inception_path().endswith("pt_inception-2015-12-05-6726825d.pth")
  cache = tmp_path / ".cache" / "gans_jax"
  cache.mkdir(parents=True)
  (cache / "pt_inception-2015-12-05-6726825d.npz").write_bytes(b"")
  assert inc.default_inception_path() == str(cache / "pt_inception-2015-12-05-6726825d.npz")


@pytest.mark.parametrize("blob", [_SMALL_ZIP_PTH, _SMALL_LEGACY_PTH], ids=["zip", "legacy"])
def test_pth_reader_decodes_bytes_written_by_torch(blob, tmp_path):
  path = tmp_path / "small.pth"
  path.write_bytes(zlib.decompress(base64.b64decode(blob)))
  sd = inc.read_torch_state_dict(str(path))
  assert list(sd) == ["w", "t", "n", "h"]
  np.testing.assert_array_equal(sd["w"], np.array([[0, 1, 2], [3, 4, 5]], np.float32))
  # A transposed view: strides (1, 3) over its own storage.
  np.testing.assert_array_equal(sd["t"], np.array([[0, 3], [1, 4], [2, 5]], np.float32))
  assert sd["w"].dtype == sd["t"].dtype == np.float32
  assert sd["n"].shape == () and sd["n"].dtype == np.int64 and int(sd["n"]) == 7
  assert sd["h"].dtype == np.float16
  np.testing.assert_array_equal(sd["h"], np.array([1.5, -2.0], np.float16))


def test_pth_with_foreign_state_dict_names_the_first_missing_key(tmp_path, capsys):
  path = tmp_path / "small.pth"
  path.write_bytes(zlib.decompress(base64.b64decode(_SMALL_ZIP_PTH)))
  assert inc.main(["convert", str(path), str(tmp_path / "out.npz")]) == 2
  assert "missing key 'Conv2d_1a_3x3." in capsys.readouterr().err
  assert inc.main(["convert"]) == 2


class _RunsCode:
  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.mkdir, (self.marker,))


def test_pth_reader_runs_no_pickled_code(tmp_path):
  """A legacy .pth whose pickle calls os.mkdir: refused, and nothing is created."""
  marker = str(tmp_path / "was_run")
  path = tmp_path / "evil.pth"
  with open(path, "wb") as f:
    for header in (0x1950a86a20f9469cfc6c, 1001, {"little_endian": True}):
      pickle.dump(header, f)
    pickle.dump(_RunsCode(marker), f)
    pickle.dump([], f)
  with pytest.raises(UserError, match="refused"):
    inc.read_torch_state_dict(str(path))
  assert not os.path.exists(marker)


# ----------------------------------------------------------------------------
# Hostile .pth files, built here opcode by opcode (torch is not needed): code in
# any of a file's pickles, and tensor views that reach outside their storage.
# ----------------------------------------------------------------------------

_SYS_INFO = {"protocol_version": 1001, "little_endian": True,
             "type_sizes": {"short": 2, "int": 4, "long": 4}}


class _RunsShell:
  """Unpickles to os.system('touch MARKER'): if MARKER exists, pickled code ran."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {shlex.quote(self.marker)}",))


def _push(value):
  """Opcodes that push plain `value` (no globals) onto the unpickler's stack."""
  return pickle.dumps(value, protocol=2)[2:-1]  # without PROTO 2 and STOP


def _global(module, name):
  return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _call(func, *args):
  return func + pickle.MARK + b"".join(args) + pickle.TUPLE + pickle.REDUCE


_NEW_ORDERED_DICT = _call(_global("collections", "OrderedDict"))


def _tensor(key, numel, offset, size, stride, *, legacy):
  """torch._utils._rebuild_tensor_v2(<float32 storage `key`>, offset, size, stride, ...).

  As torch.save writes a tensor: the storage is a persistent id, (kind, type, key,
  location, numel) in the zip format, plus a view slot (None) in the legacy one.
  """
  pid = [_push("storage"), _global("torch", "FloatStorage"), _push(key), _push("cpu"),
         _push(numel)] + ([_push(None)] if legacy else [])
  storage = pickle.MARK + b"".join(pid) + pickle.TUPLE + pickle.BINPERSID
  return _call(_global("torch._utils", "_rebuild_tensor_v2"), storage, _push(offset),
               _push(tuple(size)), _push(tuple(stride)), _push(False), _NEW_ORDERED_DICT)


def _state_dict_pickle(tensors, storages, *, legacy):
  """{name: (storage key, offset, size, stride)} -> the pickle of an OrderedDict of tensors."""
  items = b"".join(_push(name) + _tensor(key, len(storages[key]), offset, size, stride,
                                         legacy=legacy)
                   for name, (key, offset, size, stride) in tensors.items())
  return (pickle.PROTO + b"\x02" + _NEW_ORDERED_DICT + pickle.MARK + items + pickle.SETITEMS
          + pickle.STOP)


def _write_zip_pth(path, tensors, storages, data_pkl=None):
  """PyTorch's zip layout: archive/data.pkl, archive/byteorder, archive/data/<key>."""
  with zipfile.ZipFile(path, "w") as zf:
    zf.writestr("archive/data.pkl",
                data_pkl or _state_dict_pickle(tensors, storages, legacy=False))
    zf.writestr("archive/byteorder", "little")
    for key, values in storages.items():
      zf.writestr(f"archive/data/{key}", np.asarray(values, "<f4").tobytes())
    zf.writestr("archive/version", "3\n")


def _write_legacy_pth(path, tensors, storages, replace=None):
  """The legacy layout: pickles of magic, protocol, sys_info, the object and the storage
  keys, then each storage as <int64 numel><raw bytes>. `replace`: {record index: pickle}."""
  records = [pickle.dumps(0x1950a86a20f9469cfc6c, 2), pickle.dumps(1001, 2),
             pickle.dumps(_SYS_INFO, 2), _state_dict_pickle(tensors, storages, legacy=True),
             pickle.dumps(list(storages), 2)]
  for index, record in (replace or {}).items():
    records[index] = record
  with open(path, "wb") as f:
    f.write(b"".join(records))
    for values in storages.values():
      f.write(struct.pack("<q", len(values)) + np.asarray(values, "<f4").tobytes())


def _write_pth(path, fmt, tensors, storages):
  if fmt == "zip":
    _write_zip_pth(path, tensors, storages)
  else:
    _write_legacy_pth(path, tensors, storages)


_SIX = {"0": np.arange(6, dtype=np.float32)}


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_hand_built_views_ending_at_the_storages_last_element_decode(fmt, tmp_path):
  """The control for the files below: the same builder, every view inside its storage."""
  path = str(tmp_path / "ok.pth")
  _write_pth(path, fmt, {"t": ("0", 0, (3, 2), (1, 3)),     # a transpose
                         "tail": ("0", 4, (2,), (1,)),      # last element = element 5
                         "bcast": ("0", 5, (2, 3), (0, 0)),  # expand: stride 0
                         "empty": ("0", 6, (0, 3), (3, 1))}, _SIX)
  sd = inc.read_torch_state_dict(path)
  np.testing.assert_array_equal(sd["t"], [[0, 3], [1, 4], [2, 5]])
  np.testing.assert_array_equal(sd["tail"], [4, 5])
  np.testing.assert_array_equal(sd["bcast"], np.full((2, 3), 5.0))
  assert sd["empty"].shape == (0, 3)


_HEADER_RECORDS = {"magic": 0, "protocol": 1, "sys_info": 2, "storage_keys": 4}


@pytest.mark.parametrize("record", list(_HEADER_RECORDS))
def test_legacy_pth_header_record_that_calls_os_system_is_refused_unrun(record, tmp_path):
  """Every pickle of a legacy file, not only the state_dict, is read with no globals."""
  marker = str(tmp_path / "was_run")
  path = str(tmp_path / "evil.pth")
  _write_legacy_pth(path, {"w": ("0", 0, (6,), (1,))}, _SIX,
                    replace={_HEADER_RECORDS[record]: pickle.dumps(_RunsShell(marker), 2)})
  with pytest.raises(UserError) as e:
    inc.read_torch_state_dict(path)
  assert not os.path.exists(marker)
  assert f"{os.system.__module__}.system" in str(e.value) and "\n" not in str(e.value)


def test_zip_pth_data_pkl_that_calls_os_system_is_refused_unrun(tmp_path):
  marker = str(tmp_path / "was_run")
  path = str(tmp_path / "evil.pth")
  _write_zip_pth(path, {}, _SIX, data_pkl=pickle.dumps(_RunsShell(marker), 2))
  with pytest.raises(UserError) as e:
    inc.read_torch_state_dict(path)
  assert not os.path.exists(marker)
  assert f"{os.system.__module__}.system" in str(e.value) and "\n" not in str(e.value)


# Views of a 6-element storage that reach outside it: (offset, size, stride).
_OUT_OF_BOUNDS = {"offset_past_the_end": (6, (2,), (1,)),
                  "negative_offset": (-2, (2,), (1,)),
                  "size_past_the_end": (0, (2, 4), (4, 1)),
                  "negative_stride": (0, (3,), (-1,))}


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("case", list(_OUT_OF_BOUNDS))
def test_tensor_view_outside_its_storage_is_refused_naming_the_tensor(case, fmt, tmp_path):
  """Read unchecked, these views return the heap memory next to the storage as weights.
  (A huge stride, which crashes the reader, is checked through the converter below.)"""
  path = str(tmp_path / "oob.pth")
  offset, size, stride = _OUT_OF_BOUNDS[case]
  _write_pth(path, fmt, {"ok": ("0", 0, (6,), (1,)),
                         "fc.bias": ("0", offset, size, stride)}, _SIX)
  with pytest.raises(UserError, match=r"'fc\.bias'.*storage") as e:
    inc.read_torch_state_dict(path)
  assert "\n" not in str(e.value)


def _full_fid_state_dict(hostile=None):
  """Every pytorch-fid tensor as a stride-0 view of one 1-element storage (0.25), so
  the file is a few kB; `hostile` ('offset', 'size', 'negative_stride', 'huge_stride')
  swaps fc.bias [1008] for a view outside its storage."""
  storages = {"0": np.array([0.25], np.float32), "1": np.zeros(1000, np.float32)}
  tensors = {name: ("0", 0, shape, (0,) * len(shape))
             for name, shape in _expected_state_dict_shapes().items()}
  tensors["fc.bias"] = {None: ("0", 0, (1008,), (0,)),
                        "offset": ("0", 1, (1008,), (0,)),       # element 1 of 1
                        "size": ("1", 0, (1008,), (1,)),         # 1008 of 1000
                        "negative_stride": ("1", 999, (1008,), (-1,)),
                        "huge_stride": ("1", 0, (1008,), (2 ** 40,))}[hostile]
  return tensors, storages


def test_hand_built_full_fid_pth_loads(tmp_path):
  """The control for the converter tests: their files minus the hostile entry load."""
  path = str(tmp_path / "fid.pth")
  _write_zip_pth(path, *_full_fid_state_dict())
  leaves = jax.tree_util.tree_leaves(inc.load_inception_params(path))
  assert len(leaves) == len(_expected_state_dict_shapes())
  assert all(float(jnp.min(x)) == float(jnp.max(x)) == 0.25 for x in leaves)


_HOSTILE_FILES = ["legacy_header_os_system", "zip_data_pkl_os_system",
                  "offset", "size", "negative_stride", "huge_stride"]


@pytest.mark.parametrize("hostile", _HOSTILE_FILES)
def test_convert_cli_refuses_hostile_pth_with_one_error_line_and_exit_2(hostile, tmp_path):
  """``python -m gans_jax.nets.inception convert``: no code run, no .npz of heap memory,
  no crash (a huge stride segfaulted the unchecked reader)."""
  marker, pth, npz = (str(tmp_path / n) for n in ("was_run", "evil.pth", "out.npz"))
  shell = pickle.dumps(_RunsShell(marker), 2)
  if hostile == "legacy_header_os_system":
    _write_legacy_pth(pth, *_full_fid_state_dict(), replace={0: shell})
  elif hostile == "zip_data_pkl_os_system":
    _write_zip_pth(pth, *_full_fid_state_dict(), data_pkl=shell)
  else:
    _write_zip_pth(pth, *_full_fid_state_dict(hostile))
  result = subprocess.run([sys.executable, "-m", "gans_jax.nets.inception", "convert", pth, npz],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
  assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
  lines = result.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
  if not hostile.endswith("os_system"):
    assert "'fc.bias'" in lines[0]
  assert not os.path.exists(marker)
  assert not os.path.exists(npz)


# ----------------------------------------------------------------------------
# Pooling and resizing helpers against NumPy.
# ----------------------------------------------------------------------------

def _np_avg_pool_valid_only(x, k=3, s=1, p=1):
  b, h, w, c = x.shape
  ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
  out = np.zeros((b, ho, wo, c))
  for i in range(ho):
    for j in range(wo):
      r0, c0 = i * s - p, j * s - p
      rows = slice(max(r0, 0), min(r0 + k, h))
      cols = slice(max(c0, 0), min(c0 + k, w))
      out[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
  return out


def _np_resize_torch_bilinear(x, ho, wo):
  """PyTorch F.interpolate(bilinear, align_corners=False), written from its formula."""
  def taps(n_in, n_out):
    src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0
  r0, r1, fr = taps(x.shape[1], ho)
  c0, c1, fc = taps(x.shape[2], wo)
  rows = x[:, r0] * (1 - fr)[None, :, None, None] + x[:, r1] * fr[None, :, None, None]
  return rows[:, :, c0] * (1 - fc)[None, None, :, None] + rows[:, :, c1] * fc[None, None, :, None]


class HelpersTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_avg_pool_excludes_padding_from_the_count(self):
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype(np.float32)
    y = self.variant(inc.avg_pool_exclude_padding)(jnp.asarray(x))
    np.testing.assert_allclose(y, _np_avg_pool_valid_only(x), rtol=1e-6, atol=1e-6)
    # Corner: the 2x2 valid part of its window; edge: 2x3; interior: 3x3.
    np.testing.assert_allclose(y[:, 0, 0], x[:, :2, :2].mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(y[:, 0, 2], x[:, :2, 1:4].mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(y[:, 1, 1], x[:, :3, :3].mean(axis=(1, 2)), rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_avg_pool_of_a_constant_image_is_constant(self):
    # Counting the zero padding would pull corners to 4/9 and edges to 6/9.
    y = self.variant(inc.avg_pool_exclude_padding)(jnp.full((1, 5, 5, 1), 2.0))
    np.testing.assert_allclose(y, 2.0, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_padded_max_pool_never_picks_the_padding(self):
    # Mixed_7c's 3x3/1 max pool on all-negative inputs: zero padding would give 0.
    x = -1.0 - np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    y = self.variant(lambda v: inc.max_pool(v, stride=1, padding=1))(jnp.asarray(x))
    assert y.shape == (1, 4, 4, 1)
    assert y[0, 0, 0, 0] == -1.0 and y[0, 3, 3, 0] == -1.0 - 10  # max of x[2:4, 2:4]

  @chex.variants(with_jit=True, without_jit=True)
  def test_resize_matches_torch_bilinear_align_corners_false(self):
    x = np.random.default_rng(1).normal(size=(2, 9, 6, 3)).astype(np.float32)
    for ho, wo in [(13, 17), (4, 3), (5, 11)]:  # up, down (no antialiasing), mixed
      y = self.variant(lambda v: inc.resize_bilinear(v, ho, wo))(jnp.asarray(x))
      np.testing.assert_allclose(y, _np_resize_torch_bilinear(x.astype(np.float64), ho, wo),
                                 rtol=1e-5, atol=1e-5)
