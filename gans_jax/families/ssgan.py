"""The semi-supervised K+1 GAN family (Salimans et al. 2016, arXiv:1606.03498, section 5).

The discriminator is a K-class classifier (`nets.semi_supervised`) whose fake
class K+1 is implicit (logit 0), so ``D(x) = Z(x) / (Z(x) + 1)`` with
``Z = sum_k exp(logit_k)``. It minimises cross-entropy on the labelled examples
plus the unsupervised real/fake loss on every example
(`losses.semi_supervised_discriminator_loss`); the generator trains by feature
matching on the discriminator's last hidden layer (`losses.feature_matching_loss`).

Networks (`model.arch`): 'mlp' is Salimans et al.'s MNIST model (D
`NoisyMLPClassifier`: dense ReLU layers with Gaussian noise; G dense softplus +
BatchNorm layers), for the 8x8 digits. 'conv' is their CIFAR-10 / SVHN
discriminator (section 5; openai/improved-gan train_cifar_feature_matching.py)
for images of side 16, 32 or 64 (28x28 Fashion-MNIST at dataset.resolution 32),
greyscale or RGB: D `ConvClassifier`, dropout 0.2 on the input and 0.5 after
each stride-2 block, weight-normalised 3x3 convolutions of `model.d_width` and
2 `model.d_width` channels (theirs 96 and 192) with leaky ReLU(0.2), global
average pooling (the features feature matching matches); G the DCGAN generator
(`nets.dcgan.DCGANGenerator`, BatchNorm, tanh) of `model.g_width`. The Gaussian
noise fields apply to both (conv: on the input and after each stride-2 block;
their CIFAR model has none, so set them to 0 to follow it).

Labels: `dataset.num_labeled` training images, class-balanced, are labelled;
the subset is drawn in `init_state` from the init key (so from `config.seed`;
replica i of a multi-seed run has the subset of seed + i) and kept in the state
(`labeled_idx`, `unlabeled_idx`), so a resume and the evaluation see the same
subset. Every other training image is used without its label.

Each step draws `train.labeled_batch_size` examples (with replacement) from the
labelled subset and `train.batch_size` from the unlabelled rest, per example
from ``fold_in(key, global example index)`` as the GAN family does. The
discriminator's Gaussian noise draws from ``fold_in(step key, device index)``,
its dropout (arch 'conv') likewise from ``fold_in(dropout key, device index)``
with the dropout key ``fold_in(step key, 4)``: on N devices the step is the
same algorithm with other noise than on one.

`--mode=eval` adds `test_accuracy` (the discriminator's argmax over the K
classes on the test split), `supervised_baseline_accuracy` (the same network,
same initial parameters, optimizer, batch and number of steps, trained on the
labelled subset alone with cross-entropy) and `num_labeled`.
"""

import functools
from typing import Callable

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gans_jax import losses
from gans_jax.configs import base_config, require, require_one_of, require_sections
from gans_jax.errors import UserError
from gans_jax.families import base
from gans_jax.families.interface import Family
from gans_jax.nets.dcgan import CONV_IMPL_CHOICES, DCGANGenerator
from gans_jax.nets.semi_supervised import ConvClassifier, NoisyMLPClassifier, SSGANGenerator
from gans_jax.optim import (check_optimizer_config, constant_then_linear_decay, make_optimizer,
                             optimizer_config)

ARCHS = ("mlp", "conv")
# Image sides of arch 'conv': the DCGAN generator's (8 to 64) with room for D's
# 3x3 valid convolution after two stride-2 blocks (at least 12).
CONV_RESOLUTIONS = (16, 32, 64)


@flax.struct.dataclass
class SSGANState:
  """The step, both networks and the labelled / unlabelled split of the train set."""
  step: jnp.ndarray
  g: base.TrainState
  d: base.TrainState
  labeled_idx: jnp.ndarray    # [num_labeled] int32, class-balanced
  unlabeled_idx: jnp.ndarray  # [N - num_labeled] int32, the rest of the train split


