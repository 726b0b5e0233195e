"""The CycleGAN family: unpaired translation between two image domains A and B.

Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", 2017, arXiv:1703.10593. Generators
G: A -> B and F: B -> A (`nets.ResnetGenerator`), discriminators D_A, D_B
(`nets.PatchGANDiscriminator`, score maps). Per batch (a, b), unpaired:

  L_G = LS(D_B(G(a))) + LS(D_A(F(b)))                        (least squares, target 1)
      + lambda_cyc (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)        (cycle consistency)
      + lambda_id  (|G(b) - b|_1 + |F(a) - a|_1)              (identity, optional)
  L_D_B = 1/2 mean (D_B(b) - 1)^2 + 1/2 mean D_B(pool_B(G(a)))^2, L_D_A likewise,

with LS(s) = mean (s - 1)^2 (= 2 * `losses.least_squares_generator_loss`, the
paper's MSE), |.|_1 the mean absolute error, lambda_cyc = 10 and lambda_id =
0.5 lambda_cyc as in the paper's code. Both generators take one Adam step on
L_G, each discriminator on its own loss, all from the same forward pass (the
discriminators see the fakes of the generators before their update, as the
paper's code does). The learning rate is constant for the first
`optimizer.decay_start` fraction of the steps, then decays linearly to 0.

History pool (Shrivastava et al. 2017, arXiv:1612.07828; the paper's
ImagePool): each discriminator keeps `loss.pool_size` earlier fakes in the
state (`pool_a`/`pool_b` images, `count_a`/`count_b` how many are filled). The
fakes of a step go through it one by one in global example order i: while the
pool is not full, fake i is stored at slot `count` and used; afterwards, with
k_i = fold_in(k_pool, i) and (k_u, k_j) = split(k_i), if uniform(k_u) < 0.5 the
stored image at slot j = randint(k_j, 0, pool_size) is used and fake i takes
its place, else fake i is used and the pool is unchanged. The pool is the same
on every device (the fakes are gathered), so N devices compute the one-device
step.

Randomness: step s uses ``fold_in(key, s)`` split into (k_a, k_b, k_pool_a,
k_pool_b); example i of the global batch draws its A index from fold_in(k_a, i)
and its B index from fold_in(k_b, i) (resident data), uniformly; streamed data
reads draw 0 for A and draw 1 for B.

Data: any two-domain dataset (`digits2styled`, TFDS `cycle_gan/*`); its split 'train'
gives both domains whole as arrays 'a' and 'b' (resident) or index i as the pair
(a[i // n_b], b[i % n_b]) (streamed), so domains of different sizes work.

Evaluation (`--mode=eval`) reports cycle errors on the test splits; with a classifier
of each domain (eval.classifier_dir_a and _b; for digits2styled the defaults are
runs/classifier_digits2styled_a and _b) also label preservation and FIDs, and for
digits2styled the error against the known transform.
"""

import os

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from ml_collections import config_dict

from gans_jax import losses, metrics
from gans_jax.batching import batched
from gans_jax.configs import base_config, require, require_sections
from gans_jax.data.builders import TWO_DOMAIN_DATASETS
from gans_jax.errors import UserError
from gans_jax.families import base
from gans_jax.families.interface import Family
from gans_jax.families.classifier import load_classifier
from gans_jax.nets.patchgan import PatchGANDiscriminator, score_map_side
from gans_jax.nets.resnet import ResnetGenerator
from gans_jax.optim import (check_optimizer_config, constant_then_linear_decay, make_optimizer,
                             optimizer_config)

NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")


@flax.struct.dataclass
class CycleGANState:
  step: jnp.ndarray
  g_ab: base.TrainState  # G: A -> B
  g_ba: base.TrainState  # F: B -> A
  d_a: base.TrainState
  d_b: base.TrainState
  pool_a: jnp.ndarray    # [pool_size, H, W, C] earlier F(b), D_A's fakes
  pool_b: jnp.ndarray    # [pool_size, H, W, C] earlier G(a), D_B's fakes
  count_a: jnp.ndarray   # slots of pool_a filled so far (<= pool_size)
  count_b: jnp.ndarray


