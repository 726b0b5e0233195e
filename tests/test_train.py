"""The train step and loop: learning, exact resume, divergence handling, every config runs."""

import glob
import importlib
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import families, trainer
from gans_jax.checkpoint import Checkpointer
from gans_jax.families import check_config, gan
from gans_jax.families.base import all_finite, load_config_dataset
from gans_jax.optim import optimizer_config
from gans_jax.data import load_dataset, mixture_centers
from gans_jax.errors import UserError
from gans_jax.train_settings import TrainSettings
from idx_files import shared_tiny_mnist

def experiment(name: str):
  return importlib.import_module(f"experiments.{name}").get_config()


EXPERIMENTS = sorted(
    name for name in (os.path.basename(p)[:-3] for p in glob.glob(
        os.path.join(os.path.dirname(__file__), "..", "experiments", "*.py")))
    if experiment(name).get("family", "gan") == "gan")


def shrink(config, data_dir, num_steps=4):
  """The same experiment with tiny networks and a few steps (and a tiny IDX dataset in place of
  Fashion-MNIST, which no test needs)."""
  config.dataset.data_dir = data_dir
  if config.dataset.name.startswith("idx:"):
    config.dataset.name = "idx:" + shared_tiny_mnist(data_dir)
  config.train.num_steps = num_steps
  config.train.batch_size = 8
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_points = 64
  config.num_sample_images = 4
  if config.model.arch == "dcgan":
    config.dataset.resolution = 8
    config.model.g_width = config.model.d_width = 8
  else:
    config.model.g_hidden = config.model.d_hidden = (16,)
  return config


def tiny_dcgan(data_dir, num_steps=6):
  config = shrink(experiment("dcgan"), data_dir, num_steps)
  config.checkpoint_every = 3
  return config


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_trains_and_writes_its_outputs(name, data_dir, tmp_path):
  config = shrink(experiment(name), data_dir)
  state = trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  assert int(state.step) == 4
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [2, 4]
  for r in rows:
    assert np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"])
  if config.loss.gp_weight > 0:
    assert "gp" in rows[0]
  assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000002.png", "step_0000004.png"]
  assert (tmp_path / "losses.png").exists()
  saved = json.load(open(tmp_path / "config.json"))
  assert saved["loss"]["name"] == config.loss.name
  # model.conv_impl 'auto' (the default) is saved as what ran: Winograd on this CPU.
  assert config.model.conv_impl == "auto" and saved["model"]["conv_impl"] == "winograd"
  assert sorted(int(s) for s in os.listdir(tmp_path / "checkpoints") if s.isdigit()) == [2, 4]


def test_wgan_weight_clipping_keeps_critic_params_in_range(data_dir, tmp_path):
  config = shrink(experiment("wgan"), data_dir)
  config.optimizer.d.learning_rate = 0.05  # large steps, so clipping must act
  state = trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  leaves = jax.tree.leaves(state.d.params)
  assert max(float(jnp.max(jnp.abs(x))) for x in leaves) <= 0.01 + 1e-7
  assert max(float(jnp.max(jnp.abs(x))) for x in leaves) >= 0.01 - 1e-7  # it did bind


def test_resume_reaches_the_same_parameters_as_an_uninterrupted_run(data_dir, tmp_path):
  full = trainer.train_and_evaluate(tiny_dcgan(data_dir), str(tmp_path / "full"), progress=False)
  first = tiny_dcgan(data_dir, num_steps=3)
  half = trainer.train_and_evaluate(first, str(tmp_path / "resumed"), progress=False)
  assert int(half.step) == 3
  resumed = trainer.train_and_evaluate(tiny_dcgan(data_dir), str(tmp_path / "resumed"),
                                     progress=False)
  assert int(resumed.step) == 6
  chex.assert_trees_all_equal(resumed.g.params, full.g.params)
  chex.assert_trees_all_equal(resumed.d.params, full.d.params)
  chex.assert_trees_all_equal(resumed.g.batch_stats, full.g.batch_stats)
  chex.assert_trees_all_equal(resumed.d.opt_state, full.d.opt_state)
  steps = [json.loads(l)["step"] for l in open(tmp_path / "resumed" / "metrics.jsonl")]
  assert steps == [2, 3, 4, 6]  # log_every=2, plus the last step of each run
  # The uninterrupted run's step-3 checkpoint was saved while training went on
  # with donated buffers; it must hold exactly the 3-step state.
  ckpt = Checkpointer(str(tmp_path / "full" / "checkpoints"), 3)
  at3 = ckpt.restore(full, step=3)
  ckpt.close()
  chex.assert_trees_all_equal(at3.g.params, half.g.params)
  chex.assert_trees_all_equal(at3.d.opt_state, half.d.opt_state)