# ----------------------------------------------------------------------------- config


def default_config() -> ml_collections.ConfigDict:
  """The shared skeleton plus the SSGAN's sections: Salimans et al.'s MNIST model for digits."""
  config = base_config()
  config.family = "ssgan"
  config.dataset.resolution = 8
  config.dataset.num_labeled = 50     # class-balanced labelled subset (num_labeled / K per class)

  config.model = ml_collections.ConfigDict()
  config.model.arch = "mlp"
  config.model.z_dim = 100
  config.model.g_hidden = (500, 500)  # softplus + BatchNorm
  config.model.d_hidden = (500, 250, 250)
  config.model.input_noise = 0.6      # Gaussian std on the [-1, 1] input (0.3 on [0, 1] in the paper)
  config.model.hidden_noise = 0.5
  config.model.weight_norm = True     # weight-normalised D layers (Salimans & Kingma 2016)
  config.model.d_width = 32           # conv: D's first-block channels (2x after); 96 in the paper
  config.model.g_width = 32           # conv: channels of the DCGAN generator's last stage
  config.model.input_dropout = 0.2    # conv: dropout rate on D's input
  config.model.hidden_dropout = 0.5   # conv: dropout rate after each of D's stride-2 blocks
  config.model.conv_impl = "auto"     # conv: G's 4x4 stride-2 transposed convs (nets.dcgan)

  config.loss = ml_collections.ConfigDict()
  config.loss.unsupervised_weight = 1.0

  config.train.labeled_batch_size = 100
  config.train.batch_size = 100       # unlabelled real and generated examples per step

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.g = optimizer_config("adam", 5e-4, b1=0.5, b2=0.999)
  config.optimizer.d = optimizer_config("adam", 5e-4, b1=0.5, b2=0.999)
  config.optimizer.decay_start = 0.5  # fraction of train.num_steps before the linear decay to 0
  return config


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  """Raises `UserError` naming the first bad SSGAN field (the split sizes are checked
  against the dataset when the family is built)."""
  require_sections(config, "model", "loss", "optimizer")
  require_one_of(config, "model.arch", ARCHS)
  m = config.model
  require(m.z_dim >= 1, "model.z_dim", f"must be >= 1, got {m.z_dim}")
  for field in ("input_noise", "hidden_noise"):
    require(m[field] >= 0, f"model.{field}", f"must be >= 0, got {m[field]}")
  if m.arch == "conv":
    _check_conv_config(config)
  require(config.loss.unsupervised_weight >= 0, "loss.unsupervised_weight",
          f"must be >= 0, got {config.loss.unsupervised_weight}")
  num_labeled = config.dataset.get("num_labeled", None)
  require(isinstance(num_labeled, int) and num_labeled >= 1, "dataset.num_labeled",
          f"must be an integer >= 1, got {num_labeled!r}")
  lb = config.train.get("labeled_batch_size", 0)
  require(isinstance(lb, int) and lb >= 1, "train.labeled_batch_size",
          f"must be an integer >= 1, got {lb!r}")
  require(lb % num_devices == 0, "train.labeled_batch_size",
          f"{lb} is not divisible by the {num_devices} devices")
  check_optimizer_config(config.optimizer.g, "optimizer.g")
  check_optimizer_config(config.optimizer.d, "optimizer.d")
  decay_start = config.optimizer.get("decay_start", 1.0)
  require(0 <= decay_start <= 1, "optimizer.decay_start", f"must be in [0, 1], got {decay_start}")


