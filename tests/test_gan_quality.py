"""The GAN family's quality options in the step and the loop: generator EMA, spectral norm,
R1/R2 at the drawn points, exact resume with all their state, the best-FID checkpoint."""

import json

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import configs, evaluate, losses, trainer
from gans_jax.checkpoint import BEST_DIR, Checkpointer, committed_steps
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.families import check_config, gan
from gans_jax.nets import spectral_norm


def ring8_config(data_dir, num_steps=4):
  """A tiny MLP GAN on ring8 (BatchNorm in G, so the EMA averages statistics too)."""
  config = gan.default_config()
  config.dataset.name, config.dataset.resolution = "ring8", None
  config.dataset.data_dir = data_dir
  config.model.arch = "mlp"
  config.model.z_dim = 2
  config.model.g_hidden = config.model.d_hidden = (16,)
  config.model.g_batch_norm = True
  config.model.d_norm = "none"
  config.train.num_steps, config.train.batch_size = num_steps, 16
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_points = 64
  return config


def _family(config, data_dir):
  return gan.GAN(config, load_dataset("ring8", data_dir=data_dir))


def test_ema_in_the_step_is_the_hand_average_and_samples_use_it(data_dir):
  config = ring8_config(data_dir)
  config.ema.decay, config.ema.start_step = 0.8, 1
  family = _family(config, data_dir)
  state = family.init_state(jax.random.PRNGKey(0))
  data = {"x": jnp.asarray(family.dataset.all()["x"])}
  step = jax.jit(family.step_fn(resident=True))
  to_np = lambda t: jax.tree.map(lambda a: np.asarray(a, np.float64), t)
  avg = to_np({"params": state.g.params, "batch_stats": state.g.batch_stats})
  for t in range(4):
    state, _ = step(state, data, jax.random.PRNGKey(5))
    d = 0.0 if t < 1 else min(0.8, (1 + t - 1) / (10 + t - 1))  # start step 1, warm-up
    new = to_np({"params": state.g.params, "batch_stats": state.g.batch_stats})
    avg = jax.tree.map(lambda a, n: d * a + (1 - d) * n, avg, new)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
               to_np(dict(state.g_ema)), avg)
  assert avg["batch_stats"]  # statistics are averaged too
  z = jax.random.normal(jax.random.PRNGKey(1), (8, 2))
  by_average = family.generator.apply(state.g_ema, z, train=False)
  np.testing.assert_allclose(family.generate(state, z), by_average, rtol=1e-6)
  config.eval.use_ema = False  # --mode=eval --config.eval.use_ema=False: the raw generator
  raw = family.generator.apply({"params": state.g.params, "batch_stats": state.g.batch_stats},
                               z, train=False)
  np.testing.assert_allclose(family.generate(state, z), raw, rtol=1e-6)
  assert not np.allclose(raw, by_average)


@pytest.mark.parametrize("point", ["real", "fake"])
def test_r1_r2_and_spectral_norm_act_at_the_drawn_points(point, data_dir):
  """Step 0's gp metric recomputed from the documented draws (see test_train's
  fold_in test) with D's spectrally normalised parameters, and its vectors advanced."""
  config = ring8_config(data_dir)
  config.loss.gp_weight, config.loss.gp_point = 1.0, point
  config.model.d_spectral_norm = True
  family = _family(config, data_dir)
  state = family.init_state(jax.random.PRNGKey(0))
  x_all = family.dataset.all()["x"]
  key = jax.random.PRNGKey(11)
  new, metrics = jax.jit(family.step_fn(resident=True))(state, {"x": jnp.asarray(x_all)}, key)

  k_data, k_z, _, _ = jax.random.split(jax.random.split(jax.random.fold_in(key, 0), 2)[0], 4)
  b = config.train.batch_size
  idx = [int(jax.random.randint(jax.random.fold_in(k_data, i), (), 0, len(x_all)))
         for i in range(b)]
  z = jnp.stack([jax.random.normal(jax.random.fold_in(k_z, i), (2,)) for i in range(b)])
  fake, _ = family.generator.apply({"params": state.g.params, "batch_stats": state.g.batch_stats},
                                   z, train=True, mutable=["batch_stats"])
  normed, vectors = spectral_norm.normalize(state.d.params, state.d_sn)
  critic = lambda p: family.discriminator.apply({"params": normed}, p[None], train=True)[0][0]
  points = np.asarray(x_all[idx] if point == "real" else fake)
  sq = [float(jnp.sum(jax.grad(critic)(jnp.asarray(p)) ** 2)) for p in points]
  np.testing.assert_allclose(float(metrics["gp"]), 0.5 * np.mean(sq), rtol=1e-4)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new.d_sn, vectors)
  # ... and the default interpolate penalty is the WGAN-GP one (losses.gradient_norm_penalty).
  assert losses.r1_penalty is not losses.gradient_norm_penalty


