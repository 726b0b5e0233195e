"""The model families on the shared trainer: VAE, VAE-GAN, classifier; the family registry."""

import importlib
import json
import os

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import evaluate, families, trainer
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.families import base, vae, vae_gan
from gans_jax.optim import optimizer_config


def experiment(name: str):
  return importlib.import_module(f"experiments.{name}").get_config()


def tiny(name: str, data_dir: str, num_steps: int = 4):
  """The experiment at 8x8 with widths 8 (Winograd layers run: >= 8 channels, H, W % 4 == 0)."""
  config = experiment(name)
  config.dataset.data_dir = data_dir
  config.dataset.resolution = 8
  config.train.num_steps = num_steps
  config.train.batch_size = 8
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_images = 16
  for field in ("e_width", "g_width", "d_width"):
    if field in config.model:
      config.model[field] = 8
  if "z_dim" in config.model:
    config.model.z_dim = 4
  return config


def test_unknown_family_is_one_error_listing_the_known_ones():
  config = experiment("vae")
  config.family = "vea"
  with pytest.raises(UserError, match=r"^family: 'vea' is not one of gan, vae, vae_gan, "
                                      r"classifier, cyclegan, ssgan$"):
    families.check_config(config)


def _vae_gan_with_options(config, spectral_norm: bool, ema_decay: float):
  config.model.d_norm = "none" if spectral_norm else "batch"
  config.model.d_spectral_norm = spectral_norm
  config.ema.decay = ema_decay
  return config


@pytest.mark.parametrize("name, options", [("vae", None), ("vae_gan", (False, 0.0)),
                                           ("vae_gan", (True, 0.9))])