def test_a_resumed_run_hands_the_step_a_state_typed_and_placed_as_a_new_runs(data_dir, tmp_path):
  """What jit's cache and the persistent compilation cache key on (dtype, weak type, whether the
  array is committed to a device) is the same for a new run's state and a restored one, so a
  resumed run's step is the program the new run compiled and the cache serves it."""
  config = tiny_dcgan(data_dir, num_steps=3)
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  family, runner = trainer.make_runner(TrainSettings.from_config(config),
                                       lambda axis: gan.GAN(config, dataset, axis), resident=True)
  template = family.init_state(jax.random.PRNGKey(0))
  ckpt = Checkpointer(str(tmp_path / "checkpoints"), 3)
  restored = ckpt.restore(template)
  ckpt.close()
  signature = lambda state: [(x.shape, x.dtype, jax.typeof(x).weak_type, x.committed)
                             for x in jax.tree.leaves(state)]
  new = signature(runner.put_state(template))
  assert new == signature(runner.put_state(restored))
  assert not [s for s in new if s[2]], "weakly typed leaves: a restored int32 is strongly typed"
  assert all(s[3] for s in new)


@pytest.mark.parametrize("name", ["vae", "vae_gan", "cyclegan_digits", "ssgan_digits",
                                  "classifier_digits", "gan_mlp", "cgan_digits"])
def test_no_family_starts_from_a_weakly_typed_leaf(name, data_dir):
  """Every family's initial state as the previous test requires of the GAN's (abstractly
  evaluated: nothing is compiled); a weakly typed leaf would make a resumed run compile again."""
  config = experiment(name)
  config.dataset.data_dir = data_dir
  family = families.get(config)(config, load_config_dataset(config))
  state = jax.eval_shape(family.init_state, jax.random.PRNGKey(0))
  assert [jax.tree_util.keystr(path) for path, leaf in jax.tree_util.tree_leaves_with_path(state)
          if leaf.weak_type] == []


def test_streamed_data_trains_and_resumes_exactly(data_dir, tmp_path):
  def config(num_steps):
    c = tiny_dcgan(data_dir, num_steps)
    c.dataset.max_resident_mb = 0  # force the host-streaming path
    return c
  full = trainer.train_and_evaluate(config(4), str(tmp_path / "full"), progress=False)
  trainer.train_and_evaluate(config(2), str(tmp_path / "resumed"), progress=False)
  resumed = trainer.train_and_evaluate(config(4), str(tmp_path / "resumed"), progress=False)
  chex.assert_trees_all_equal(resumed.g.params, full.g.params)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(data_dir, tmp_path):
  config = tiny_dcgan(data_dir, num_steps=20)
  config.log_every = config.checkpoint_every = 1
  # SGD with a 1e10 learning rate: step 1's losses are finite, its update is
  # huge, and the scores overflow a step or two later.
  config.optimizer.d = optimizer_config("sgd", 1e10)
  config.optimizer.g = optimizer_config("sgd", 1e10)
  # dcgan.py's spectral normalisation divides D's weights by their largest singular value, and
  # with it the scores stay finite here (measured); the BatchNorm discriminator it replaced overflows.
  config.model.d_spectral_norm, config.model.d_norm = False, "batch"
  with pytest.raises(trainer.TrainingDiverged, match="non-finite"):
    trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  ckpt = Checkpointer(str(tmp_path / "checkpoints"), 3)
  last = ckpt.latest_step()
  assert last is not None and last < 20
  models = gan.GAN(config, load_dataset("digits", data_dir=data_dir, resolution=8))
  template = models.init_state(jax.random.PRNGKey(0))
  restored = ckpt.restore(template)
  assert all_finite(restored.g.params) and all_finite(restored.d.params)
  assert int(restored.step) == last