def test_resume_with_every_quality_option_is_exact(data_dir, tmp_path):
  def config(steps):
    c = ring8_config(data_dir, steps)
    c.ema.decay = 0.9
    c.model.d_spectral_norm = True
    c.loss.gp_weight, c.loss.gp_point = 0.5, "real"
    c.optimizer.g.schedule, c.optimizer.g.warmup_steps = "cosine", 1
    c.optimizer.d.schedule, c.optimizer.d.decay_steps = "linear", 4
    c.train.num_steps = 4  # the schedules' length, the same for both runs
    return c

  full = trainer.train_and_evaluate(config(4), str(tmp_path / "full"), progress=False)
  part = config(4)
  part.train.num_steps = 2
  part.optimizer.g.decay_steps = 4  # g's schedule length stays the full run's
  first = config(4)
  first.optimizer.g.decay_steps = 4
  trainer.train_and_evaluate(part, str(tmp_path / "resumed"), progress=False)
  resumed = trainer.train_and_evaluate(first, str(tmp_path / "resumed"), progress=False)
  assert int(resumed.step) == 4 and dict(resumed.g_ema) and dict(resumed.d_sn)
  jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
               jax.tree.leaves(full), jax.tree.leaves(resumed))


def test_best_checkpoint_is_the_lowest_evaluated_and_eval_can_read_it(data_dir, tmp_path):
  config = ring8_config(data_dir, num_steps=6)
  config.eval_every, config.checkpoint_every = 1, 3
  config.eval.num_samples = config.eval.num_samples_train = 200
  config.optimizer.g.learning_rate = config.optimizer.d.learning_rate = 5e-3
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  rows = [json.loads(line) for line in open(tmp_path / "eval.jsonl")]
  # Reverse KL is NaN while no sample is near a mode; such rows never count as best.
  finite = [r for r in rows if np.isfinite(r["reverse_kl"])]
  best = min(finite, key=lambda r: r["reverse_kl"])["step"]
  assert committed_steps(str(tmp_path / BEST_DIR)) == [best]
  assert committed_steps(str(tmp_path / "checkpoints"))[-1] == 6  # the latest is kept too
  config.eval.checkpoint = "best"
  _, _, state = evaluate.restore_latest(config, str(tmp_path))
  assert int(state.step) == best


@flax.struct.dataclass
class _Tiny:
  step: jnp.ndarray
  w: jnp.ndarray


def _tiny(step):
  return _Tiny(step=jnp.asarray(step), w=jnp.asarray(float(step)))


def test_best_checkpointer_keeps_the_lowest_metric_across_reopening(tmp_path):
  ckpt = Checkpointer(str(tmp_path), 1, best_metric="fid", best_mode="min")
  for step, fid in [(1, 5.0), (2, 3.0), (3, 4.0)]:
    ckpt.save(_tiny(step), {"fid": fid})
  assert ckpt.all_steps() == [2]
  ckpt.close()
  ckpt = Checkpointer(str(tmp_path), 1, best_metric="fid", best_mode="min")  # a resumed run
  ckpt.save(_tiny(4), {"fid": 3.5})
  assert ckpt.all_steps() == [2]
  ckpt.save(_tiny(5), {"fid": 2.5})
  assert ckpt.all_steps() == [5]
  assert float(ckpt.restore(_tiny(0)).w) == 5.0
  ckpt.close()


@pytest.mark.parametrize("field,value,match", [
    ("loss.gp_point", "middle", r"^loss\.gp_point: 'middle' is not one of"),
    ("augment.policy", "color,zoom", r"^augment\.policy: unknown augmentation 'zoom'"),
    ("augment.policy", "color", r"^augment\.policy: augments images"),
    ("ema.decay", 1.0, r"^ema\.decay: must be in \[0, 1\)"),
    ("model.sn_iterations", 0, r"^model\.sn_iterations: must be >= 1"),
    ("eval.checkpoint", "first", r"^eval\.checkpoint: 'first' is not one of latest, best"),
])
def test_bad_quality_fields_name_the_field(field, value, match, data_dir):
  config = ring8_config(data_dir)
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(UserError, match=match):
    check_config(config)


def test_turning_ema_or_a_schedule_on_for_a_resume_is_refused():
  for field in ("ema.decay", "optimizer.d.schedule", "optimizer.g.warmup_steps"):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
      configs.check_resumable({field: [0, 1]}, "config.json")
  configs.check_resumable({"ema.start_step": [0, 5], "augment.policy": ["", "color"]},
                          "config.json")


def test_with_the_options_off_checkpoints_keep_the_earlier_format(data_dir, tmp_path):
  """A run without EMA or spectral norm saves {step, g, d} as before the options existed,
  so workdirs written by earlier versions still restore (and are not set aside as damaged)."""
  import orbax.checkpoint as ocp
  family = _family(ring8_config(data_dir), data_dir)
  state = family.init_state(jax.random.PRNGKey(0))
  tree = flax.serialization.to_state_dict(state)
  assert set(tree) == {"step", "g", "d"}
  manager = ocp.CheckpointManager(str(tmp_path), options=ocp.CheckpointManagerOptions(
      enable_async_checkpointing=False))
  manager.save(0, args=ocp.args.StandardSave(tree))
  manager.close()
  restored = Checkpointer(str(tmp_path), 1, read_only=True).restore(state)
  jax.tree.map(np.testing.assert_array_equal, restored, state)