def _check_conv_config(config: ml_collections.ConfigDict) -> None:
  """The fields of arch 'conv' (widths, dropout rates, conv_impl, the image side)."""
  m = config.model
  for field in ("d_width", "g_width"):
    require(isinstance(m[field], int) and m[field] >= 1, f"model.{field}",
            f"must be an integer >= 1, got {m[field]!r}")
  for field in ("input_dropout", "hidden_dropout"):
    require(0 <= m[field] < 1, f"model.{field}", f"must be in [0, 1), got {m[field]}")
  require_one_of(config, "model.conv_impl", CONV_IMPL_CHOICES)
  res = config.dataset.resolution
  require(res in CONV_RESOLUTIONS, "dataset.resolution",
          f"model.arch='conv' needs square images of side 16, 32 or 64, got {res!r}; "
          "set dataset.resolution (e.g. 32 for 28x28 Fashion-MNIST) or use model.arch='mlp'")


def make_ssgan_optimizer(config: ml_collections.ConfigDict, name: str) -> optax.GradientTransformation:
  """`optimizer.<name>`, its steps scaled by 1 until `optimizer.decay_start` of the run,
  then linearly down to 0 at `train.num_steps` (a linear learning-rate decay)."""
  decay = constant_then_linear_decay(1.0, int(config.train.num_steps),
                                     float(config.optimizer.get("decay_start", 1.0)))
  return optax.chain(make_optimizer(config.optimizer[name], field=f"optimizer.{name}"),
                     optax.scale_by_schedule(decay))


def labeled_split_sizes(labels: np.ndarray, num_labeled: int, num_classes: int) -> int:
  """Labelled examples per class; UserError unless `num_labeled` splits evenly and fits."""
  if num_labeled % num_classes:
    raise UserError(f"dataset.num_labeled: {num_labeled} does not divide into the "
                    f"{num_classes} classes; use a multiple of {num_classes}")
  per_class = num_labeled // num_classes
  counts = np.bincount(labels, minlength=num_classes)
  if num_labeled >= len(labels) or per_class > counts.min():
    raise UserError(f"dataset.num_labeled: {num_labeled} is too large for the "
                    f"{len(labels)}-image train split ({per_class} per class, the smallest "
                    f"class has {counts.min()}; at least one image must stay unlabelled)")
  return per_class


def choose_labeled(key: jax.Array, labels: np.ndarray, per_class: int) -> tuple:
  """(labelled indices [K * per_class], unlabelled indices [N - K * per_class]).

  Class c's labelled examples are the first `per_class` of a random
  permutation (key ``fold_in(key, c)``) of the indices with label c; both
  outputs are sorted by class, then index order of the permutation.
  """
  n = len(labels)
  chosen = [jax.random.permutation(jax.random.fold_in(key, c),
                                   jnp.asarray(np.flatnonzero(labels == c), jnp.int32))[:per_class]
            for c in range(int(labels.max()) + 1)]
  labeled = jnp.concatenate(chosen)
  is_labeled = jnp.zeros((n,), bool).at[labeled].set(True)
  unlabeled = jnp.nonzero(~is_labeled, size=n - labeled.shape[0])[0].astype(jnp.int32)
  return labeled, unlabeled


# ----------------------------------------------------------------------------- the family


