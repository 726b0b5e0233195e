"""model.dtype='bfloat16': products of bfloat16 operands accumulated in float32, the rest float32."""

import importlib
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gans_jax import trainer
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.families import check_config, gan
from gans_jax.nets import dcgan, precision, winograd

DN = ("NHWC", "HWIO", "NHWC")


def _rounded(x):
  """x rounded to bfloat16 and back, in float64 (NumPy, through ml_dtypes' bfloat16)."""
  return np.asarray(x).astype(jnp.bfloat16).astype(np.float64)


def test_bfloat16_products_are_exact_products_of_the_rounded_operands():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(33, 70)).astype(np.float32), rng.normal(size=(70, 9)).astype(np.float32)
  out = precision.matmul(jnp.asarray(a), jnp.asarray(b), jnp.bfloat16)
  assert out.dtype == jnp.float32  # accumulated and returned in float32
  np.testing.assert_allclose(out, _rounded(a) @ _rounded(b), rtol=1e-5, atol=1e-5)
  # Rounding the operands is a real change: the float32 product differs by more.
  assert np.max(np.abs(np.asarray(out) - a.astype(np.float64) @ b)) > 1e-3
  assert precision.compute_dtype("float32") is None
  with pytest.raises(ValueError, match="dtype must be one of"):
    precision.compute_dtype("float16")


def test_bfloat16_convolutions_match_float32_convolutions_of_the_rounded_operands():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(2, 8, 8, 8)).astype(np.float32)
  k = rng.normal(size=(4, 4, 8, 16)).astype(np.float32) / 8
  as32 = lambda v: jnp.asarray(_rounded(v), jnp.float32)
  ref = lax.conv_general_dilated(as32(x), as32(k), (2, 2), "SAME", dimension_numbers=DN)
  ref_t = lax.conv_transpose(as32(x), as32(k), (2, 2), "SAME", dimension_numbers=DN)
  for impl in ("xla", "gemm"):  # these round exactly the layer's input and kernel
    fwd = (precision.conv(x, k, (2, 2), "SAME", DN, jnp.bfloat16) if impl == "xla"
           else dcgan.conv4x4s2(jnp.asarray(x), jnp.asarray(k), jnp.bfloat16))
    np.testing.assert_allclose(fwd, ref, rtol=1e-4, atol=1e-4, err_msg=impl)
    tr = (precision.conv_transpose(x, k, (2, 2), "SAME", DN, jnp.bfloat16) if impl == "xla"
          else dcgan.conv_transpose4x4s2(jnp.asarray(x), jnp.asarray(k), jnp.bfloat16))
    np.testing.assert_allclose(tr, ref_t, rtol=1e-4, atol=1e-4, err_msg=impl)
  # Winograd rounds its transformed operands instead: within bfloat16's precision of the
  # float32 result (relative error of a few 2^-8).
  exact = lax.conv_general_dilated(x, k, (2, 2), "SAME", dimension_numbers=DN)
  wino = winograd.conv4x4s2(jnp.asarray(x), jnp.asarray(k), jnp.bfloat16)
  assert np.max(np.abs(wino - exact)) < 0.03 * np.max(np.abs(exact))
  exact_t = lax.conv_transpose(x, k, (2, 2), "SAME", dimension_numbers=DN)
  wino_t = winograd.conv_transpose4x4s2(jnp.asarray(x), jnp.asarray(k), jnp.bfloat16)
  assert np.max(np.abs(wino_t - exact_t)) < 0.03 * np.max(np.abs(exact_t))


def _wgan_gp(data_dir, dtype, num_steps=2):
  """experiments/wgan_gp.py at 16x16, widths 8 (Winograd layers run at this size), one critic
  update per step (a fifth of the program to compile)."""
  config = importlib.import_module("experiments.wgan_gp").get_config()
  config.dataset.data_dir, config.dataset.resolution = data_dir, 16
  config.model.g_width = config.model.d_width = 8
  config.model.dtype = dtype
  config.train.batch_size, config.train.num_steps, config.train.n_critic = 8, num_steps, 1
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_images = 4
  return config


def test_a_bfloat16_step_stays_close_to_the_float32_step_on_the_same_batch_and_keys(data_dir):
  """Same state, data and key: critic outputs, penalty and losses within 3 % (the products'
  operands carry 8 bits of mantissa), everything finite, the state's arrays float32."""
  dataset = load_dataset("digits", data_dir=data_dir, resolution=16)
  data = {"x": jnp.asarray(dataset.all()["x"])}
  results = {}
  for dtype in ("float32", "bfloat16"):
    family = gan.GAN(_wgan_gp(data_dir, dtype), dataset)
    state = family.init_state(jax.random.PRNGKey(0))
    new, metrics = jax.jit(family.step_fn(resident=True))(state, data, jax.random.PRNGKey(1))
    assert {leaf.dtype for leaf in jax.tree.leaves(new) if hasattr(leaf, "dtype")
            and jnp.issubdtype(leaf.dtype, jnp.floating)} == {jnp.dtype(jnp.float32)}
    results[dtype] = {k: float(v) for k, v in metrics.items()}
  f32, bf16 = results["float32"], results["bfloat16"]
  assert all(np.isfinite(v) for v in bf16.values())
  # The critic's outputs and the penalty within 3 % of themselves; the losses, which are
  # differences of those outputs, within 3 % of the outputs' scale.
  assert f32["gp"] > 1e-3  # the penalty is a real term here, so its check means something
  scale = max(abs(f32["d_real"]), abs(f32["d_fake"]))
  for key, bound in (("d_real", abs(f32["d_real"])), ("d_fake", abs(f32["d_fake"])),
                     ("gp", f32["gp"]), ("d_loss", scale), ("g_loss", scale)):
    assert abs(bf16[key] - f32[key]) <= 0.03 * bound, (key, f32, bf16)
  assert bf16 != f32  # the products really ran in bfloat16


def _small(config):
  """8x8 with XLA's convolutions: the cheapest program in which the products still run in bf16."""
  config.dataset.resolution, config.model.conv_impl = 8, "xla"
  return config


def test_bfloat16_trains_and_its_checkpoint_resumes_in_float32(data_dir, tmp_path):
  state = trainer.train_and_evaluate(_small(_wgan_gp(data_dir, "bfloat16", 2)), str(tmp_path),
                                     progress=False)
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert all(np.isfinite(v) for v in rows[-1].values())
  assert state.g.params["ConvTranspose_0"]["kernel"].dtype == jnp.float32
  resumed = trainer.train_and_evaluate(_small(_wgan_gp(data_dir, "float32", 4)), str(tmp_path),
                                       progress=False)
  assert int(resumed.step) == 4
  changes = [json.loads(l) for l in open(tmp_path / "config_changes.jsonl")]
  assert changes[-1]["step"] == 2 and "model.dtype" in json.dumps(changes[-1]["changes"])


def test_an_unknown_dtype_is_one_error_naming_the_field(data_dir):
  config = _wgan_gp(data_dir, "float16")
  with pytest.raises(UserError, match="model.dtype"):
    check_config(config)