def default_config() -> ml_collections.ConfigDict:
  """The shared skeleton plus CycleGAN's networks, weights and Adam schedule (digits2styled, 16x16)."""
  config = base_config()
  config.family = "cyclegan"
  config.dataset.name = "digits2styled"
  config.dataset.resolution = 16

  config.model = ml_collections.ConfigDict()
  config.model.g_width = 32       # k of c7s1-k (the paper: 64)
  config.model.g_blocks = 6       # residual blocks (the paper: 6 at 128px, 9 at 256px)
  config.model.g_downsampling = 2  # stride-2 stages around the blocks (the paper: 2)
  config.model.d_width = 64
  config.model.d_layers = 1       # stride-2 PatchGAN stages (the paper: 3 at 256px)

  config.loss = ml_collections.ConfigDict()
  config.loss.cycle_weight = 10.0     # lambda_cyc
  config.loss.identity = True         # identity loss on / off
  config.loss.identity_weight = 5.0   # lambda_id (the paper: 0.5 lambda_cyc)
  config.loss.pool_size = 50          # 0: no history pool

  config.optimizer = ml_collections.ConfigDict()
  for name in ("g", "d"):
    config.optimizer[name] = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)
  config.optimizer.decay_start = 0.5  # fraction of train.num_steps at constant learning rate

  config.eval.classifier_dir_a = config_dict.placeholder(str)  # None: runs/classifier_<dataset>_a
  config.eval.classifier_dir_b = config_dict.placeholder(str)
  config.num_sample_images = 8        # columns of the sample grid (6 rows)
  return config


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  """Raises `UserError` naming the first bad CycleGAN field."""
  del num_devices
  require_sections(config, "model", "loss", "optimizer")
  m, loss = config.model, config.loss
  for field in ("g_width", "g_blocks", "g_downsampling", "d_width", "d_layers"):
    least = 1 if field.endswith("width") else 0
    require(isinstance(m[field], int) and m[field] >= least,
            f"model.{field}", f"must be an integer >= {least}, got {m[field]!r}")
  res, factor = config.dataset.resolution, 2 ** m.g_downsampling
  require(isinstance(res, int) and res % factor == 0, "dataset.resolution",
          f"the ResNet generator downsamples {m.g_downsampling} times: needs a multiple of "
          f"{factor}, got {res!r}")
  require(score_map_side(res, m.d_layers) >= 1, "model.d_layers",
          f"{m.d_layers} stages leave no score map at resolution {res}; use fewer")
  require(loss.cycle_weight >= 0, "loss.cycle_weight", f"must be >= 0, got {loss.cycle_weight}")
  require(loss.identity_weight >= 0, "loss.identity_weight",
          f"must be >= 0, got {loss.identity_weight}")
  require(isinstance(loss.pool_size, int) and loss.pool_size >= 0, "loss.pool_size",
          f"must be an integer >= 0, got {loss.pool_size!r}")
  for name in ("g", "d"):
    check_optimizer_config(config.optimizer[name], f"optimizer.{name}")
    require(config.optimizer[name].name in ("adam", "sgd"), f"optimizer.{name}.name",
            f"CycleGAN trains with 'adam' (or 'sgd'), got {config.optimizer[name].name!r}")
  require(0 <= config.optimizer.decay_start <= 1, "optimizer.decay_start",
          f"must be in [0, 1], got {config.optimizer.decay_start}")
  require(config.train.n_critic == 1, "train.n_critic",
          "CycleGAN updates generators and discriminators once per step; use 1")


def query_pool(pool: jax.Array, count: jax.Array, fakes: jax.Array, key: jax.Array):
  """Passes `fakes` [B, ...] through the history pool (module docstring); returns
  (images for the discriminator [B, ...], new pool, new count). Example i uses fold_in(key, i)."""
  size = pool.shape[0]
  if size == 0:
    return fakes, pool, count

  def one(carry, inp):
    pool, count = carry
    fake, k = inp
    k_u, k_j = jax.random.split(k)
    filling = count < size
    swap = jax.random.uniform(k_u) < 0.5
    slot = jnp.where(filling, count, jax.random.randint(k_j, (), 0, size))
    out = jnp.where(~filling & swap, pool[slot], fake)
    pool = jnp.where(filling | swap, pool.at[slot].set(fake), pool)
    return (pool, jnp.minimum(count + 1, size)), out

  keys = base.example_keys(key, 0, fakes.shape[0])
  (pool, count), out = jax.lax.scan(one, (pool, count), (fakes, keys))
  return out, pool, count