def test_wgan_gp_on_ring8_lands_near_the_modes(data_dir, tmp_path):
  config = gan.default_config()
  config.dataset.name = "ring8"
  config.dataset.resolution = None
  config.dataset.data_dir = data_dir
  config.model.arch = "mlp"
  config.model.z_dim = 2
  config.model.g_hidden = (128, 128)
  config.model.d_hidden = (128, 128)
  config.model.d_norm = "none"
  config.loss.name = "wasserstein"
  config.loss.gp_weight = 0.1
  config.optimizer.g = optimizer_config("adam", 1e-3, b1=0.5, b2=0.9)
  config.optimizer.d = optimizer_config("adam", 1e-3, b1=0.5, b2=0.9)
  config.train.num_steps = 1500
  config.train.batch_size = 256
  config.train.n_critic = 2
  config.log_every = config.sample_every = config.checkpoint_every = 1500
  state = trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  models = gan.GAN(config, load_dataset("ring8", data_dir=data_dir))
  z = jax.random.normal(jax.random.PRNGKey(123), (2000, 2))
  samples = np.asarray(models.generate(state, z))
  centers, _ = mixture_centers("ring8")
  dist = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
  nearest, mode = dist.min(1), dist.argmin(1)
  # Before training the samples sit in a blob near the origin, ~1 from every centre.
  # Measured: median 0.043 and all 8 modes hit (seed 0).
  assert np.median(nearest) < 0.1, np.median(nearest)
  assert len(np.unique(mode[nearest < 0.1])) >= 7


def test_check_config_names_each_bad_field():
  cases = {
      "loss.name": ("loss", "name", "wasserstain"),
      "model.arch": ("model", "arch", "vit"),
      "train.n_critic": ("train", "n_critic", 0),
      "dataset.resolution": ("dataset", "resolution", 24),
      "model.d_norm": ("model", "d_norm", "batch"),  # with the WGAN-GP penalty below
      "parallel.cpu_compiler_options": ("parallel", "cpu_compiler_options", "ynn=dot"),
  }
  for field, (section, key, value) in cases.items():
    config = experiment("wgan_gp")
    config[section][key] = value
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
      check_config(config)
  config = experiment("wgan_gp")
  with pytest.raises(UserError, match=r"train\.batch_size.*divisible"):
    check_config(config, num_devices=5)


def test_vmapped_seeds_under_several_processes_is_a_user_error(data_dir, monkeypatch):
  """Seeds train on one device: under --distributed every process would train the same ones."""
  config = tiny_dcgan(data_dir)
  config.train.num_seeds = 2
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  monkeypatch.setattr(trainer.parallel, "multi_process", lambda: True)
  with pytest.raises(UserError, match=r"train\.num_seeds.*--distributed"):
    trainer.make_runner(TrainSettings.from_config(config), lambda axis: gan.GAN(config, dataset, axis), resident=True)


def test_vmapped_seeds_match_single_seed_runs(data_dir, tmp_path):
  """num_seeds=2 trains replicas whose parameters are those of runs with seed 0 and 1."""
  def config(seed=0, num_seeds=1):
    c = tiny_dcgan(data_dir, num_steps=2)
    c.seed, c.train.num_seeds = seed, num_seeds
    c.optimizer.g = optimizer_config("sgd", 0.05)  # see tests/parallel_equivalence.py
    c.optimizer.d = optimizer_config("sgd", 0.05)
    return c
  both = trainer.train_and_evaluate(config(num_seeds=2), str(tmp_path / "both"), progress=False)
  for i in range(2):
    single = trainer.train_and_evaluate(config(seed=i), str(tmp_path / f"s{i}"), progress=False)
    replica = jax.tree.map(lambda x: x[i], both)
    chex.assert_trees_all_close(replica.g.params, single.g.params, atol=1e-5)
    chex.assert_trees_all_close(replica.d.params, single.d.params, atol=1e-5)
  # The replicas really differ (different init and noise).
  assert float(jnp.max(jnp.abs(both.g.params["Dense_0"]["kernel"][0]
                               - both.g.params["Dense_0"]["kernel"][1]))) > 1e-3
  rows = [json.loads(l) for l in open(tmp_path / "both" / "metrics.jsonl")]
  assert len(rows[-1]["d_loss_per_seed"]) == 2


