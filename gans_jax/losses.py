"""GAN objectives and penalties: discriminator/critic outputs in, scalar out.

Every loss here is written to be *minimised*: the discriminator (critic) step
minimises `<family>_discriminator_loss`, the generator step minimises
`<family>_generator_loss`. Outputs of any shape are accepted (a per-example
score of shape ``(B,)``, a PatchGAN map of shape ``(B, H, W, 1)``, ...) and
every element counts equally in the mean.

The result has the dtype of the inputs (``jnp.result_type`` of them, so
float32 in gives float32 out and bfloat16 in gives bfloat16 out). Internally the
elementwise terms and the means are computed in at least float32, the usual
mixed-precision practice for losses, and only the scalar is cast back.

This module imports only `jax` and `chex`, so it can be lifted into any JAX
project.
"""

from typing import Callable

import chex
import jax
import jax.numpy as jnp

__all__ = [
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "gradient_penalty",
    "gradient_norm_penalty",
    "feature_matching_loss",
]


def _as_float_arrays(*arrays: chex.Numeric):
  """Converts to arrays, checks they are floating, returns them and dtypes.

  Returns:
    The arrays, the output dtype (their `jnp.result_type`) and the compute
    dtype (the output dtype promoted to at least float32).
  """
  arrays = tuple(jnp.asarray(a) for a in arrays)
  chex.assert_type(arrays, float)
  out_dtype = jnp.result_type(*arrays)
  compute_dtype = jnp.promote_types(out_dtype, jnp.float32)
  return arrays, out_dtype, compute_dtype


# --------------------------------------------------------------------------- #
# Minimax GAN (binary cross-entropy on logits).
# --------------------------------------------------------------------------- #


def minimax_discriminator_loss(
    real_logits: chex.Array,
    fake_logits: chex.Array,
    *,
    real_label: float = 1.0,
) -> chex.Array:
  r"""Binary cross-entropy loss of the minimax GAN discriminator.

  With :math:`x_r` the logits on real data, :math:`x_f` the logits on
  generated data, :math:`\sigma` the logistic sigmoid and :math:`t` the real
  label,

  .. math::
    \ell_D = -\operatorname{mean}\big[t \log \sigma(x_r)
             + (1 - t) \log \sigma(-x_r)\big]
             - \operatorname{mean} \log \sigma(-x_f).

  With :math:`t = 1` this is :math:`-\mathbb{E}_{p}\log D(x)
  - \mathbb{E}_{q}\log(1 - D(G(z)))`, the negated value function :math:`V(D, G)`
  of Goodfellow et al. (2014). Setting ``real_label=0.9`` gives one-sided label
  smoothing (Salimans et al., 2016); fake targets always stay 0. The default
  is the neutral 1.0.

  Args:
    real_logits: discriminator logits on real data, any shape, e.g. ``(B,)``
      or a PatchGAN map ``(B, H, W, 1)``.
    fake_logits: discriminator logits on generated data, any shape.
    real_label: target for real data, in ``[0, 1]``.

  Returns:
    A scalar: the mean over the real elements plus the mean over the fake
    elements, of dtype ``jnp.result_type(real_logits, fake_logits)``.

  References:
    Goodfellow et al., `Generative Adversarial Networks
    <https://arxiv.org/abs/1406.2661>`_ (arXiv:1406.2661), 2014.

    Salimans et al., `Improved Techniques for Training GANs
    <https://arxiv.org/abs/1606.03498>`_ (arXiv:1606.03498), 2016.
  """
  (real_logits, fake_logits), out_dtype, dtype = _as_float_arrays(
      real_logits, fake_logits)
  real_logits = real_logits.astype(dtype)
  fake_logits = fake_logits.astype(dtype)
  # log(sigmoid(x)) = log_sigmoid(x) and log(1 - sigmoid(x)) = log_sigmoid(-x):
  # both stay finite for |x| = 1e9, where sigmoid rounds to 0 or 1.
  real_term = -(real_label * jax.nn.log_sigmoid(real_logits)
                + (1.0 - real_label) * jax.nn.log_sigmoid(-real_logits))
  fake_term = -jax.nn.log_sigmoid(-fake_logits)
  return (jnp.mean(real_term) + jnp.mean(fake_term)).astype(out_dtype)