def l1(x, y):
  return jnp.mean(jnp.abs(x - y))


def classifier_dirs(config: ml_collections.ConfigDict) -> dict:
  """Each domain's classifier workdir: eval.classifier_dir_a/_b, else runs/classifier_<dataset>_a/_b
  for digits2styled (whose domains have digit labels); {} for a dataset with neither."""
  ev, name = config.eval, config.dataset.name
  dirs = {d: ev.get(f"classifier_dir_{d}") for d in ("a", "b")}
  if name in TWO_DOMAIN_DATASETS:
    return {d: path or os.path.join("runs", f"classifier_{name}_{d}") for d, path in dirs.items()}
  return {d: path for d, path in dirs.items() if path}


class CycleGAN(Family):
  """Two generators, two PatchGAN discriminators, two history pools (module docstring)."""
  name = "cyclegan"
  progress_keys = ("g_adv", "cycle", "d_a", "d_b")
  has_sampler = False  # translates, does not sample from a prior: eval_metrics scores it

  def __init__(self, config, dataset, axis_name=None):
    super().__init__(config, dataset, axis_name)
    keys = set(dataset.get(np.zeros((0,), np.int64)).keys()) if dataset.kind == "image" else set()
    if not {"a", "b"} <= keys:
      raise UserError(f"dataset.name: CycleGAN needs a two-domain dataset (splits trainA and "
                      f"trainB), e.g. 'digits2styled'; {dataset.name!r} has one domain")
    m = config.model
    channels = dataset.example_shape[-1]
    self.g_net = ResnetGenerator(channels=channels, width=m.g_width, num_blocks=m.g_blocks,
                                 num_downsampling=m.g_downsampling)
    self.d_net = PatchGANDiscriminator(width=m.d_width, num_layers=m.d_layers)

  @property
  def data_keys(self) -> tuple:
    return ("a", "b")

  @property
  def draws_per_step(self) -> int:
    return 2  # streamed: draw 0 for A, draw 1 for B (independent indices)

  def optimizer(self, name: str):
    c = self.config
    opt = c.optimizer[name]
    lr = constant_then_linear_decay(opt.learning_rate, c.train.num_steps,
                                     c.optimizer.decay_start)
    # (name 'sgd' serves equivalence tests: Adam's first steps amplify float noise.)
    return make_optimizer(opt, field=f"optimizer.{name}", learning_rate=lr)

  def init_fn(self):
    shape = tuple(self.dataset.example_shape)
    size = int(self.config.loss.pool_size)
    txs = {name: self.optimizer(name[0]) for name in NETWORKS}

    def init(key):
      ks = jax.random.split(key, 4)
      x = jnp.zeros((2,) + shape, jnp.float32)
      states = {}
      for k, name in zip(ks, NETWORKS):
        net = self.g_net if name.startswith("g") else self.d_net
        states[name] = base.new_train_state(net, net.init(k, x), txs[name])
      pool = jnp.zeros((size,) + shape, jnp.float32)
      zero = jnp.zeros((), jnp.int32)
      return CycleGANState(step=zero, pool_a=pool, pool_b=pool, count_a=zero, count_b=zero,
                           **states)

    return init

  def generator_loss(self, g_params, state: CycleGANState, a, b):
    """(L_G, (metrics, fake_a = F(b), fake_b = G(a))) for generator params (G, F)."""
    p_ab, p_ba = g_params
    c = self.config.loss
    g = lambda p, x: self.g_net.apply({"params": p}, x)
    d = lambda ts, x: self.d_net.apply({"params": ts.params}, x)
    fake_b, fake_a = g(p_ab, a), g(p_ba, b)
    rec_a, rec_b = g(p_ba, fake_b), g(p_ab, fake_a)
    adv = (2 * losses.least_squares_generator_loss(d(state.d_b, fake_b))
           + 2 * losses.least_squares_generator_loss(d(state.d_a, fake_a)))
    cycle_a, cycle_b = l1(rec_a, a), l1(rec_b, b)
    total = adv + c.cycle_weight * (cycle_a + cycle_b)
    aux = {"g_adv": adv, "cycle_a": cycle_a, "cycle_b": cycle_b, "cycle": cycle_a + cycle_b}
    if c.identity and c.identity_weight > 0:
      idt = l1(g(p_ab, b), b) + l1(g(p_ba, a), a)
      total = total + c.identity_weight * idt
      aux["identity"] = idt
    aux["g_loss"] = total
    return total, (aux, fake_a, fake_b)

  def step_fn(self, *, resident, num_shards=1):
    batch = int(self.config.train.batch_size) // num_shards
    mean = base.device_mean(self.axis_name)
    axis = self.axis_name

    def draw(data, name, key, offset, index):
      return base.draw_batch(data, (name,), key, offset, batch, resident=resident,
                             index=index)[0]

    def pooled(pool, count, fakes, key, offset):
      # The pool is global: every device passes the whole batch's fakes through
      # the same pool and keeps its own slice of the result.
      if axis:
        fakes = jax.lax.all_gather(fakes, axis, tiled=True)
      out, pool, count = query_pool(pool, count, fakes, key)
      return jax.lax.dynamic_slice_in_dim(out, offset, batch), pool, count

    def step(state: CycleGANState, data, key):
      offset = base.device_offset(axis, batch)
      k_a, k_b, k_pa, k_pb = jax.random.split(base.step_key(key, state.step), 4)
      a = draw(data, "a", k_a, offset, 0)
      b = draw(data, "b", k_b, offset, 1)
      g_params = (state.g_ab.params, state.g_ba.params)
      (_, (aux, fake_a, fake_b)), g_grads = jax.value_and_grad(
          self.generator_loss, has_aux=True)(g_params, state, a, b)
      fake_a, fake_b = jax.lax.stop_gradient(fake_a), jax.lax.stop_gradient(fake_b)
      d_fake_a, pool_a, count_a = pooled(state.pool_a, state.count_a, fake_a, k_pa, offset)
      d_fake_b, pool_b, count_b = pooled(state.pool_b, state.count_b, fake_b, k_pb, offset)

      def d_loss(params, real, fake):
        return losses.least_squares_discriminator_loss(
            self.d_net.apply({"params": params}, real), self.d_net.apply({"params": params}, fake))

      loss_da, grad_da = jax.value_and_grad(d_loss)(state.d_a.params, a, d_fake_a)
      loss_db, grad_db = jax.value_and_grad(d_loss)(state.d_b.params, b, d_fake_b)
      new = state.replace(
          step=state.step + 1,
          g_ab=state.g_ab.apply_gradients(grads=mean(g_grads[0])),
          g_ba=state.g_ba.apply_gradients(grads=mean(g_grads[1])),
          d_a=state.d_a.apply_gradients(grads=mean(grad_da)),
          d_b=state.d_b.apply_gradients(grads=mean(grad_db)),
          pool_a=pool_a, pool_b=pool_b, count_a=count_a, count_b=count_b)
      return new, mean({**aux, "d_a": loss_da, "d_b": loss_db})

    return step

  # -- translation, pictures, evaluation
  def translate(self, state: CycleGANState, x: jax.Array, direction: str) -> jax.Array:
    """G(x) for direction 'ab', F(x) for 'ba'; images [B, H, W, C] in [-1, 1]."""
    ts = state.g_ab if direction == "ab" else state.g_ba
    return self.g_net.apply({"params": ts.params}, x)

  def test_arrays(self, domain: str) -> dict:
    """{'x', 'y'} of test split `test<domain>` (testB[i] = T(testA[i]) for digits2styled)."""
    c = self.config.dataset
    from gans_jax.data import load_dataset
    return load_dataset(c.name, split=f"test{domain}", data_dir=c.data_dir,
                        resolution=c.resolution).all()

  def fixed_inputs(self, key, num):
    del key  # the first `num` test images of each domain
    return {"a": jnp.asarray(self.test_arrays("A")["x"][:num]),
            "b": jnp.asarray(self.test_arrays("B")["x"][:num])}

  def sample_grids(self, state, fixed):
    """Rows a, G(a), F(G(a)), b, F(b), G(F(b))."""
    a, b = fixed["a"], fixed["b"]
    g_a, f_b = self.translate(state, a, "ab"), self.translate(state, b, "ba")
    rows = [a, g_a, self.translate(state, g_a, "ba"), b, f_b, self.translate(state, f_b, "ab")]
    return {"": (jnp.concatenate(rows), a.shape[0])}

  def grid_legend(self, prefix: str, num_rows: int) -> tuple:
    del prefix, num_rows
    return ("test images translated and back", ["a", "G(a)", "F(G(a))", "b", "F(b)", "G(F(b))"])

  def classifier_dirs(self) -> dict:
    return classifier_dirs(self.config)

  def eval_metrics(self, state, evaluator, key):
    """cycle_error_a/b; with each domain's classifier label_preservation_ab/ba and fid_a/b (+ train
    vs test); for digits2styled translation vs identity error against the known transform."""
    del evaluator, key
    test = {"a": self.test_arrays("A"), "b": self.test_arrays("B")}
    a, b = test["a"]["x"], test["b"]["x"]
    bs = int(self.config.eval.batch_size)
    fwd = jax.jit(self.translate, static_argnums=2)

    def translate(x, direction):
      return batched(lambda xb: fwd(state, xb, direction), bs, x)

    g_a, f_b = translate(a, "ab"), translate(b, "ba")
    out = {"cycle_error_a": float(np.mean(np.abs(translate(g_a, "ba") - a))),
           "cycle_error_b": float(np.mean(np.abs(translate(f_b, "ab") - b)))}
    dirs = self.classifier_dirs()
    if dirs:
      if set(dirs) != {"a", "b"}:
        raise UserError("eval.classifier_dir_a: set both eval.classifier_dir_a and "
                        "eval.classifier_dir_b (one classifier per domain), or neither")
      out.update(self._classifier_metrics(dirs, test, g_a, f_b))
    if self.config.dataset.name == "digits2styled":
      # The known answer: testB[i] = T(testA[i]).
      out.update({"translation_error_ab": float(np.mean(np.abs(g_a - b))),
                  "translation_error_ba": float(np.mean(np.abs(f_b - a))),
                  "identity_error_ab": float(np.mean(np.abs(a - b)))})
    return out

  def _classifier_metrics(self, dirs, test, g_a, f_b) -> dict:
    """Label preservation and FIDs of the translations in each target domain's classifier."""
    name, bs = self.config.dataset.name, int(self.config.eval.batch_size)
    classifiers = {d: load_classifier(path, f"{name}_{d}") for d, path in dirs.items()}
    train = self.dataset.all()

    def logits_features(d, x):
      res = classifiers[d].resolution
      if x.shape[1] != res:  # a classifier trained at another resolution
        x = np.asarray(jax.image.resize(x, (len(x), res, res, x.shape[-1]), "bilinear"))
      logits, features = batched(classifiers[d].apply, bs, x)
      return logits, features.astype(np.float64)

    def fid(d, x, y):
      stats = []
      for images in (x, y):
        feats = logits_features(d, images)[1]
        s = metrics.feature_stats_update(metrics.feature_stats_init(feats.shape[-1]), feats)
        stats.append(metrics.feature_stats_finalize(s))
      return float(metrics.frechet_distance(*stats[0], *stats[1]))

    a, b = test["a"]["x"], test["b"]["x"]
    out = {"fid_a": fid("a", f_b, a), "fid_a_train_test": fid("a", train["a"], a),
           "fid_b": fid("b", g_a, b), "fid_b_train_test": fid("b", train["b"], b)}
    if "y" in test["a"] and name in TWO_DOMAIN_DATASETS:  # class labels shared by both domains
      out["label_preservation_ab"] = float(np.mean(
          np.argmax(logits_features("b", g_a)[0], -1) == test["a"]["y"]))
      out["label_preservation_ba"] = float(np.mean(
          np.argmax(logits_features("a", f_b)[0], -1) == test["b"]["y"]))
    return out