class SSGAN(Family):
  """K-class discriminator D and feature-matching generator G (see the module docstring)."""
  name = "ssgan"
  progress_keys = ("d_supervised", "d_unsupervised", "g_loss", "labeled_accuracy")

  def __init__(self, config, dataset, axis_name=None):
    super().__init__(config, dataset, axis_name)
    if config.model.arch == "conv" and dataset.kind != "image":
      raise UserError(f"dataset.name: model.arch='conv' needs images, but {dataset.name!r} "
                      f"holds {dataset.kind}; use a labelled image dataset (e.g. 'digits' at "
                      "dataset.resolution 16, or Fashion-MNIST at 32)")
    if dataset.kind != "image" or not dataset.num_classes:
      raise UserError(f"dataset.name: the ssgan family needs a labelled image dataset; "
                      f"{dataset.name!r} has no image labels")
    self.k = int(dataset.num_classes)
    self.labels = np.asarray(dataset.all()["y"]).astype(np.int32)
    self.per_class = labeled_split_sizes(self.labels, int(config.dataset.num_labeled), self.k)
    self.z_dim = int(config.model.z_dim)
    self.generator, self.discriminator = build_networks(config.model, dataset, self.k, axis_name)
    # Built once: a state's optimizers are static pytree metadata (Family.init_state).
    self.g_tx, self.d_tx = make_ssgan_optimizer(config, "g"), make_ssgan_optimizer(config, "d")

  @property
  def data_keys(self) -> tuple:
    return ("x", "y")

  @property
  def num_labeled(self) -> int:
    return self.per_class * self.k

  def _init_d(self, key: jax.Array) -> base.TrainState:
    x = jnp.zeros((2,) + tuple(self.dataset.example_shape), jnp.float32)
    return base.new_train_state(self.discriminator, self.discriminator.init(key, x, train=False),
                                self.d_tx)

  def init_fn(self) -> Callable[[jax.Array], SSGANState]:
    """Initial networks and the labelled subset."""

    def init(key):
      g_key, d_key, split_key = jax.random.split(key, 3)
      g_vars = self.generator.init(g_key, jnp.zeros((2, self.z_dim)), train=False)
      labeled, unlabeled = choose_labeled(split_key, self.labels, self.per_class)
      return SSGANState(step=jnp.zeros((), jnp.int32),
                        g=base.new_train_state(self.generator, g_vars, self.g_tx),
                        d=self._init_d(d_key), labeled_idx=labeled, unlabeled_idx=unlabeled)

    return init

  def generate(self, state: SSGANState, z: jax.Array, labels=None) -> jax.Array:
    del labels
    return self.generator.apply(base.variables(state.g), z, train=False)

  def classify(self, d_params, x: jax.Array) -> jax.Array:
    """Class logits [B, K] of the discriminator in inference mode (no noise)."""
    return self.discriminator.apply({"params": d_params}, x, train=False)[0]

  def step_fn(self, *, resident: bool, num_shards: int = 1) -> Callable:
    """The pure per-device step ``(state, data, key) -> (state, metrics)`` (resident data only)."""
    if not resident:
      raise UserError("dataset.max_resident_mb: the ssgan family draws its labelled and "
                      "unlabelled batches on the device; raise it so the dataset is resident")
    return _make_step(self, num_shards)

  def test_accuracy(self, d_params) -> float:
    """Accuracy of the discriminator's argmax over the K classes on the test split."""
    test = base.load_config_dataset(self.config, split="test").all()
    pred = jax.jit(self.classify)(d_params, jnp.asarray(test["x"]))
    return float(np.mean(np.argmax(np.asarray(pred), -1) == test["y"]))

  def supervised_baseline(self, state: SSGANState, key: jax.Array) -> base.TrainState:
    """The discriminator trained by cross-entropy on `state`'s labelled subset alone.

    Same initial parameters (from the run's init key when `key` is it), optimizer,
    noise, labelled batch size and number of steps (`train.num_steps`) as the
    SSGAN run; no generator, no unlabelled data.
    """
    return _train_supervised(self, state.labeled_idx, key)

  def eval_metrics(self, state, evaluator, key):
    del evaluator, key
    init_key = base_init_key(self.config.seed)
    baseline = self.supervised_baseline(state, init_key)
    return {"test_accuracy": self.test_accuracy(state.d.params),
            "supervised_baseline_accuracy": self.test_accuracy(baseline.params),
            "num_labeled": self.num_labeled}

  def finish(self, state, workdir: str) -> dict:
    del workdir
    return {"test_accuracy": self.test_accuracy(state.d.params)}