def minimax_generator_loss(fake_logits: chex.Array) -> chex.Array:
  r"""Saturating generator loss of the original minimax GAN.

  .. math::
    \ell_G = \operatorname{mean} \log\big(1 - \sigma(x_f)\big)
           = \operatorname{mean} \log \sigma(-x_f).

  This is the generator's side of :math:`\min_G \max_D V(D, G)`. Its gradient
  vanishes when the discriminator confidently rejects the samples
  (:math:`x_f \to -\infty`), which is why Goodfellow et al. (2014) recommend
  :func:`non_saturating_generator_loss` in practice.

  Args:
    fake_logits: discriminator logits on generated data, any shape.

  Returns:
    A scalar of the dtype of ``fake_logits``.

  References:
    Goodfellow et al., `Generative Adversarial Networks
    <https://arxiv.org/abs/1406.2661>`_ (arXiv:1406.2661), 2014.
  """
  (fake_logits,), out_dtype, dtype = _as_float_arrays(fake_logits)
  # log(1 - sigmoid(x)) = log_sigmoid(-x).
  return jnp.mean(jax.nn.log_sigmoid(-fake_logits.astype(dtype))).astype(
      out_dtype)


def non_saturating_generator_loss(fake_logits: chex.Array) -> chex.Array:
  r"""Non-saturating generator loss (the "-log D trick").

  .. math::
    \ell_G = -\operatorname{mean} \log \sigma(x_f).

  Same fixed point as :func:`minimax_generator_loss` but strong gradients
  early in training, when the discriminator rejects generated samples.

  Args:
    fake_logits: discriminator logits on generated data, any shape.

  Returns:
    A scalar of the dtype of ``fake_logits``.

  References:
    Goodfellow et al., `Generative Adversarial Networks
    <https://arxiv.org/abs/1406.2661>`_ (arXiv:1406.2661), 2014.
  """
  (fake_logits,), out_dtype, dtype = _as_float_arrays(fake_logits)
  # -log(sigmoid(x)) = -log_sigmoid(x) = softplus(-x), finite for any x.
  return (-jnp.mean(jax.nn.log_sigmoid(fake_logits.astype(dtype)))).astype(
      out_dtype)


# --------------------------------------------------------------------------- #
# Wasserstein GAN.
# --------------------------------------------------------------------------- #


def wasserstein_discriminator_loss(
    real_scores: chex.Array,
    fake_scores: chex.Array,
) -> chex.Array:
  r"""Wasserstein GAN critic loss.

  .. math::
    \ell_C = \operatorname{mean} f(G(z)) - \operatorname{mean} f(x).

  Minimising it maximises the Kantorovich-Rubinstein estimate of the
  Wasserstein-1 distance, valid only for a (near) 1-Lipschitz critic: pair it
  with weight clipping or :func:`gradient_penalty`.

  Args:
    real_scores: critic scores on real data, any shape.
    fake_scores: critic scores on generated data, any shape.

  Returns:
    A scalar of dtype ``jnp.result_type(real_scores, fake_scores)``.

  References:
    Arjovsky et al., `Wasserstein GAN <https://arxiv.org/abs/1701.07875>`_
    (arXiv:1701.07875), 2017.
  """
  (real_scores, fake_scores), out_dtype, dtype = _as_float_arrays(
      real_scores, fake_scores)
  return (jnp.mean(fake_scores.astype(dtype))
          - jnp.mean(real_scores.astype(dtype))).astype(out_dtype)


def wasserstein_generator_loss(fake_scores: chex.Array) -> chex.Array:
  r"""Wasserstein GAN generator loss.

  .. math::
    \ell_G = -\operatorname{mean} f(G(z)).

  Args:
    fake_scores: critic scores on generated data, any shape.

  Returns:
    A scalar of the dtype of ``fake_scores``.

  References:
    Arjovsky et al., `Wasserstein GAN <https://arxiv.org/abs/1701.07875>`_
    (arXiv:1701.07875), 2017.
  """
  (fake_scores,), out_dtype, dtype = _as_float_arrays(fake_scores)
  return (-jnp.mean(fake_scores.astype(dtype))).astype(out_dtype)