@pytest.mark.parametrize("streamed", [False, True])
def test_fused_steps_equal_single_steps(streamed, data_dir, tmp_path):
  """steps_per_call=3 (lax.scan over steps) gives the states and logs of one call per step.

  Events at step 6 and the end (7) make the loop run 3 + 3 fused, then 1 single step.
  """
  def config(fuse):
    c = tiny_dcgan(data_dir, num_steps=7)
    c.log_every = c.sample_every = c.checkpoint_every = 6
    c.train.steps_per_call = fuse
    c.dataset.max_resident_mb = 0 if streamed else 512
    return c
  single = trainer.train_and_evaluate(config(1), str(tmp_path / "single"), progress=False)
  fused = trainer.train_and_evaluate(config(3), str(tmp_path / "fused"), progress=False)
  assert int(fused.step) == 7
  chex.assert_trees_all_close(fused.g.params, single.g.params, atol=1e-6)
  chex.assert_trees_all_close(fused.d.params, single.d.params, atol=1e-6)
  chex.assert_trees_all_close(fused.g.batch_stats, single.g.batch_stats, atol=1e-6)
  chex.assert_trees_all_close(fused.d.opt_state, single.d.opt_state, atol=1e-6)
  rows = {name: [json.loads(l) for l in open(tmp_path / name / "metrics.jsonl")]
          for name in ("single", "fused")}
  assert [r["step"] for r in rows["fused"]] == [6, 7]
  for a, b in zip(rows["single"], rows["fused"]):
    np.testing.assert_allclose(a["d_loss"], b["d_loss"], rtol=1e-5)
    np.testing.assert_allclose(a["g_loss"], b["g_loss"], rtol=1e-5)


def test_rows_logged_between_other_events_hold_their_own_steps_metrics(data_dir, tmp_path):
  """Rows at steps with nothing else due (1, 2; their metrics are copied to the host while
  the next step runs and written a step later) and at the checkpoint (3) hold the metrics the
  family's step returns at that step, recomputed here by calling the step directly."""
  config = tiny_dcgan(data_dir, num_steps=3)
  config.log_every, config.sample_every, config.checkpoint_every = 1, 3, 3
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [1, 2, 3]
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  family = gan.GAN(config, dataset)
  init_key, train_key, _ = trainer.seed_keys(config.seed)
  state, step = family.init_state(init_key), jax.jit(family.step_fn(resident=True))
  data = {"x": jnp.asarray(dataset.all()["x"])}
  for row in rows:
    state, metrics = step(state, data, train_key)
    for key in ("d_loss", "g_loss"):
      np.testing.assert_allclose(row[key], float(metrics[key]), rtol=1e-5, err_msg=key)


def test_disentangle_term_is_the_cross_entropy_of_the_class_carried_by_z(data_dir):
  """The G metric `disentangle` = mean_i CE(f(G(z_i)), argmax z_i[:K]), recomputed by hand.

  f is a stand-in classifier whose logits ignore the image's content, so the
  expected value needs only the z the step drew (from its documented keys).
  """
  config = tiny_dcgan(data_dir, num_steps=1)
  config.model.z_dim = 6
  config.loss.disentangle = 2.0
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  k = 4
  class_logits = jnp.array([0.5, -1.0, 2.0, 0.0])
  classifier = lambda images: class_logits + 0.0 * jnp.sum(images, axis=(1, 2, 3))[:, None]
  family = gan.GAN(config, dataset, label_classifier=classifier)
  step = jax.jit(family.step_fn(resident=True))
  state = family.init_state(jax.random.PRNGKey(0))
  key = jax.random.PRNGKey(3)
  _, metrics = step(state, {"x": jnp.asarray(dataset.all()["x"])}, key)
  # The generator update draws z from keys[n_critic] (see gans_jax/families/gan.py).
  keys = jax.random.split(jax.random.fold_in(key, 0), config.train.n_critic + 1)
  k_z = jax.random.split(keys[-1], 4)[1]
  z = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(k_z, i), (6,)))
                for i in range(config.train.batch_size)])
  labels = z[:, :k].argmax(1)
  log_p = np.asarray(class_logits) - np.log(np.sum(np.exp(np.asarray(class_logits))))
  expected = -np.mean(log_p[labels])
  np.testing.assert_allclose(float(metrics["disentangle"]), expected, rtol=1e-5)
  assert len(set(labels.tolist())) > 1  # the labels really vary with z