def build_networks(m: ml_collections.ConfigDict, dataset, num_classes: int,
                   axis_name: str | None = None) -> tuple:
  """(generator, discriminator) of `model.arch` (`m` is config.model) for `dataset`'s images."""
  shape = tuple(dataset.example_shape)
  weight_norm = bool(m.get("weight_norm", True))
  if m.arch == "mlp":
    return (SSGANGenerator(out_shape=shape, hidden=tuple(m.g_hidden), axis_name=axis_name),
            NoisyMLPClassifier(num_classes=num_classes, hidden=tuple(m.d_hidden),
                               input_noise=m.input_noise, hidden_noise=m.hidden_noise,
                               weight_norm=weight_norm))
  if shape[0] != shape[1] or shape[0] not in CONV_RESOLUTIONS:
    raise UserError(f"dataset.resolution: model.arch='conv' needs square images of side "
                    f"16, 32 or 64, but {dataset.name!r} has {shape[0]}x{shape[1]}; set it")
  g = DCGANGenerator(resolution=shape[0], channels=shape[-1], width=int(m.g_width),
                     axis_name=axis_name, conv_impl=m.conv_impl)
  d = ConvClassifier(num_classes=num_classes, width=int(m.d_width),
                     input_dropout=m.input_dropout, hidden_dropout=m.hidden_dropout,
                     input_noise=m.input_noise, hidden_noise=m.hidden_noise,
                     weight_norm=weight_norm)
  return g, d


def base_init_key(seed: int) -> jax.Array:
  """The init key the trainer gives `init_state` for `seed` (`trainer.seed_keys`)."""
  return jax.random.split(jax.random.PRNGKey(seed), 3)[0]


def _d_keys(key: jax.Array, axis_name: str | None) -> jax.Array:
  """Noise keys of the discriminator's passes: one fold per device (see module docstring)."""
  return jax.random.fold_in(key, jax.lax.axis_index(axis_name)) if axis_name else key


def _d_rngs(key: jax.Array, k_noise: jax.Array, axis_name: str | None) -> list:
  """The RNG streams of the step's three discriminator passes: [{'noise', 'dropout'}] * 3.

  `key` is the step key, `k_noise` the noise key split from it. The dropout
  key is ``fold_in(key, 4)``, apart from the step's four split keys, so the
  draws of arch 'mlp' (which has no dropout) are those it had without it.
  """
  noise = jax.random.split(_d_keys(k_noise, axis_name), 3)
  dropout = jax.random.split(_d_keys(jax.random.fold_in(key, 4), axis_name), 3)
  return [{"noise": n, "dropout": d} for n, d in zip(noise, dropout)]


def _draw_from(pool: jax.Array, key: jax.Array, offset, num: int) -> jax.Array:
  """`num` entries of `pool` drawn uniformly with replacement, entry i from ``fold_in(key, offset + i)``."""
  return pool[base.uniform_indices(key, offset, num, pool.shape[0])]


