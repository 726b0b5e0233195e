"""The VAE family: an encoder to a diagonal Gaussian, a decoder, the ELBO (and beta-VAE).

Kingma & Welling, "Auto-Encoding Variational Bayes", 2014, arXiv:1312.6114;
beta-VAE: Higgins et al., ICLR 2017. The step maximises the per-image ELBO

  E_q(z|x)[log p(x | z)] - beta * KL(q(z | x) || N(0, I))

with one reparameterised sample per image (its epsilon drawn from the
example's global index, so N devices reproduce one). Likelihoods
(`loss.likelihood`): 'gaussian' on pixels in [-1, 1] with a fixed
(`loss.log_scale`) or learned (`loss.learn_scale`) log standard deviation,
or 'bernoulli' on (x + 1) / 2 in [0, 1]; the decoder's tanh output m in
[-1, 1] is then the Bernoulli mean (m + 1) / 2, i.e. logits 2 atanh(m), with
m clipped to 1 - 1e-6 so the logits stay finite. Nats are per image in the
data's own space (density of pixels in [-1, 1], or probabilities of [0, 1]).

Networks (`model.arch`): 'dcgan' = a DCGAN-discriminator-shaped conv encoder
and a DCGAN generator as decoder, for images; 'mlp' for 2-D points. A
class-conditional decoder p(x | z, y) (`model.conditional='concat'`) keeps an
unconditional encoder q(z | x), a valid bound on log p(x | y).
"""

import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gans_jax import latent_prior, losses, nets
from gans_jax.configs import base_config, require, require_one_of, require_sections
from gans_jax.errors import UserError
from gans_jax.families import base
from gans_jax.families.interface import Family
from gans_jax.nets import dcgan
from gans_jax.nets.encoder import DCGANEncoder, MLPEncoder, posterior_sample, reparameterize
from gans_jax.optim import check_optimizer_config, make_optimizer, optimizer_config

ARCHS = ("dcgan", "mlp")
LIKELIHOODS = ("gaussian", "bernoulli")
CONDITIONINGS = ("none", "concat")
LATENT_PRIORS = ("standard", "gmm")
_BERNOULLI_CLIP = 1 - 1e-6
_PRIOR_KEY = 0x9A1  # folded into the seed for the draws the latent prior is fitted to


@flax.struct.dataclass
class VAEState:
  step: jnp.ndarray
  encoder: base.TrainState
  decoder: base.TrainState
  likelihood: base.TrainState  # params {'log_scale': []}: the Gaussian's log std


def add_model_config(config: ml_collections.ConfigDict) -> None:
  """The encoder/decoder section shared by the VAE and the VAE-GAN."""
  config.model = ml_collections.ConfigDict()
  config.model.arch = "dcgan"        # dcgan (images) | mlp (points)
  config.model.z_dim = 32
  config.model.e_width = 32          # dcgan: channels of the encoder's first stage
  config.model.g_width = 32          # dcgan: channels of the decoder's last stage
  config.model.e_norm = "batch"      # encoder normalisation: batch | layer | none
  config.model.conv_impl = "auto"    # as the GAN's: auto | winograd | gemm | xla
  config.model.e_hidden = (256, 256)  # mlp
  config.model.g_hidden = (256, 256)  # mlp
  config.model.conditional = "none"  # none | concat: decoder p(x | z, y) on labelled images


def default_config() -> ml_collections.ConfigDict:
  """The shared skeleton plus the VAE's sections: a conv VAE on 16x16 digits."""
  config = base_config()
  config.family = "vae"
  add_model_config(config)
  config.loss = ml_collections.ConfigDict()
  config.loss.likelihood = "gaussian"  # gaussian | bernoulli
  config.loss.log_scale = -1.0         # gaussian: log sigma (initial value when learned)
  config.loss.learn_scale = False      # gaussian: learn log sigma with the decoder
  config.loss.beta = 1.0               # KL weight (Higgins et al. 2017); 1: the ELBO
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.encoder = optimizer_config("adam", 1e-3, b1=0.9, b2=0.999)
  config.optimizer.decoder = optimizer_config("adam", 1e-3, b1=0.9, b2=0.999)
  config.eval.iw_samples = 100         # K of log_likelihood_iw (Burda et al. 2016)
  add_latent_prior_config(config)
  return config