def test_disentangle_trains_with_the_domain_classifier(data_dir, digits_classifier, tmp_path):
  config = tiny_dcgan(data_dir, num_steps=2)
  config.model.z_dim = 16
  config.loss.disentangle = 1.0
  config.eval.classifier_dir = digits_classifier[0]
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  # An untrained generator's images are not yet any class: CE near log(10) or above.
  assert rows[-1]["disentangle"] > 0.5 and np.isfinite(rows[-1]["disentangle"])
  config.model.z_dim = 8  # fewer coordinates than classes
  with pytest.raises(UserError, match=r"loss\.disentangle.*z_dim"):
    trainer.train_and_evaluate(config, str(tmp_path / "bad"), progress=False)


@pytest.mark.parametrize("step_count", [0, 1])
def test_step_draws_data_latents_and_penalty_points_from_fold_in_key_step(step_count, data_dir):
  """Step s's critic metrics, recomputed from the documented keys: keys = split(fold_in(key,
  s), n_critic + 1); update 0 splits keys[0] into (data, z, penalty, label) keys and example
  i folds in i. Data indices, z and the penalty's epsilon all follow s, so steps 0 and 1
  (same parameters) see different batches. Default conv_impl (Winograd) at 16x16, width 8,
  where Winograd layers run (G's ConvTranspose_0, D's Conv_1)."""
  config = experiment("wgan_gp")
  config.dataset.data_dir, config.dataset.resolution = data_dir, 16
  config.model.g_width = config.model.d_width = 8
  config.train.batch_size, config.train.n_critic = 8, 1
  dataset = load_dataset("digits", data_dir=data_dir, resolution=16)
  family = gan.GAN(config, dataset)
  state = family.init_state(jax.random.PRNGKey(0))
  state = state.replace(step=jnp.asarray(step_count, jnp.int32))
  key = jax.random.PRNGKey(11)
  x_all = dataset.all()["x"]
  _, metrics = jax.jit(family.step_fn(resident=True))(state, {"x": jnp.asarray(x_all)}, key)

  keys = jax.random.split(jax.random.fold_in(key, step_count), 2)
  k_data, k_z, k_gp, _ = jax.random.split(keys[0], 4)
  b = config.train.batch_size
  # Each example's draw on its own, from its folded key (vmapped over i only to compile once).
  per_example = lambda draw: jax.jit(jax.vmap(draw))(jnp.arange(b))
  idx = [int(i) for i in per_example(
      lambda i: jax.random.randint(jax.random.fold_in(k_data, i), (), 0, len(x_all)))]
  z = per_example(lambda i: jax.random.normal(jax.random.fold_in(k_z, i), (config.model.z_dim,)))
  eps = np.asarray(per_example(
      lambda i: jax.random.uniform(jax.random.fold_in(k_gp, i), (1, 1, 1))[0, 0, 0]))
  real = jnp.asarray(x_all[idx])
  fake, _ = jax.jit(lambda z: family.generator.apply(
      {"params": state.g.params, "batch_stats": state.g.batch_stats}, z, train=True,
      mutable=["batch_stats"]))(z)
  critic = jax.jit(
      lambda im: family.discriminator.apply({"params": state.d.params}, im, train=True)[0])
  np.testing.assert_allclose(float(metrics["d_real"]), float(jnp.mean(critic(real))), rtol=1e-5)
  np.testing.assert_allclose(float(metrics["d_fake"]), float(jnp.mean(critic(fake))), rtol=1e-5)
  # The penalty, one example at a time (LayerNorm critic: examples are independent).
  points = eps[:, None, None, None] * np.asarray(real) + (1 - eps[:, None, None, None]) * np.asarray(fake)
  critic_grad = jax.jit(jax.grad(lambda p: critic(p[None])[0]))
  norms = [float(jnp.linalg.norm(critic_grad(jnp.asarray(p)))) for p in points]
  np.testing.assert_allclose(float(metrics["gp"]), np.mean((np.array(norms) - 1) ** 2),
                             rtol=1e-4)
  # Another step count draws another batch (a constant key would repeat it).
  other = jax.random.split(jax.random.fold_in(key, 1 - step_count), 2)[0]
  other_data = jax.random.split(other, 4)[0]
  other_idx = [int(i) for i in per_example(
      lambda i: jax.random.randint(jax.random.fold_in(other_data, i), (), 0, len(x_all)))]
  assert idx != other_idx