# --------------------------------------------------------------------------- #
# Hinge GAN.
# --------------------------------------------------------------------------- #


def hinge_discriminator_loss(
    real_scores: chex.Array,
    fake_scores: chex.Array,
) -> chex.Array:
  r"""Hinge discriminator loss.

  .. math::
    \ell_D = \operatorname{mean} \max(0, 1 - f(x))
           + \operatorname{mean} \max(0, 1 + f(G(z))).

  Args:
    real_scores: discriminator scores on real data, any shape.
    fake_scores: discriminator scores on generated data, any shape.

  Returns:
    A non-negative scalar of dtype ``jnp.result_type(real_scores,
    fake_scores)``.

  References:
    Lim & Ye, `Geometric GAN <https://arxiv.org/abs/1705.02894>`_
    (arXiv:1705.02894), 2017.

    Miyato et al., `Spectral Normalization for Generative Adversarial Networks
    <https://arxiv.org/abs/1802.05957>`_ (arXiv:1802.05957), 2018.
  """
  (real_scores, fake_scores), out_dtype, dtype = _as_float_arrays(
      real_scores, fake_scores)
  return (jnp.mean(jax.nn.relu(1.0 - real_scores.astype(dtype)))
          + jnp.mean(jax.nn.relu(1.0 + fake_scores.astype(dtype)))).astype(
              out_dtype)


def hinge_generator_loss(fake_scores: chex.Array) -> chex.Array:
  r"""Hinge-GAN generator loss.

  .. math::
    \ell_G = -\operatorname{mean} f(G(z)).

  Args:
    fake_scores: discriminator scores on generated data, any shape.

  Returns:
    A scalar of the dtype of ``fake_scores``.

  References:
    Lim & Ye, `Geometric GAN <https://arxiv.org/abs/1705.02894>`_
    (arXiv:1705.02894), 2017.

    Miyato et al., `Spectral Normalization for Generative Adversarial Networks
    <https://arxiv.org/abs/1802.05957>`_ (arXiv:1802.05957), 2018.
  """
  (fake_scores,), out_dtype, dtype = _as_float_arrays(fake_scores)
  return (-jnp.mean(fake_scores.astype(dtype))).astype(out_dtype)


# --------------------------------------------------------------------------- #
# Least-squares GAN.
# --------------------------------------------------------------------------- #


def least_squares_discriminator_loss(
    real_scores: chex.Array,
    fake_scores: chex.Array,
) -> chex.Array:
  r"""Least-squares GAN discriminator loss, with targets 1 (real), 0 (fake).

  .. math::
    \ell_D = \tfrac12 \operatorname{mean} (f(x) - 1)^2
           + \tfrac12 \operatorname{mean} f(G(z))^2.

  This is the :math:`a = 0, b = 1` coding of Mao et al. (2017).

  Args:
    real_scores: discriminator scores on real data, any shape.
    fake_scores: discriminator scores on generated data, any shape.

  Returns:
    A non-negative scalar of dtype ``jnp.result_type(real_scores,
    fake_scores)``.

  References:
    Mao et al., `Least Squares Generative Adversarial Networks
    <https://arxiv.org/abs/1611.04076>`_ (arXiv:1611.04076), 2017.
  """
  (real_scores, fake_scores), out_dtype, dtype = _as_float_arrays(
      real_scores, fake_scores)
  return (0.5 * jnp.mean(jnp.square(real_scores.astype(dtype) - 1.0))
          + 0.5 * jnp.mean(jnp.square(fake_scores.astype(dtype)))).astype(
              out_dtype)


def least_squares_generator_loss(fake_scores: chex.Array) -> chex.Array:
  r"""Least-squares GAN generator loss, with target 1.

  .. math::
    \ell_G = \tfrac12 \operatorname{mean} (f(G(z)) - 1)^2.

  Args:
    fake_scores: discriminator scores on generated data, any shape.

  Returns:
    A non-negative scalar of the dtype of ``fake_scores``.

  References:
    Mao et al., `Least Squares Generative Adversarial Networks
    <https://arxiv.org/abs/1611.04076>`_ (arXiv:1611.04076), 2017.
  """
  (fake_scores,), out_dtype, dtype = _as_float_arrays(fake_scores)
  return (0.5 * jnp.mean(jnp.square(fake_scores.astype(dtype) - 1.0))).astype(
      out_dtype)