def add_latent_prior_config(config: ml_collections.ConfigDict) -> None:
  """The prior that --mode=eval and --mode=sample draw z from (training uses N(0, I) always)."""
  # standard: N(0, I), the prior trained against; gmm: a mixture of full-covariance Gaussians
  # fitted after training to draws of the aggregate posterior (gans_jax.latent_prior).
  config.eval.latent_prior = "standard"
  config.eval.latent_prior_components = 10
  config.eval.latent_prior_draws = 20000  # (training image, z ~ q(z | x)) pairs it is fitted to


def check_latent_prior_config(config: ml_collections.ConfigDict) -> None:
  require_one_of(config, "eval.latent_prior", LATENT_PRIORS)
  for field in ("latent_prior_components", "latent_prior_draws"):
    value = config.eval.get(field, 1)
    require(isinstance(value, int) and value >= 1, f"eval.{field}",
            f"must be an integer >= 1, got {value!r}")
  require(config.eval.get("latent_prior_draws", 1) >= config.eval.get("latent_prior_components", 1),
          "eval.latent_prior_draws", "must be at least eval.latent_prior_components")


def check_model_config(config: ml_collections.ConfigDict) -> None:
  require_sections(config, "model")
  m = config.model
  require_one_of(config, "model.arch", ARCHS)
  require_one_of(config, "model.e_norm", dcgan.NORMS)
  require_one_of(config, "model.conv_impl", dcgan.CONV_IMPL_CHOICES)
  require_one_of(config, "model.conditional", CONDITIONINGS)
  require(m.z_dim >= 1, "model.z_dim", f"must be >= 1, got {m.z_dim}")
  if m.arch == "dcgan":
    base.require_dcgan_resolution(config)


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  del num_devices
  check_model_config(config)
  require_sections(config, "loss")
  require_one_of(config, "loss.likelihood", LIKELIHOODS)
  require(config.loss.beta >= 0, "loss.beta", f"must be >= 0, got {config.loss.beta}")
  require(not (config.loss.learn_scale and config.loss.likelihood != "gaussian"),
          "loss.learn_scale", "a learned scale needs loss.likelihood='gaussian'")
  for name in ("encoder", "decoder"):
    check_optimizer_config(config.optimizer[name], f"optimizer.{name}")
  require(config.eval.get("iw_samples", 1) >= 1, "eval.iw_samples",
          f"must be >= 1, got {config.eval.get('iw_samples')}")
  check_latent_prior_config(config)


def build_encoder_decoder(config, dataset, axis_name=None):
  """(encoder, decoder, num_classes) for `dataset` as `config.model` names them."""
  m = config.model
  shape = tuple(dataset.example_shape)
  if m.conditional != "none" and (dataset.kind != "image" or not dataset.num_classes
                                  or m.arch != "dcgan"):
    raise UserError(f"model.conditional: {m.conditional!r} needs a labelled image dataset and "
                    f"model.arch='dcgan'; {dataset.name!r} holds {dataset.kind}"
                    + ("" if dataset.num_classes else " without class labels"))
  if m.arch == "dcgan":
    if dataset.kind != "image":
      raise UserError(f"model.arch: 'dcgan' needs images, but {dataset.name!r} holds "
                      f"{dataset.kind}; use model.arch='mlp'")
    enc = DCGANEncoder(resolution=shape[0], z_dim=m.z_dim, width=m.e_width, norm=m.e_norm,
                       axis_name=axis_name, conv_impl=m.conv_impl)
    if m.conditional != "none":
      k = int(dataset.num_classes)
      return enc, nets.ConditionalDCGANGenerator(
          resolution=shape[0], channels=shape[-1], width=m.g_width, num_classes=k,
          axis_name=axis_name, conv_impl=m.conv_impl), k
    return enc, nets.DCGANGenerator(resolution=shape[0], channels=shape[-1], width=m.g_width,
                                    axis_name=axis_name, conv_impl=m.conv_impl), 0
  enc = MLPEncoder(z_dim=m.z_dim, hidden=tuple(m.e_hidden))
  dec = nets.MLPGenerator(out_shape=shape, hidden=tuple(m.g_hidden), axis_name=axis_name,
                          output_activation="tanh" if dataset.kind == "image" else "none")
  return enc, dec, 0