def test_vae_families_train_resume_exactly_and_write_samples(name, options, data_dir, tmp_path):
  def config(steps=4):
    c = tiny(name, data_dir, steps)
    return c if options is None else _vae_gan_with_options(c, *options)

  full = trainer.train_and_evaluate(config(), str(tmp_path / "full"), progress=False)
  trainer.train_and_evaluate(config(2), str(tmp_path / "resumed"), progress=False)
  resumed = trainer.train_and_evaluate(config(), str(tmp_path / "resumed"), progress=False)
  if options is not None:  # the options' state is in the checkpoint exactly when they are on
    assert bool(resumed.d_sn) == options[0] and bool(resumed.decoder_ema) == (options[1] > 0)
  assert int(resumed.step) == 4
  chex.assert_trees_all_equal(flax.serialization.to_state_dict(jax.device_get(resumed)),
                              flax.serialization.to_state_dict(jax.device_get(full)))
  rows = [json.loads(l) for l in open(tmp_path / "full" / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [2, 4]
  assert all(np.isfinite(r["kl"]) and r["kl"] >= 0 for r in rows)
  assert sorted(os.listdir(tmp_path / "full" / "samples")) == [
      "recon_step_0000002.png", "recon_step_0000004.png",
      "step_0000002.png", "step_0000004.png"]


def _first_batch_and_eps(config, dataset, key, draws: int = 2):
  """The batch indices and normals step 0 draws, from the documented keys:
  split(fold_in(key, 0), draws); example i uses fold_in(part, i)."""
  parts = jax.random.split(jax.random.fold_in(key, 0), draws)
  b, n = config.train.batch_size, dataset.num_examples
  idx = np.array([int(jax.random.randint(jax.random.fold_in(parts[0], i), (), 0, n))
                  for i in range(b)])
  normals = [np.stack([np.asarray(jax.random.normal(jax.random.fold_in(p, i),
                                                    (config.model.z_dim,))) for i in range(b)])
             for p in parts[1:]]
  return idx, normals


def test_vae_step_minimises_the_negative_elbo_of_the_documented_draws(data_dir):
  """Step 0's logged loss, KL and log-likelihood, recomputed in NumPy from the batch and
  epsilon the documented keys give, with the networks' own forward passes."""
  config = tiny("vae", data_dir, 1)
  config.model.e_norm = "none"
  config.loss.beta = 0.5
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  fam = vae.VAE(config, dataset)
  state = fam.init_state(jax.random.PRNGKey(0))
  key = jax.random.PRNGKey(5)
  _, m = jax.jit(fam.step_fn(resident=True))(state, {"x": jnp.asarray(dataset.all()["x"])}, key)
  idx, (eps,) = _first_batch_and_eps(config, dataset, key)
  x = dataset.all()["x"][idx].astype(np.float64)
  mean, log_var = (np.asarray(a, np.float64) for a in fam.encoder.apply(
      base.variables(state.encoder), jnp.asarray(x, jnp.float32), train=True))
  z = mean + np.exp(0.5 * log_var) * eps
  decoded, _ = fam.decoder.apply(base.variables(state.decoder), jnp.asarray(z, jnp.float32),
                                 train=True, mutable=["batch_stats"])
  decoded = np.asarray(decoded, np.float64)
  s = config.loss.log_scale
  ll = np.sum(-0.5 * ((x - decoded) / np.exp(s)) ** 2 - s - 0.5 * np.log(2 * np.pi),
              axis=(1, 2, 3))
  kl = 0.5 * np.sum(np.exp(log_var) + mean ** 2 - 1 - log_var, axis=1)
  np.testing.assert_allclose(float(m["kl"]), kl.mean(), rtol=1e-4)
  np.testing.assert_allclose(float(m["log_likelihood"]), ll.mean(), rtol=1e-4)
  np.testing.assert_allclose(float(m["loss"]), -(ll - 0.5 * kl).mean(), rtol=1e-4)
  np.testing.assert_allclose(float(m["elbo"]), (ll - kl).mean(), rtol=1e-4)


def _one_sgd_step(config, dataset, key=jax.random.PRNGKey(3)):
  fam = vae_gan.VAEGAN(config, dataset)
  state = fam.init_state(jax.random.PRNGKey(0))
  new, _ = jax.jit(fam.step_fn(resident=True))(state, {"x": jnp.asarray(dataset.all()["x"])},
                                               key)
  delta = lambda group: jax.tree.map(lambda a, b: np.asarray(a) - np.asarray(b),
                                     getattr(new, group).params, getattr(state, group).params)
  return fam, state, {g: delta(g) for g in ("encoder", "decoder", "d")}


def test_vae_gan_updates_each_group_on_its_own_loss_only(data_dir):
  """Algorithm 1: encoder <- L_prior + L_llike, decoder <- gamma L_llike - L_GAN,
  discriminator <- L_GAN. With SGD, changing gamma moves only the decoder's update,
  changing beta only the encoder's; and each group's update is -lr times the
  gradient of its own loss (the others' losses held at the same draws)."""
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  lr = 0.01

  def config(gamma=1.0, beta=1.0):
    c = tiny("vae_gan", data_dir, 1)
    c.model.e_norm = c.model.d_norm = "none"
    c.loss.gamma, c.loss.beta = gamma, beta
    for name in ("encoder", "decoder", "d"):
      c.optimizer[name] = optimizer_config("sgd", lr)
    return c

  fam, state, ref = _one_sgd_step(config(), dataset)
  _, _, g2 = _one_sgd_step(config(gamma=3.0), dataset)
  _, _, b2 = _one_sgd_step(config(beta=3.0), dataset)
  same = lambda a, b: chex.assert_trees_all_close(a, b, atol=1e-7)
  differ = lambda a, b: max(float(np.max(np.abs(x - y))) for x, y in
                            zip(jax.tree.leaves(a), jax.tree.leaves(b))) > 1e-6
  same(g2["encoder"], ref["encoder"]), same(g2["d"], ref["d"])
  assert differ(g2["decoder"], ref["decoder"])
  same(b2["decoder"], ref["decoder"]), same(b2["d"], ref["d"])
  assert differ(b2["encoder"], ref["encoder"])

  # Each update is -lr * d(own loss) / d(own params), at step 0's documented draws.
  key = jax.random.PRNGKey(3)
  parts = jax.random.split(jax.random.fold_in(key, 0), 3)
  idx, (eps, z_prior) = _first_batch_and_eps(config(), dataset, key, draws=3)
  x = jnp.asarray(dataset.all()["x"][idx])
  params = (state.encoder.params, state.decoder.params, state.d.params)
  for i, group in enumerate(("encoder", "decoder", "d")):
    grad = jax.jit(jax.grad(lambda p: fam.group_losses(
        state, params[:i] + (p,) + params[i + 1:], x, (), jnp.asarray(eps),
        jnp.asarray(z_prior))[0][i]))(params[i])
    chex.assert_trees_all_close(ref[group], jax.tree.map(lambda g: -lr * np.asarray(g), grad),
                                atol=1e-6)
  del parts


def test_vae_gan_decoder_ema_is_the_hand_average_and_samples_and_bounds_use_it(data_dir):
  """ema.decay 0.8 from step 1 with warm-up: the average after each step recomputed in NumPy
  from the decoder's weights; generate (samples, reconstructions, the bounds) decodes with it."""
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  config = tiny("vae_gan", data_dir, 4)
  config.ema.decay, config.ema.start_step = 0.8, 1
  fam = vae_gan.VAEGAN(config, dataset)
  state = fam.init_state(jax.random.PRNGKey(0))
  step = jax.jit(fam.step_fn(resident=True))
  data = {"x": jnp.asarray(dataset.all()["x"])}
  to_np = lambda t: jax.tree.map(lambda a: np.asarray(a, np.float64), t)
  avg = to_np({"params": state.decoder.params, "batch_stats": state.decoder.batch_stats})
  for t in range(4):
    state, _ = step(state, data, jax.random.PRNGKey(5))
    d = 0.0 if t < 1 else min(0.8, t / (9 + t))  # start step 1, warm-up (1 + n) / (10 + n)
    new = to_np({"params": state.decoder.params, "batch_stats": state.decoder.batch_stats})
    avg = jax.tree.map(lambda a, n: d * a + (1 - d) * n, avg, new)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
               to_np(dict(state.decoder_ema)), avg)
  assert avg["batch_stats"]  # the decoder's BatchNorm statistics are averaged too
  z = jax.random.normal(jax.random.PRNGKey(1), (8, config.model.z_dim))
  by_average = fam.decoder.apply(jax.tree.map(jnp.asarray, avg), z, train=False)
  np.testing.assert_allclose(fam.generate(state, z), by_average, rtol=1e-5, atol=1e-6)
  config.eval.use_ema = False  # the raw decoder
  raw = fam.decoder.apply(base.variables(state.decoder), z, train=False)
  np.testing.assert_allclose(fam.generate(state, z), raw, rtol=1e-6)
  assert not np.allclose(raw, by_average)


def _exact_spectral_norm(params):
  """(params with each weight matrix divided by its largest singular value from NumPy's SVD,
  each matrix's top right singular vector in spectral_norm's vector tree)."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
  normed, vectors = dict(flat), {}
  for path, w in flat.items():
    if path[-1] == "kernel":
      _, s, vt = np.linalg.svd(np.asarray(w, np.float64).reshape(-1, w.shape[-1]))
      normed[path] = np.asarray(w, np.float64) / s[0]
      vectors[path] = jnp.asarray(vt[0], jnp.float32)
  return (flax.traverse_util.unflatten_dict(normed),
          flax.traverse_util.unflatten_dict(vectors))


@pytest.mark.parametrize("d_spectral_norm", [False, True])
def test_vae_gan_discriminator_loss_is_minus_l_gan(d_spectral_norm, data_dir):
  """-L_GAN = -log s(D(x)) - log(1 - s(D(x~))) - log(1 - s(D(x_p))), from the scores in NumPy;
  with spectral norm, D scores with each kernel divided by its SVD's largest singular value
  (the vectors start at the exact singular vectors, so one power iteration is exact)."""
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  config = tiny("vae_gan", data_dir, 1)
  config.model.e_norm = config.model.d_norm = "none"
  config.model.d_spectral_norm = d_spectral_norm
  fam = vae_gan.VAEGAN(config, dataset)
  state = fam.init_state(jax.random.PRNGKey(0))
  d_params = state.d.params
  if d_spectral_norm:
    d_params, exact_vectors = _exact_spectral_norm(state.d.params)
    assert jax.tree.structure(exact_vectors) == jax.tree.structure(state.d_sn)
    state = state.replace(d_sn=exact_vectors)
  rng = np.random.default_rng(0)
  x = jnp.asarray(dataset.all()["x"][:8])
  eps, zp = (jnp.asarray(rng.normal(size=(8, 4)), jnp.float32) for _ in range(2))
  params = (state.encoder.params, state.decoder.params, state.d.params)
  (_, _, d_loss), (aux, _, new_sn) = fam.group_losses(state, params, x, (), eps, zp)
  mean, log_var = fam.encoder.apply(base.variables(state.encoder), x, train=True)
  dec = lambda z: fam.decoder.apply(base.variables(state.decoder), z, train=True,
                                    mutable=["batch_stats"])[0]
  score = lambda im: np.asarray(fam.discriminator.apply(
      {"params": jax.tree.map(lambda w: jnp.asarray(w, jnp.float32), d_params)}, im,
      train=True)[0], np.float64)
  # The decoder's BatchNorm sees x~ then x_p in training mode: batch statistics of each.
  s_real, s_tilde = score(x), score(dec(mean + jnp.exp(0.5 * log_var) * eps))
  s_prior = score(dec(zp))
  log_sig = lambda t: -np.logaddexp(0, -t)
  expected = -np.mean(log_sig(s_real)) - np.mean(log_sig(-s_tilde)) - np.mean(log_sig(-s_prior))
  np.testing.assert_allclose(float(d_loss), expected, rtol=1e-5)
  if d_spectral_norm:  # the exact vectors are the power iteration's fixed point (up to sign)
    for u, u_exact in zip(jax.tree.leaves(new_sn), jax.tree.leaves(state.d_sn)):
      np.testing.assert_allclose(np.abs(float(u @ u_exact)), 1.0, atol=1e-4)
  np.testing.assert_allclose(float(aux["d_real"]), s_real.mean(), rtol=1e-5)


def test_vae_gan_spectral_norm_runs_model_sn_iterations_power_iterations(data_dir):
  """From the initial random vectors, D's kernels are divided by v^T W u after
  `model.sn_iterations` power iterations, computed here in NumPy; 0 is an error."""
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  config = tiny("vae_gan", data_dir, 1)
  config.model.d_spectral_norm, config.model.sn_iterations = True, 3
  fam = vae_gan.VAEGAN(config, dataset)
  state = fam.init_state(jax.random.PRNGKey(0))
  normed, vectors = fam.spectral_norm(state.d.params, state.d_sn)
  flat_w = flax.traverse_util.flatten_dict(flax.core.unfreeze(state.d.params))
  flat_u = flax.traverse_util.flatten_dict(flax.core.unfreeze(state.d_sn))
  flat_normed = flax.traverse_util.flatten_dict(flax.core.unfreeze(normed))
  flat_new_u = flax.traverse_util.flatten_dict(flax.core.unfreeze(vectors))
  assert flat_u and set(flat_u) == set(flat_new_u)
  for path, u in flat_u.items():
    w = np.asarray(flat_w[path], np.float64).reshape(-1, flat_w[path].shape[-1])
    u = np.asarray(u, np.float64)
    for _ in range(3):
      v = w @ u / np.linalg.norm(w @ u)
      u = w.T @ v / np.linalg.norm(w.T @ v)
    np.testing.assert_allclose(flat_new_u[path], u, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(flat_normed[path]).reshape(w.shape), w / (v @ w @ u),
                               rtol=1e-4, atol=1e-6)
  config.model.sn_iterations = 0
  with pytest.raises(UserError, match=r"^model\.sn_iterations: must be >= 1, got 0"):
    families.check_config(config)


def test_conditional_vae_decoder_on_unlabelled_points_is_a_user_error(data_dir, tmp_path):
  config = experiment("vae")
  config.dataset.name, config.dataset.resolution, config.dataset.data_dir = "ring8", None, data_dir
  config.model.arch, config.model.conditional = "mlp", "concat"
  with pytest.raises(UserError, match=r"^model\.conditional: 'concat' needs a labelled image "
                                      r"dataset.*'ring8' holds points"):
    trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  assert not os.path.exists(tmp_path / "checkpoints")


def test_vae_on_points_trains_with_mlp_nets(data_dir, tmp_path):
  config = experiment("vae")
  config.dataset.name, config.dataset.resolution, config.dataset.data_dir = "ring8", None, data_dir
  config.model.arch, config.model.z_dim = "mlp", 2
  config.model.e_hidden = config.model.g_hidden = (16,)
  config.train.num_steps, config.train.batch_size = 2, 16
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_points = 32
  state = trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  assert int(state.step) == 2
  assert sorted(os.listdir(tmp_path / "samples")) == ["recon_step_0000002.png",
                                                      "step_0000002.png"]


def test_vae_eval_writes_image_metrics_and_likelihood_bounds(digits_classifier, data_dir,
                                                             tmp_path):
  config = tiny("vae", data_dir, 2)
  config.dataset.resolution = 16
  config.eval.classifier_dir = digits_classifier[0]
  config.eval.num_samples = config.eval.batch_size = 200
  config.eval.kid_subsets, config.eval.truncation_sweep = 5, ()
  config.eval.iw_samples = 20
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  results = evaluate.evaluate(config, str(tmp_path))
  keys = {"fid", "kid", "precision", "recall", "density", "coverage", "classifier_score",
          "fid_train_test", "elbo", "log_likelihood_iw", "iw_samples", "recon_mse", "fid_recon"}
  assert keys <= set(results), keys - set(results)
  assert results["iw_samples"] == 20
  assert all(np.isfinite(results[k]) for k in keys)
  # The importance-weighted bound is at least the ELBO (Burda et al. 2016, Thm. 1),
  # up to the Monte Carlo noise of the one-sample ELBO averaged over 360 images.
  assert results["log_likelihood_iw"] >= results["elbo"] - 1.0
  assert json.load(open(tmp_path / "eval.json")) == results


def test_classifier_family_resumes_exactly(data_dir, tmp_path, capsys):
  def config(steps):
    c = experiment("classifier_digits")
    c.dataset.data_dir, c.dataset.resolution = data_dir, 8
    c.model.width, c.model.feature_dim = 8, 16
    c.train.num_steps, c.train.batch_size = steps, 16
    c.log_every = c.sample_every = c.checkpoint_every = 2
    return c
  full = trainer.train_and_evaluate(config(4), str(tmp_path / "full"), progress=False)
  trainer.train_and_evaluate(config(2), str(tmp_path / "resumed"), progress=False)
  resumed = trainer.train_and_evaluate(config(4), str(tmp_path / "resumed"), progress=False)
  chex.assert_trees_all_equal(jax.device_get(resumed.net.params),
                              jax.device_get(full.net.params))
  rows = [json.loads(l) for l in open(tmp_path / "resumed" / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [2, 4] and "accuracy" in rows[0]
  meta = json.load(open(tmp_path / "full" / "classifier.json"))
  assert 0.0 <= meta["test_accuracy"] <= 1.0
  # The end of training prints the accuracies classifier.json holds.
  assert (f"final: train_accuracy {meta['train_accuracy']:.4f}, test_accuracy "
          f"{meta['test_accuracy']:.4f}\n") in capsys.readouterr().out


def test_edit_reaches_real_images_through_the_encoder(digits_classifier, data_dir, tmp_path,
                                                      monkeypatch):
  from gans_jax import plots
  from gans_jax.edit import edit
  drawn = {}  # every picture the run writes, with the words written on it
  real_save = plots.save_image_grid

  def spy(images, path, ncols=None, **labels):
    drawn[os.path.basename(path)] = labels
    real_save(images, path, ncols, **labels)
  monkeypatch.setattr(plots, "save_image_grid", spy)
  config = tiny("vae", data_dir, 2)
  config.dataset.resolution = 16
  config.eval.classifier_dir = digits_classifier[0]
  config.edit.num_samples, config.edit.batch_size, config.edit.num_steps = 24, 16, 3
  config.edit.step_size, config.edit.direction_scales = 0.5, (2.0,)
  config.edit.num_interpolations, config.edit.interpolation_steps = 2, 3
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  results = edit(config, str(tmp_path))
  assert results["real_image_num_edited"] == 24
  assert 0.0 <= results["real_image_success_rate"] <= 1.0
  assert 0.0 <= results["real_image_recon_accuracy"] <= 1.0
  for name in ("edit_real_before_after.png", "interpolation_real.png"):
    assert (tmp_path / name).exists()
  # Each picture is readable alone: the run, the step and what it shows in its title; rows or
  # columns labelled.
  assert {"step_0000002.png", "recon_step_0000002.png", "edit_before_after.png",
          "edit_trajectory.png", "direction_transfer.png", "interpolation_lerp.png",
          "interpolation_slerp.png", "latent_arithmetic.png", "edit_real_before_after.png",
          "interpolation_real.png"} <= set(drawn)
  run = os.path.basename(str(tmp_path))
  for name, labels in drawn.items():
    assert run in labels["title"] and "step 2" in labels["title"], (name, labels)
    if name != "step_0000002.png":
      assert labels.get("row_labels") or labels.get("col_labels"), name
  assert drawn["edit_before_after.png"]["row_labels"][:2] == ["before", "after"]
  assert drawn["latent_arithmetic.png"]["col_labels"] == ["a", "b", "c", "a + b - c"]


@pytest.mark.parametrize("name", ["gan_mlp", "vae", "vae_gan", "classifier_digits",
                                  "cyclegan_digits", "ssgan_digits"])
def test_a_second_init_reuses_the_compiled_step(name, data_dir):
  """A state's optimizers are static pytree metadata: two inits with different keys must
  give the same tree structure, or a step compiled for the first state traces and
  compiles again for the second (the next group of seeds in benchmarks/mode_coverage.py,
  ~3 s a group)."""
  config = tiny(name, data_dir)
  if config.dataset.name in ("ring8", "grid25"):
    config.dataset.resolution = None
  fam = families.get(config)(config, base.load_config_dataset(config))
  first, second = fam.init_state(jax.random.PRNGKey(0)), fam.init_state(jax.random.PRNGKey(1))
  assert jax.tree.structure(first) == jax.tree.structure(second)
  chex.assert_trees_all_equal_shapes_and_dtypes(first, second)
  assert any(not np.array_equal(a, b) for a, b in
             zip(jax.tree.leaves(first), jax.tree.leaves(second)))  # the keys were used
  step = jax.jit(lambda state: jax.tree.map(lambda x: x, state))
  step(first), step(second)
  assert step._cache_size() == 1