# --------------------------------------------------------------------------- #
# Penalties and auxiliary objectives.
# --------------------------------------------------------------------------- #


def gradient_penalty(
    critic_fn: Callable[[chex.Array], chex.Array],
    real: chex.Array,
    fake: chex.Array,
    key: chex.PRNGKey,
    *,
    target: float = 1.0,
    one_sided: bool = False,
) -> chex.Array:
  r"""WGAN-GP gradient penalty on random interpolates of real and fake data.

  For each example :math:`i` one :math:`\epsilon_i \sim U[0, 1]` is drawn and
  shared by all its elements; then

  .. math::
    \hat x_i = \epsilon_i x_i + (1 - \epsilon_i) \tilde x_i, \qquad
    \mathcal{P} = \operatorname{mean}_i
      \big(\lVert \nabla_{\hat x_i} f(\hat x_i) \rVert_2 - t\big)^2,

  where the norm runs over all non-batch axes and :math:`t` is ``target``.
  With ``one_sided=True`` only norms above the target are penalised,
  :math:`\operatorname{mean}_i \max(0, \lVert\nabla\rVert_2 - t)^2` (Petzka et
  al., 2018). The caller scales the penalty (Gulrajani et al. use
  :math:`\lambda = 10`) and adds it to the critic loss.

  All per-example gradients come from one backward pass,
  ``jax.grad(lambda x: jnp.sum(critic_fn(x)))``. This is exact only when each
  example's score depends on that example alone. A critic with batch-coupling
  layers (BatchNorm in training mode, minibatch discrimination) breaks this:
  use LayerNorm or no normalisation in the critic, as Gulrajani et al. do.

  The critic's parameters are closed over by ``critic_fn``, so differentiating
  the penalty with respect to them takes a gradient through a gradient
  (second order), which JAX does directly.

  The norm is made safe at a zero gradient with the double-``jnp.where``
  trick: :math:`\sqrt{s}` is evaluated on ``where(s > 0, s, 1)`` and replaced by
  0 where :math:`s = 0`. The value is exact (no epsilon inside the square
  root), and the derivative at a zero gradient is 0 instead of NaN.

  Args:
    critic_fn: maps a batch shaped like ``real`` to scores of shape ``(B,)`` or
      ``(B, ...)``; every score of example ``i`` may depend only on example
      ``i``.
    real: real data, shape ``(B, ...)``, e.g. NHWC images ``(B, H, W, C)``.
    fake: generated data, same shape as ``real``.
    key: PRNG key for the interpolation coefficients.
    target: the gradient norm the critic is pulled towards.
    one_sided: if True, penalise only norms larger than ``target``.

  Returns:
    A non-negative scalar of dtype ``jnp.result_type(real, fake)``.

  References:
    Gulrajani et al., `Improved Training of Wasserstein GANs
    <https://arxiv.org/abs/1704.00028>`_ (arXiv:1704.00028), 2017.

    Petzka et al., `On the regularization of Wasserstein GANs
    <https://arxiv.org/abs/1709.08894>`_ (arXiv:1709.08894), 2018.
  """
  (real, fake), out_dtype, dtype = _as_float_arrays(real, fake)
  # A batch axis with at least one example.
  chex.assert_axis_dimension_gteq(real, axis=0, val=1)
  chex.assert_equal_shape([real, fake])
  batch_size = real.shape[0]
  # One epsilon per example, broadcast over all of its elements.
  eps_shape = (batch_size,) + (1,) * (real.ndim - 1)
  eps = jax.random.uniform(key, eps_shape, dtype=out_dtype)
  interpolates = eps * real.astype(out_dtype) + (1 - eps) * fake.astype(
      out_dtype)
  return gradient_norm_penalty(critic_fn, interpolates, target=target,
                               one_sided=one_sided)