def _make_step(fam: SSGAN, num_shards: int) -> Callable:
  config = fam.config
  batch = int(config.train.batch_size) // num_shards
  lbatch = int(config.train.labeled_batch_size) // num_shards
  w_unsup = float(config.loss.unsupervised_weight)
  G, D = fam.generator, fam.discriminator
  mean = base.device_mean(fam.axis_name)

  def step(state: SSGANState, data, key):
    offset_l = base.device_offset(fam.axis_name, lbatch)
    offset = base.device_offset(fam.axis_name, batch)
    skey = base.step_key(key, state.step)
    k_lab, k_unl, k_z, k_noise = jax.random.split(skey, 4)
    lab_idx = _draw_from(state.labeled_idx, k_lab, offset_l, lbatch)
    x_lab, y_lab = data["x"][lab_idx], data["y"][lab_idx]
    x_unl = data["x"][_draw_from(state.unlabeled_idx, k_unl, offset, batch)]
    z = base.normal_per_example(k_z, offset, batch, fam.z_dim)
    rngs = _d_rngs(skey, k_noise, fam.axis_name)
    real = jnp.concatenate([x_lab, x_unl])
    labels = jnp.concatenate([y_lab, jnp.zeros((batch,), y_lab.dtype)])
    mask = jnp.concatenate([jnp.ones((lbatch,), bool), jnp.zeros((batch,), bool)])

    fake, g_stats = base.apply_train(G, state.g, (z,))
    fake = jax.lax.stop_gradient(fake)

    def d_loss(params):
      real_logits, _ = D.apply({"params": params}, real, rngs=rngs[0])
      fake_logits, _ = D.apply({"params": params}, fake, rngs=rngs[1])
      sup = losses.semi_supervised_classification_loss(real_logits, labels, mask)
      unsup = losses.semi_supervised_unsupervised_loss(real_logits, fake_logits)
      acc = jnp.mean(jnp.argmax(real_logits[:lbatch], -1) == y_lab)
      return sup + w_unsup * unsup, {"d_supervised": sup, "d_unsupervised": unsup,
                                     "labeled_accuracy": acc}

    d_grads, d_aux = jax.grad(d_loss, has_aux=True)(state.d.params)
    d = state.d.apply_gradients(grads=mean(d_grads))
    g_state = state.g.replace(batch_stats=g_stats)
    # The same noise on the real and the generated batch (common random
    # numbers): the feature means then differ by the images, not by the noise.
    _, real_features = D.apply({"params": d.params}, x_unl, rngs=rngs[2])
    real_features = jax.lax.stop_gradient(real_features)

    def g_loss(params):
      gen, stats = base.apply_train(G, g_state, (z,), params)
      _, fake_features = D.apply({"params": d.params}, gen, rngs=rngs[2])
      # Feature means are per device here; exact across devices only on one.
      return losses.feature_matching_loss(real_features, fake_features), stats

    (fm, g_stats), g_grads = jax.value_and_grad(g_loss, has_aux=True)(g_state.params)
    g = g_state.apply_gradients(grads=mean(g_grads), batch_stats=g_stats)
    metrics = {**d_aux, "g_loss": fm}
    return state.replace(step=state.step + 1, g=g, d=d), mean(metrics)

  return step


def _train_supervised(fam: SSGAN, labeled_idx: jax.Array, init_key: jax.Array) -> base.TrainState:
  """`train.num_steps` steps of cross-entropy on the labelled subset (see `supervised_baseline`)."""
  config = fam.config
  lbatch = int(config.train.labeled_batch_size)
  D = fam.discriminator
  # Only the labelled images enter the program, as arguments: the whole training set closed
  # over would be a constant of the compiled program (245 MB for Fashion-MNIST at 32x32).
  everything = fam.dataset.all()
  rows = np.asarray(labeled_idx)
  labelled = {k: jnp.asarray(everything[k][rows]) for k in ("x", "y")}
  d_key = jax.random.split(init_key, 3)[1]  # the SSGAN run's discriminator init

  # A jitted step called once per step, not one lax.scan over the steps: on XLA:CPU the
  # scanned form of this convolutional step ran 35x slower per step (6.6 s against 0.19 s,
  # ssgan_fashion's network), the slowdown gan_step.py's docstring records for scanned updates.
  @functools.partial(jax.jit, donate_argnums=1)
  def step(labelled, d, step_idx):
    skey = jax.random.fold_in(init_key, step_idx)
    k_lab, k_noise = jax.random.split(skey)
    # Dropout from a fold of the step key apart from its two split keys, as in _d_rngs.
    rngs = {"noise": k_noise, "dropout": jax.random.fold_in(skey, 2)}
    # The SSGAN step's draw (_draw_from on labeled_idx), as positions in `labelled`.
    pos = _draw_from(jnp.arange(rows.shape[0]), k_lab, 0, lbatch)
    x, y = labelled["x"][pos], labelled["y"][pos]

    def loss(params):
      logits, _ = D.apply({"params": params}, x, rngs=rngs)
      return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    return d.apply_gradients(grads=jax.grad(loss)(d.params))

  d = fam._init_d(d_key)
  for step_idx in range(int(config.train.num_steps)):
    d = step(labelled, d, jnp.asarray(step_idx, jnp.int32))
  return d