def _one_critic_update(config, dataset):
  """(state before, state after one step of n_critic 1, the step's real and fake inputs to D)."""
  config.train.n_critic = 1
  family = gan.GAN(config, dataset)
  state = family.init_state(jax.random.PRNGKey(0))
  key = jax.random.PRNGKey(5)
  data = {k: jnp.asarray(v) for k, v in dataset.all().items()}
  after, _ = jax.jit(family.step_fn(resident=True))(state, data, key)
  # The critic update's batch, from the documented keys (see the test above).
  k_data, k_z, _, _ = jax.random.split(jax.random.split(jax.random.fold_in(key, 0), 2)[0], 4)
  b = config.train.batch_size
  idx = jax.vmap(lambda i: jax.random.randint(jax.random.fold_in(k_data, i), (), 0,
                                              len(data["x"])))(jnp.arange(b))
  z = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(k_z, i), (config.model.z_dim,)))(
      jnp.arange(b))
  fake, _ = jax.jit(lambda v, z: family.generator.apply(v, z, train=True,
                                                        mutable=["batch_stats"]))(
      {"params": state.g.params, "batch_stats": state.g.batch_stats}, z)
  return family, state, after, data["x"][idx], fake


def test_batch_independent_critic_gets_the_gradient_of_two_separate_passes(data_dir):
  """The maxout MLP critic scores [real; fake] in one pass; its gradient must be that of
  the non-saturating D loss with real and fake scored separately, written out here:
  softplus(-D(real)) + softplus(D(fake)), averaged. Adam's first moment after one update is
  (1 - b1) * gradient."""
  config = experiment("gan_mlp")
  config.dataset.data_dir = data_dir
  config.train.batch_size = 16
  family, state, after, real, fake = _one_critic_update(config, load_dataset("ring8", data_dir=data_dir))
  critic = lambda p, x: family.discriminator.apply({"params": p}, x, train=True)[0]
  loss = lambda p: (jnp.mean(jax.nn.softplus(-critic(p, real)))
                    + jnp.mean(jax.nn.softplus(critic(p, fake))))
  expected = jax.jit(jax.grad(loss))(state.d.params)
  b1 = config.optimizer.d.b1
  got = jax.tree.map(lambda m: m / (1 - b1), after.d.opt_state[0].mu)
  chex.assert_trees_all_close(got, expected, rtol=1e-4, atol=1e-7)


def test_batchnorm_critic_still_normalises_real_and_fake_as_separate_batches(data_dir):
  """A BatchNorm critic's running statistics after the update are those of a pass over the
  real batch followed by one over the fake batch (momentum applied twice), not of one pass over
  both: recomputed here by applying D to each batch in turn."""
  config = tiny_dcgan(data_dir)
  config.model.d_norm, config.model.d_spectral_norm = "batch", False
  config.dataset.resolution = 16  # at 8x8 D's one conv layer has no BatchNorm
  family, state, after, real, fake = _one_critic_update(
      config, load_dataset("digits", data_dir=data_dir, resolution=16))
  assert jax.tree.leaves(state.d.batch_stats)
  d_vars = {"params": state.d.params, "batch_stats": state.d.batch_stats}
  # D's train-mode pass compiled (op by op, every layer would compile its own programs).
  apply = jax.jit(lambda v, x: family.discriminator.apply(v, x, train=True,
                                                          mutable=["batch_stats"]))
  _, s1 = apply(d_vars, real)
  _, s2 = apply({**d_vars, **s1}, fake)
  _, joint = apply(d_vars, jnp.concatenate([real, fake]))
  chex.assert_trees_all_close(after.d.batch_stats, s2["batch_stats"], rtol=1e-5, atol=1e-7)
  # The two orders differ: the check above can tell them apart.
  leaf = lambda t: jax.tree.leaves(t)[0]
  assert not np.allclose(leaf(joint["batch_stats"]), leaf(s2["batch_stats"]), rtol=1e-3)