def gradient_norm_penalty(
    critic_fn: Callable[[chex.Array], chex.Array],
    x: chex.Array,
    *,
    target: float = 1.0,
    one_sided: bool = False,
) -> chex.Array:
  r"""Penalty on the per-example gradient norm of the critic at given points.

  .. math::
    \mathcal{P} = \operatorname{mean}_i
      \big(\lVert \nabla_{x_i} f(x_i) \rVert_2 - t\big)^2

  (only the positive part of :math:`\lVert\nabla\rVert_2 - t` when
  ``one_sided``). `gradient_penalty` is this at random interpolates; at real
  data with ``target=0`` it is the R1 penalty of Mescheder, Geiger & Nowozin,
  "Which Training Methods for GANs do actually Converge?", 2018,
  arXiv:1801.04406 (which also halves it and scales by gamma). A caller that
  draws its own interpolation coefficients (e.g. one per example from that
  example's key, so the draw does not depend on how a batch is split over
  devices) calls this directly.

  The same per-example caveat and the same safe norm as `gradient_penalty`.

  Args:
    critic_fn: maps a batch shaped like ``x`` to scores ``(B,)`` or ``(B, ...)``.
    x: points ``(B, ...)`` at which the gradient is taken.
    target: the gradient norm the critic is pulled towards.
    one_sided: if True, penalise only norms larger than ``target``.

  Returns:
    A non-negative scalar of dtype ``x.dtype``.
  """
  (x,), out_dtype, dtype = _as_float_arrays(x)
  batch_size = x.shape[0]
  # The sum decouples into per-example terms, so its gradient w.r.t. example i
  # is the gradient of example i's own score(s).
  grads = jax.grad(lambda v: jnp.sum(critic_fn(v)))(x)
  chex.assert_equal_shape([grads, x])
  grads = grads.astype(dtype).reshape(batch_size, -1)
  sq_norm = jnp.sum(jnp.square(grads), axis=1)
  # d sqrt(s)/ds is infinite at s = 0 and 0 * inf = NaN in the backward pass;
  # taking the sqrt of a safe value keeps both where-branches finite.
  is_positive = sq_norm > 0
  safe_sq_norm = jnp.where(is_positive, sq_norm, 1.0)
  norm = jnp.where(is_positive, jnp.sqrt(safe_sq_norm), 0.0)

  excess = norm - target
  if one_sided:
    excess = jax.nn.relu(excess)
  return jnp.mean(jnp.square(excess)).astype(out_dtype)


def feature_matching_loss(
    real_features: chex.Array,
    fake_features: chex.Array,
) -> chex.Array:
  r"""Feature matching generator loss: distance between mean features.

  With :math:`h` an intermediate discriminator layer,

  .. math::
    \ell_G = \big\lVert \operatorname{mean}_i h(x_i)
      - \operatorname{mean}_j h(G(z_j)) \big\rVert_2^2,

  the means over the batch axis (axis 0) and the squared norm over all
  remaining elements.

  Args:
    real_features: features of real data, shape ``(B_real, ...)``.
    fake_features: features of generated data, shape ``(B_fake, ...)``; the
      trailing shape must equal that of ``real_features``.

  Returns:
    A non-negative scalar of dtype ``jnp.result_type(real_features,
    fake_features)``.

  References:
    Salimans et al., `Improved Techniques for Training GANs
    <https://arxiv.org/abs/1606.03498>`_ (arXiv:1606.03498), 2016.
  """
  (real_features, fake_features), out_dtype, dtype = _as_float_arrays(
      real_features, fake_features)
  chex.assert_axis_dimension_gteq(real_features, axis=0, val=1)
  chex.assert_axis_dimension_gteq(fake_features, axis=0, val=1)
  chex.assert_equal_rank([real_features, fake_features])
  if real_features.ndim > 1:  # A suffix length of 0 would compare whole shapes.
    chex.assert_equal_shape_suffix([real_features, fake_features],
                                   real_features.ndim - 1)
  diff = (jnp.mean(real_features.astype(dtype), axis=0)
          - jnp.mean(fake_features.astype(dtype), axis=0))
  return jnp.sum(jnp.square(diff)).astype(out_dtype)