def log_likelihood(kind: str, x: jax.Array, decoded: jax.Array, log_scale) -> jax.Array:
  """Per-example log p(x | z) given the decoder's output (see the module docstring)."""
  if kind == "bernoulli":
    m = jnp.clip(decoded, -_BERNOULLI_CLIP, _BERNOULLI_CLIP)
    return losses.bernoulli_log_likelihood((x + 1) / 2, 2 * jnp.arctanh(m))
  return losses.gaussian_log_likelihood(x, decoded, log_scale=log_scale)


class EncoderDecoderFamily(Family):
  """What the VAE and the VAE-GAN share: the encoder q(z | x) and decoder p(x | z) of `model`,
  their initialisation, the batch draw, the sampler and encoder, the reconstruction grids and the
  test bounds of `--mode=eval`. A family adds its state, losses and step."""

  def __init__(self, config, dataset, axis_name=None):
    super().__init__(config, dataset, axis_name)
    self.encoder, self.decoder, self.num_classes = build_encoder_decoder(
        config, dataset, axis_name)
    self.z_dim = int(config.model.z_dim)
    self.latent_prior = None  # a fitted latent_prior.GaussianMixture (prepare_sampling)
    self.latent_transform = None

  @property
  def data_keys(self):
    return ("x", "y") if self.num_classes else ("x",)

  @property
  def has_encoder(self) -> bool:
    return True

  def init_networks(self, key):
    """Initial variables of the encoder and the decoder."""
    e_key, d_key = jax.random.split(key)
    x = jnp.zeros((2,) + tuple(self.dataset.example_shape), jnp.float32)
    z = jnp.zeros((2, self.z_dim), jnp.float32)
    labels = (jnp.zeros((2,), jnp.int32),) if self.num_classes else ()
    return (self.encoder.init(e_key, x, train=False),
            self.decoder.init(d_key, z, *labels, train=False))

  def likelihood_state(self, tx) -> base.TrainState:
    """The pixel likelihood's log standard deviation `loss.log_scale` as a (trainable) state."""
    return base.TrainState.create(
        apply_fn=None, params={"log_scale": jnp.asarray(self.config.loss.log_scale, jnp.float32)},
        tx=tx)

  def draw_inputs(self, data, k_data, k_eps, offset, batch: int, resident: bool) -> tuple:
    """(images x, (labels,) or (), standard normals eps [B, Z] for q's sample) of one step."""
    inputs = base.draw_batch(data, self.data_keys, k_data, offset, batch, resident=resident)
    return inputs[0], inputs[1:], base.normal_per_example(k_eps, offset, batch, self.z_dim)

  def posterior(self, state, enc_params, x, eps) -> tuple:
    """(mean, log_var, z, encoder BatchNorm statistics): q(z | x) and its sample for `eps`."""
    (mean, log_var), e_stats = base.apply_train(self.encoder, state.encoder, (x,), enc_params)
    return mean, log_var, posterior_sample(mean, log_var, eps), e_stats

  # -- sampler and encoder
  def decoder_variables(self, state):
    """The decoder's variables that sample, reconstruct and are evaluated (subclasses may
    substitute an average)."""
    return base.variables(state.decoder)

  def generate(self, state, z, labels=None):
    inputs = (z,) if labels is None else (z, labels)
    return self.decoder.apply(self.decoder_variables(state), *inputs, train=False)

  def encode(self, state, x):
    return self.encoder.apply(base.variables(state.encoder), x, train=False)

  def prepare_sampling(self, state) -> None:
    """eval.latent_prior 'gmm': fits the mixture to `eval.latent_prior_draws` draws of the
    aggregate posterior: training images uniformly with replacement, one z ~ q(z | x) each
    (keys from `config.seed`)."""
    ev = self.config.eval
    if ev.get("latent_prior", "standard") != "gmm":
      return
    num, batch = int(ev.latent_prior_draws), int(ev.batch_size)
    key = jax.random.fold_in(jax.random.PRNGKey(self.config.seed), _PRIOR_KEY)
    k_index, k_eps = jax.random.split(key)
    index = np.asarray(jax.random.randint(k_index, (num,), 0, self.dataset.num_examples))
    eps = jax.random.normal(k_eps, (num, self.z_dim))
    draw = jax.jit(lambda s, x, e: posterior_sample(*self.encode(s, x), e))
    codes = np.concatenate([
        np.asarray(draw(state, jnp.asarray(self.dataset.get(index[i:i + batch])["x"]),
                        eps[i:i + batch]))
        for i in range(0, num, batch)])
    self.latent_prior = latent_prior.fit(codes, int(ev.latent_prior_components), self.config.seed)
    self.latent_transform = jax.jit(functools.partial(latent_prior.transform, self.latent_prior),
                                    static_argnums=1)

  def reconstruct(self, state, x, labels=None):
    """Decoder at the posterior mean: the deterministic reconstruction of `x`."""
    return self.generate(state, self.encode(state, x)[0], labels)

  def fixed_inputs(self, key, num):
    fixed = super().fixed_inputs(key, num)
    data = self.dataset.get(np.arange(min(num, self.dataset.num_examples)))
    fixed["x"] = jnp.asarray(data["x"])
    if self.num_classes:
      fixed["y"] = jnp.asarray(data["y"])
    return fixed

  def sample_grids(self, state, fixed):
    grids = super().sample_grids(state, fixed)
    x = fixed["x"]
    recon = self.reconstruct(state, x, fixed.get("y"))
    if self.dataset.kind == "image":
      # Pairs of rows: 8 originals, then their reconstructions.
      n = (x.shape[0] // 16) * 8 or x.shape[0]
      pairs = jnp.stack([x[:n].reshape((-1, 8) + x.shape[1:]),
                         recon[:n].reshape((-1, 8) + x.shape[1:])], axis=1)
      grids["recon_"] = (pairs.reshape((-1,) + x.shape[1:]), 8)
    else:
      grids["recon_"] = (recon, None)
    return grids

  def grid_legend(self, prefix: str, num_rows: int) -> tuple:
    if prefix == "recon_":
      return ("training images and their reconstructions (posterior mean)",
              ["data", "recon."] * (num_rows // 2))
    return super().grid_legend(prefix, num_rows)

  # -- evaluation
  def eval_metrics(self, state, evaluator, key):
    test = base.load_config_dataset(self.config, split="test").all()
    out = test_bounds(self, state, test, key, int(self.config.eval.get("iw_samples", 100)),
                      int(self.config.eval.batch_size))
    if evaluator is not None and self.dataset.kind == "image":
      out["fid_recon"] = evaluator.fid_of(out.pop("_recon"))
    else:
      out.pop("_recon")
    return out


class VAE(EncoderDecoderFamily):
  """Encoder q(z | x), decoder p(x | z), optional learned Gaussian scale."""
  name = "vae"
  progress_keys = ("loss", "kl", "recon_mse")

  def init_fn(self):
    c = self.config
    encoder_tx = make_optimizer(c.optimizer.encoder, field="optimizer.encoder")
    decoder_tx = make_optimizer(c.optimizer.decoder, field="optimizer.decoder")

    def init(key):
      e_vars, d_vars = self.init_networks(key)
      return VAEState(
          step=jnp.zeros((), jnp.int32),
          encoder=base.new_train_state(self.encoder, e_vars, encoder_tx),
          decoder=base.new_train_state(self.decoder, d_vars, decoder_tx),
          likelihood=self.likelihood_state(decoder_tx))

    return init

  # -- training
  def objective(self, state: VAEState, params: tuple, x, labels, eps, log_scale):
    """(loss, (metrics, encoder stats, decoder stats)) of one batch: loss = -mean ELBO_beta."""
    enc_params, dec_params = params
    mean, log_var, z, e_stats = self.posterior(state, enc_params, x, eps)
    dec_in = (z,) + labels
    decoded, d_stats = base.apply_train(self.decoder, state.decoder, dec_in, dec_params)
    ll = log_likelihood(self.config.loss.likelihood, x, decoded, log_scale)
    kl = losses.gaussian_kl_to_standard_normal(mean, log_var)
    beta = float(self.config.loss.beta)
    loss = -jnp.mean(losses.elbo(ll, kl, beta=beta))
    aux = {"loss": loss, "elbo": jnp.mean(losses.elbo(ll, kl)), "kl": jnp.mean(kl),
           "log_likelihood": jnp.mean(ll),
           "recon_mse": jnp.mean((decoded - x) ** 2)}
    return loss, (aux, e_stats, d_stats)

  def step_fn(self, *, resident, num_shards=1):
    batch = int(self.config.train.batch_size) // num_shards
    mean = base.device_mean(self.axis_name)
    learn_scale = bool(self.config.loss.learn_scale)

    def step(state: VAEState, data, key):
      offset = base.device_offset(self.axis_name, batch)
      k_data, k_eps = jax.random.split(base.step_key(key, state.step))
      x, labels, eps = self.draw_inputs(data, k_data, k_eps, offset, batch, resident)

      def loss_fn(params):
        enc_p, dec_p, scale_p = params
        return self.objective(state, (enc_p, dec_p), x, labels, eps, scale_p["log_scale"])

      params = (state.encoder.params, state.decoder.params, state.likelihood.params)
      grads, (aux, e_stats, d_stats) = jax.grad(loss_fn, has_aux=True)(params)
      g_enc, g_dec, g_scale = mean(grads)
      new = VAEState(
          step=state.step + 1,
          encoder=state.encoder.apply_gradients(grads=g_enc, batch_stats=e_stats),
          decoder=state.decoder.apply_gradients(grads=g_dec, batch_stats=d_stats),
          likelihood=(state.likelihood.apply_gradients(grads=g_scale) if learn_scale
                      else state.likelihood))
      aux["log_scale"] = state.likelihood.params["log_scale"]
      return new, mean(aux)

    return step


def test_bounds(fam, state, test: dict, key, k: int, batch_size: int) -> dict:
  """Test-split `elbo`, `log_likelihood_iw` (k samples), `recon_mse`, reconstructions.

  elbo: mean over test images of one-sample ELBO estimates (beta = 1, nats
  per image); log_likelihood_iw: the importance-weighted bound of Burda et
  al. 2016 (arXiv:1509.00519) with k samples of q per image; recon_mse: mean
  squared pixel error of the decoder at the posterior mean ([-1, 1] pixels).
  Both bounds are of the model the samples come from: with the prior N(0, I) (the ELBO's KL
  in closed form), or with the fitted mixture `fam.latent_prior` (the ELBO's KL estimated
  from the same sample, log q(z | x) - log p(z)).
  """
  kind = fam.config.loss.likelihood
  log_scale = state.likelihood.params["log_scale"]
  prior = fam.latent_prior
  labels_all = test.get("y") if fam.num_classes else None

  @jax.jit
  def bounds(x, labels, key):
    mean, log_var = fam.encode(state, x)
    z = reparameterize(key, mean, log_var, num_samples=k)  # [k, B, Z]
    dec = jax.vmap(lambda zz: fam.generate(state, zz, labels))(z)
    ll = jax.vmap(lambda d: log_likelihood(kind, x, d, log_scale))(dec)  # [k, B]
    log_q = jax.vmap(lambda zz: losses.gaussian_log_density(zz, mean, log_var))(z)
    if prior is None:
      log_prior = jax.vmap(losses.standard_normal_log_density)(z)
      kl = losses.gaussian_kl_to_standard_normal(mean, log_var)
    else:
      log_prior = latent_prior.log_density(prior, z)
      kl = log_q[0] - log_prior[0]
    recon = fam.generate(state, mean, labels)
    return (losses.elbo(ll[0], kl), losses.importance_weighted_bound(ll + log_prior, log_q),
            jnp.mean((recon - x) ** 2, axis=tuple(range(1, x.ndim))), recon)

  parts = []
  x_all = test["x"]
  for i, start in enumerate(range(0, len(x_all), batch_size)):
    x = jnp.asarray(x_all[start:start + batch_size])
    labels = None if labels_all is None else jnp.asarray(labels_all[start:start + batch_size])
    parts.append(jax.device_get(bounds(x, labels, jax.random.fold_in(key, i))))
  elbo, iw, mse, recon = (np.concatenate(p) for p in zip(*parts))
  return {"elbo": float(np.mean(elbo)), "log_likelihood_iw": float(np.mean(iw)),
          # 0: the prior N(0, I); K: the fitted mixture of K Gaussians.
          "latent_prior_components": 0 if prior is None else len(prior.weights),
          "iw_samples": k, "recon_mse": float(np.mean(mse)), "_recon": recon}

