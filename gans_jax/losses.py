"""GAN and VAE objectives: pure functions of arrays, in three groups.

1. Adversarial losses: discriminator outputs in, minimised; a scalar mean by
   default, the elementwise loss with ``reduction="none"``.
2. Penalties: regularisers added to a player's loss, most taking the
   discriminator as a function (gradient penalty, R1, R2).
3. Likelihood bounds: per-example log-densities and bounds of the VAE
   families (ELBO, IWAE), maximised.

Each group's section in the source opens with its conventions. Common to all
(unless a docstring says otherwise): the result has the dtype of the inputs
(``jnp.result_type`` of them, so float32 in gives float32 out and bfloat16 in
gives bfloat16 out); internally the elementwise terms and the reductions are
computed in at least float32, the usual mixed-precision practice for losses,
and only the result is cast back.

Every docstring gives the formula and the paper, and names the
``tfgan.losses`` function it corresponds to where TF-GAN has one.

This module imports only `jax` and `chex`, so it can be lifted into any JAX
project.
"""

import math
from typing import Callable

import chex
import jax
import jax.numpy as jnp

__all__ = [
    # 1. Adversarial losses.
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "wasserstein_discriminator_loss",
    "wasserstein_generator_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "feature_matching_loss",
    "semi_supervised_classification_loss",
    "semi_supervised_unsupervised_loss",
    "semi_supervised_discriminator_loss",
    # 2. Penalties.
    "gradient_penalty",
    "gradient_norm_penalty",
    "r1_penalty",
    "r2_penalty",
    "historical_averaging_penalty",
    # 3. Likelihood bounds.
    "gaussian_kl_to_standard_normal",
    "gaussian_log_likelihood",
    "bernoulli_log_likelihood",
    "gaussian_log_density",
    "standard_normal_log_density",
    "importance_weighted_bound",
    "elbo",
    "vae_gan_feature_log_likelihood",
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


# =========================================================================== #
# 1. Adversarial losses: discriminator outputs in, minimised.
#
# The discriminator (critic) step minimises `<family>_discriminator_loss`, the
# generator step minimises `<family>_generator_loss` (TF-GAN's naming). Inputs
# are logits or scores of any shape, a per-example score ``(B,)`` or a
# PatchGAN map ``(B, H, W, 1)``; the real and the fake batch may differ in
# size. The keyword-only ``reduction`` says what comes out:
#
#   "mean" (default)  a scalar, every element counting equally; for a
#                     discriminator loss the mean over the real elements and
#                     the mean over the fake elements, combined.
#   "sum"             the same with sums.
#   "none"            the elementwise loss before reduction, in the shape of
#                     the inputs: the per-example form, to weight or mask
#                     examples as in optax, e.g.
#                     ``jnp.sum(w * loss(..., reduction="none")) / jnp.sum(w)``.
#                     A discriminator loss then combines its real and fake
#                     terms element by element, so both need one shape.
#
# "mean" is the mean of "none" and "sum" its sum (up to rounding). TF-GAN's
# ``real_weights`` / ``generated_weights`` / ``weights`` arguments correspond
# to weighting the "none" output. Feature matching and the K+1 classification
# loss take their mean inside the formula (over the batch before the square;
# over the labelled rows), so they, and the K+1 discriminator loss built on
# the latter, have no per-example form and return a scalar only.
# =========================================================================== #

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: chex.Array, reduction: str) -> chex.Array:
  """Reduces elementwise loss values as ``reduction`` says (see section 1)."""
  if reduction == "mean":
    return jnp.mean(values)
  if reduction == "sum":
    return jnp.sum(values)
  if reduction == "none":
    return values
  raise ValueError(
      f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, got "
      f"{reduction!r}; 'none' returns the elementwise loss, e.g. to weight or "
      "mask examples.")


def _assert_pairable(reduction: str, real: chex.Array, fake: chex.Array):
  """Checks that unreduced real and fake terms can be combined elementwise."""
  if reduction == "none":
    chex.assert_equal_shape(
        [real, fake],
        custom_message="reduction='none' combines the real and fake terms "
        "element by element, so both need one shape; unequal batches need "
        "reduction='mean' or 'sum'")


# --------------------------------------------------------------------------- #
# Minimax GAN and its non-saturating generator loss (cross-entropy on logits).
# --------------------------------------------------------------------------- #


def minimax_discriminator_loss(
    real_logits: chex.Array,
    fake_logits: chex.Array,
    *,
    real_label: float = 1.0,
    reduction: str = "mean",
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

  TF-GAN: ``tfgan.losses.minimax_discriminator_loss`` (and
  ``tfgan.losses.modified_discriminator_loss``, the same loss). TF-GAN smooths
  by default: its ``label_smoothing=0.25`` moves the real target towards 1/2,
  to :math:`1 - 0.25 / 2 = 0.875`, which is ``real_label=0.875`` here (in
  general ``real_label = 1 - label_smoothing / 2``); its
  ``label_smoothing=0.0`` is our default ``real_label=1.0``.

  Args:
    real_logits: discriminator logits on real data, any shape, e.g. ``(B,)``
      or a PatchGAN map ``(B, H, W, 1)``.
    fake_logits: discriminator logits on generated data, any shape (that of
      ``real_logits`` when ``reduction="none"``).
    real_label: target for real data, in ``[0, 1]``.
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    For ``"mean"`` a scalar: the mean over the real elements plus the mean
    over the fake elements; for ``"sum"`` the same with sums; for ``"none"``
    the real plus the fake term of each element, the shape of the inputs. Of
    dtype ``jnp.result_type(real_logits, fake_logits)``.

  References:
    Goodfellow et al., `Generative Adversarial Networks
    <https://arxiv.org/abs/1406.2661>`_ (arXiv:1406.2661), 2014.

    Salimans et al., `Improved Techniques for Training GANs
    <https://arxiv.org/abs/1606.03498>`_ (arXiv:1606.03498), 2016.
  """
  (real_logits, fake_logits), out_dtype, dtype = _as_float_arrays(
      real_logits, fake_logits)
  _assert_pairable(reduction, real_logits, fake_logits)
  real_logits = real_logits.astype(dtype)
  fake_logits = fake_logits.astype(dtype)
  # log(sigmoid(x)) = log_sigmoid(x) and log(1 - sigmoid(x)) = log_sigmoid(-x):
  # both stay finite for |x| = 1e9, where sigmoid rounds to 0 or 1.
  real_term = -(real_label * jax.nn.log_sigmoid(real_logits)
                + (1.0 - real_label) * jax.nn.log_sigmoid(-real_logits))
  fake_term = -jax.nn.log_sigmoid(-fake_logits)
  return (_reduce(real_term, reduction)
          + _reduce(fake_term, reduction)).astype(out_dtype)


def minimax_generator_loss(
    fake_logits: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Saturating generator loss of the original minimax GAN.

  .. math::
    \ell_G = \operatorname{mean} \log\big(1 - \sigma(x_f)\big)
           = \operatorname{mean} \log \sigma(-x_f).

  This is the generator's side of :math:`\min_G \max_D V(D, G)`. Its gradient
  vanishes when the discriminator confidently rejects the samples
  (:math:`x_f \to -\infty`), which is why Goodfellow et al. (2014) recommend
  :func:`non_saturating_generator_loss` in practice.

  TF-GAN: ``tfgan.losses.minimax_generator_loss``, which negates its
  discriminator loss with real logits fixed at 1 and so returns this value
  minus the constant :math:`\log(1 + e^{-1}) \approx 0.313`; the gradients are
  the same.

  Args:
    fake_logits: discriminator logits on generated data, any shape.
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A scalar for ``"mean"`` and ``"sum"``, the elementwise loss (the shape of
    ``fake_logits``) for ``"none"``; of the dtype of ``fake_logits``.

  References:
    Goodfellow et al., `Generative Adversarial Networks
    <https://arxiv.org/abs/1406.2661>`_ (arXiv:1406.2661), 2014.
  """
  (fake_logits,), out_dtype, dtype = _as_float_arrays(fake_logits)
  # log(1 - sigmoid(x)) = log_sigmoid(-x).
  return _reduce(jax.nn.log_sigmoid(-fake_logits.astype(dtype)),
                 reduction).astype(out_dtype)


def non_saturating_generator_loss(
    fake_logits: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Non-saturating generator loss (the "-log D trick").

  .. math::
    \ell_G = -\operatorname{mean} \log \sigma(x_f).

  Same fixed point as :func:`minimax_generator_loss` but strong gradients
  early in training, when the discriminator rejects generated samples.

  TF-GAN: ``tfgan.losses.modified_generator_loss`` (with its default
  ``label_smoothing=0.0``).

  Args:
    fake_logits: discriminator logits on generated data, any shape.
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A scalar for ``"mean"`` and ``"sum"``, the elementwise loss (the shape of
    ``fake_logits``) for ``"none"``; of the dtype of ``fake_logits``.

  References:
    Goodfellow et al., `Generative Adversarial Networks
    <https://arxiv.org/abs/1406.2661>`_ (arXiv:1406.2661), 2014.
  """
  (fake_logits,), out_dtype, dtype = _as_float_arrays(fake_logits)
  # -log(sigmoid(x)) = -log_sigmoid(x) = softplus(-x), finite for any x.
  return (-_reduce(jax.nn.log_sigmoid(fake_logits.astype(dtype)),
                   reduction)).astype(out_dtype)


# --------------------------------------------------------------------------- #
# Wasserstein GAN.
# --------------------------------------------------------------------------- #


def wasserstein_discriminator_loss(
    real_scores: chex.Array,
    fake_scores: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Wasserstein GAN critic loss.

  .. math::
    \ell_C = \operatorname{mean} f(G(z)) - \operatorname{mean} f(x).

  Minimising it maximises the Kantorovich-Rubinstein estimate of the
  Wasserstein-1 distance, valid only for a (near) 1-Lipschitz critic: pair it
  with weight clipping or :func:`gradient_penalty`.

  TF-GAN: ``tfgan.losses.wasserstein_discriminator_loss``.

  Args:
    real_scores: critic scores on real data, any shape.
    fake_scores: critic scores on generated data, any shape (that of
      ``real_scores`` when ``reduction="none"``).
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A scalar for ``"mean"`` and ``"sum"``; for ``"none"`` the elementwise
    :math:`f(G(z)) - f(x)`, the shape of the inputs. Of dtype
    ``jnp.result_type(real_scores, fake_scores)``.

  References:
    Arjovsky et al., `Wasserstein GAN <https://arxiv.org/abs/1701.07875>`_
    (arXiv:1701.07875), 2017.
  """
  (real_scores, fake_scores), out_dtype, dtype = _as_float_arrays(
      real_scores, fake_scores)
  _assert_pairable(reduction, real_scores, fake_scores)
  return (_reduce(fake_scores.astype(dtype), reduction)
          - _reduce(real_scores.astype(dtype), reduction)).astype(out_dtype)


def wasserstein_generator_loss(
    fake_scores: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Wasserstein GAN generator loss.

  .. math::
    \ell_G = -\operatorname{mean} f(G(z)).

  TF-GAN: ``tfgan.losses.wasserstein_generator_loss``.

  Args:
    fake_scores: critic scores on generated data, any shape.
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A scalar for ``"mean"`` and ``"sum"``, the elementwise loss (the shape of
    ``fake_scores``) for ``"none"``; of the dtype of ``fake_scores``.

  References:
    Arjovsky et al., `Wasserstein GAN <https://arxiv.org/abs/1701.07875>`_
    (arXiv:1701.07875), 2017.
  """
  (fake_scores,), out_dtype, dtype = _as_float_arrays(fake_scores)
  return (-_reduce(fake_scores.astype(dtype), reduction)).astype(out_dtype)


# --------------------------------------------------------------------------- #
# Hinge GAN.
# --------------------------------------------------------------------------- #


def hinge_discriminator_loss(
    real_scores: chex.Array,
    fake_scores: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Hinge discriminator loss.

  .. math::
    \ell_D = \operatorname{mean} \max(0, 1 - f(x))
           + \operatorname{mean} \max(0, 1 + f(G(z))).

  TF-GAN: ``tfgan.losses.wasserstein_hinge_discriminator_loss`` (with its
  default hinges ``real_hinge=generated_hinge=1``).

  Args:
    real_scores: discriminator scores on real data, any shape.
    fake_scores: discriminator scores on generated data, any shape (that of
      ``real_scores`` when ``reduction="none"``).
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A non-negative scalar for ``"mean"`` and ``"sum"``; for ``"none"`` the
    real plus the fake term of each element, the shape of the inputs. Of
    dtype ``jnp.result_type(real_scores, fake_scores)``.

  References:
    Lim & Ye, `Geometric GAN <https://arxiv.org/abs/1705.02894>`_
    (arXiv:1705.02894), 2017.

    Miyato et al., `Spectral Normalization for Generative Adversarial Networks
    <https://arxiv.org/abs/1802.05957>`_ (arXiv:1802.05957), 2018.
  """
  (real_scores, fake_scores), out_dtype, dtype = _as_float_arrays(
      real_scores, fake_scores)
  _assert_pairable(reduction, real_scores, fake_scores)
  return (_reduce(jax.nn.relu(1.0 - real_scores.astype(dtype)), reduction)
          + _reduce(jax.nn.relu(1.0 + fake_scores.astype(dtype)),
                    reduction)).astype(out_dtype)


def hinge_generator_loss(
    fake_scores: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Hinge-GAN generator loss.

  .. math::
    \ell_G = -\operatorname{mean} f(G(z)).

  TF-GAN: ``tfgan.losses.wasserstein_hinge_generator_loss`` (an alias of its
  ``wasserstein_generator_loss``).

  Args:
    fake_scores: discriminator scores on generated data, any shape.
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A scalar for ``"mean"`` and ``"sum"``, the elementwise loss (the shape of
    ``fake_scores``) for ``"none"``; of the dtype of ``fake_scores``.

  References:
    Lim & Ye, `Geometric GAN <https://arxiv.org/abs/1705.02894>`_
    (arXiv:1705.02894), 2017.

    Miyato et al., `Spectral Normalization for Generative Adversarial Networks
    <https://arxiv.org/abs/1802.05957>`_ (arXiv:1802.05957), 2018.
  """
  (fake_scores,), out_dtype, dtype = _as_float_arrays(fake_scores)
  return (-_reduce(fake_scores.astype(dtype), reduction)).astype(out_dtype)


# --------------------------------------------------------------------------- #
# Least-squares GAN.
# --------------------------------------------------------------------------- #


def least_squares_discriminator_loss(
    real_scores: chex.Array,
    fake_scores: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Least-squares GAN discriminator loss, with targets 1 (real), 0 (fake).

  .. math::
    \ell_D = \tfrac12 \operatorname{mean} (f(x) - 1)^2
           + \tfrac12 \operatorname{mean} f(G(z))^2.

  This is the :math:`a = 0, b = 1` coding of Mao et al. (2017).

  TF-GAN: ``tfgan.losses.least_squares_discriminator_loss`` (with its default
  ``real_label=1, fake_label=0``).

  Args:
    real_scores: discriminator scores on real data, any shape.
    fake_scores: discriminator scores on generated data, any shape (that of
      ``real_scores`` when ``reduction="none"``).
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A non-negative scalar for ``"mean"`` and ``"sum"``; for ``"none"`` the
    real plus the fake term of each element, the shape of the inputs. Of
    dtype ``jnp.result_type(real_scores, fake_scores)``.

  References:
    Mao et al., `Least Squares Generative Adversarial Networks
    <https://arxiv.org/abs/1611.04076>`_ (arXiv:1611.04076), 2017.
  """
  (real_scores, fake_scores), out_dtype, dtype = _as_float_arrays(
      real_scores, fake_scores)
  _assert_pairable(reduction, real_scores, fake_scores)
  return (0.5 * _reduce(jnp.square(real_scores.astype(dtype) - 1.0), reduction)
          + 0.5 * _reduce(jnp.square(fake_scores.astype(dtype)),
                          reduction)).astype(out_dtype)


def least_squares_generator_loss(
    fake_scores: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""Least-squares GAN generator loss, with target 1.

  .. math::
    \ell_G = \tfrac12 \operatorname{mean} (f(G(z)) - 1)^2.

  TF-GAN: ``tfgan.losses.least_squares_generator_loss`` (with its default
  ``real_label=1``).

  Args:
    fake_scores: discriminator scores on generated data, any shape.
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A non-negative scalar for ``"mean"`` and ``"sum"``, the elementwise loss
    (the shape of ``fake_scores``) for ``"none"``; of the dtype of
    ``fake_scores``.

  References:
    Mao et al., `Least Squares Generative Adversarial Networks
    <https://arxiv.org/abs/1611.04076>`_ (arXiv:1611.04076), 2017.
  """
  (fake_scores,), out_dtype, dtype = _as_float_arrays(fake_scores)
  return (0.5 * _reduce(jnp.square(fake_scores.astype(dtype) - 1.0),
                        reduction)).astype(out_dtype)


# --------------------------------------------------------------------------- #
# Feature matching (Salimans et al. 2016, section 3.1).
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# Semi-supervised K+1 GAN (Salimans et al. 2016, section 5).
# --------------------------------------------------------------------------- #


def semi_supervised_classification_loss(
    logits: chex.Array,
    labels: chex.Array,
    labeled_mask: chex.Array,
) -> chex.Array:
  r"""Cross-entropy over the K real classes, on the labelled examples only.

  With :math:`l_{i,k}` the discriminator's class logits and :math:`m_i \in
  \{0, 1\}` the labelled mask,

  .. math::
    L_{\text{sup}} = -\frac{\sum_i m_i \big(l_{i, y_i}
      - \log \sum_{k=1}^{K} e^{l_{i,k}}\big)}{\max(1, \sum_i m_i)},

  i.e. :math:`-\mathbb E\log p(y \mid x, y < K + 1)`: the fake class K+1
  (logit fixed at 0) drops out because the labelled examples are real.
  Unlabelled examples contribute nothing (their label may be any integer).

  Args:
    logits: class logits, shape ``(B, K)``.
    labels: integer labels, shape ``(B,)``; read only where ``labeled_mask``.
    labeled_mask: ``(B,)`` bool or {0, 1}: which examples carry a label.

  Returns:
    A scalar (0 when no example is labelled), of the dtype of ``logits``.

  References:
    Salimans et al., `Improved Techniques for Training GANs
    <https://arxiv.org/abs/1606.03498>`_ (arXiv:1606.03498), 2016, section 5.
  """
  (logits,), out_dtype, dtype = _as_float_arrays(logits)
  chex.assert_rank(logits, 2)
  chex.assert_shape([labels, labeled_mask], (logits.shape[0],))
  logits = logits.astype(dtype)
  mask = jnp.asarray(labeled_mask).astype(dtype)
  safe_labels = jnp.where(mask > 0, labels, 0)
  picked = jnp.take_along_axis(logits, safe_labels[:, None].astype(jnp.int32), axis=1)[:, 0]
  nll = jax.nn.logsumexp(logits, axis=-1) - picked
  return (jnp.sum(mask * nll) / jnp.maximum(jnp.sum(mask), 1.0)).astype(out_dtype)


def semi_supervised_unsupervised_loss(
    real_logits: chex.Array,
    fake_logits: chex.Array,
    *,
    reduction: str = "mean",
) -> chex.Array:
  r"""The real/fake loss of the K+1 discriminator, from its K class logits.

  The fake class has logit 0, so with :math:`Z(x) = \sum_k e^{l_k(x)}`,
  :math:`D(x) = Z / (Z + 1) = \sigma(\log Z)` and

  .. math::
    L_{\text{unsup}} = -\operatorname{mean}_{\text{real}} \log D(x)
      - \operatorname{mean}_{\text{fake}} \log(1 - D(G(z)))
      = \operatorname{mean} \operatorname{softplus}(-\log Z_{\text{real}})
      + \operatorname{mean} \operatorname{softplus}(\log Z_{\text{fake}}),

  the minimax discriminator loss on the logit :math:`\log Z` (computed with
  ``logsumexp``, so logits of 1e9 stay finite).

  TF-GAN has no K+1 loss; its ``minimax_discriminator_loss`` with
  ``label_smoothing=0`` on the logits :math:`\log Z` has the same value.

  Args:
    real_logits: class logits of real (labelled and unlabelled) data, ``(B, K)``.
    fake_logits: class logits of generated data, ``(B', K)`` (``B' = B``
      when ``reduction="none"``).
    reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

  Returns:
    A scalar for ``"mean"`` and ``"sum"``; for ``"none"`` the real plus the
    fake term of each row, shape ``(B,)``. Of dtype
    ``jnp.result_type(real_logits, fake_logits)``.

  References:
    Salimans et al., `Improved Techniques for Training GANs
    <https://arxiv.org/abs/1606.03498>`_ (arXiv:1606.03498), 2016, section 5.
  """
  (real_logits, fake_logits), out_dtype, dtype = _as_float_arrays(real_logits, fake_logits)
  chex.assert_rank([real_logits, fake_logits], 2)
  real_lse = jax.nn.logsumexp(real_logits.astype(dtype), axis=-1)
  fake_lse = jax.nn.logsumexp(fake_logits.astype(dtype), axis=-1)
  return (minimax_discriminator_loss(real_lse, fake_lse, reduction=reduction)
          ).astype(out_dtype)


def semi_supervised_discriminator_loss(
    real_logits: chex.Array,
    fake_logits: chex.Array,
    labels: chex.Array,
    labeled_mask: chex.Array,
    *,
    unsupervised_weight: float = 1.0,
) -> chex.Array:
  r"""The K+1 discriminator's loss: supervised cross-entropy plus the real/fake loss.

  .. math::
    L_D = L_{\text{sup}}(l_{\text{real}}, y, m)
      + w \, L_{\text{unsup}}(l_{\text{real}}, l_{\text{fake}}),

  `semi_supervised_classification_loss` on the labelled rows of the real
  batch and `semi_supervised_unsupervised_loss` on all of its rows. The
  generator of Salimans et al. trains by `feature_matching_loss`.

  Args:
    real_logits: class logits of the real batch, ``(B, K)``.
    fake_logits: class logits of the generated batch, ``(B', K)``.
    labels: ``(B,)`` integer labels of the real batch (read where labelled).
    labeled_mask: ``(B,)`` which real rows are labelled.
    unsupervised_weight: :math:`w`.

  Returns:
    A scalar.

  References:
    Salimans et al., `Improved Techniques for Training GANs
    <https://arxiv.org/abs/1606.03498>`_ (arXiv:1606.03498), 2016, section 5.
  """
  sup = semi_supervised_classification_loss(real_logits, labels, labeled_mask)
  unsup = semi_supervised_unsupervised_loss(real_logits, fake_logits)
  return sup + unsupervised_weight * unsup


# =========================================================================== #
# 2. Penalties: regularisers that a caller scales and adds to a player's loss.
#
# Non-negative scalars, minimised, each a mean over the batch (historical
# averaging: a sum over the parameters). The gradient penalties take the
# discriminator as a function, ``critic_fn: (B, ...) -> (B,) or (B, ...)``,
# that closes over its parameters; differentiating a penalty with respect to
# them is then a gradient through a gradient, which JAX takes directly. Every
# example's input gradient comes from one backward pass of the summed scores,
# which is exact only when example i's scores depend on example i alone: no
# BatchNorm in training mode and no minibatch discrimination in the critic.
# =========================================================================== #


def _input_gradients(
    critic_fn: Callable[[chex.Array], chex.Array], x: chex.Array) -> chex.Array:
  """Every example's gradient of its own score(s), ``(B, ...) -> (B, ...)``."""
  # The sum decouples into per-example terms, so its gradient w.r.t. example i
  # is the gradient of example i's own score(s).
  grads = jax.grad(lambda v: jnp.sum(critic_fn(v)))(x)
  chex.assert_equal_shape([grads, x])
  return grads


# --------------------------------------------------------------------------- #
# Gradient penalties: WGAN-GP (target 1) and zero-centred R1 / R2.
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

  TF-GAN: ``tfgan.losses.wasserstein_gradient_penalty``, which adds
  ``epsilon=1e-10`` inside the square root and penalises
  :math:`(\lVert\nabla\rVert_2 / t - 1)^2`; the two agree (up to that epsilon)
  at the default ``target=1``, and ``one_sided`` has the same meaning.

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
  data with ``target=0`` it is twice `r1_penalty` (Mescheder, Geiger &
  Nowozin, 2018, who halve it and scale by gamma). A caller that draws its
  own interpolation coefficients (e.g. one per example from that example's
  key, so the draw does not depend on how a batch is split over devices)
  calls this directly.

  The same per-example caveat and the same safe norm as `gradient_penalty`.
  TF-GAN has no penalty at given points (its
  ``wasserstein_gradient_penalty`` always draws the interpolates).

  Args:
    critic_fn: maps a batch shaped like ``x`` to scores ``(B,)`` or ``(B, ...)``.
    x: points ``(B, ...)`` at which the gradient is taken.
    target: the gradient norm the critic is pulled towards.
    one_sided: if True, penalise only norms larger than ``target``.

  Returns:
    A non-negative scalar of dtype ``x.dtype``.

  References:
    Gulrajani et al., `Improved Training of Wasserstein GANs
    <https://arxiv.org/abs/1704.00028>`_ (arXiv:1704.00028), 2017.

    Mescheder, Geiger & Nowozin, `Which Training Methods for GANs do actually
    Converge? <https://arxiv.org/abs/1801.04406>`_ (arXiv:1801.04406), 2018.
  """
  (x,), out_dtype, dtype = _as_float_arrays(x)
  batch_size = x.shape[0]
  grads = _input_gradients(critic_fn, x)
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


def r1_penalty(critic_fn: Callable[[chex.Array], chex.Array],
               real: chex.Array) -> chex.Array:
  r"""R1: the zero-centred gradient penalty on real data.

  .. math::
    R_1 = \tfrac12 \operatorname{mean}_i \lVert \nabla_{x_i} D(x_i) \rVert_2^2,
    \qquad x_i \sim p_\mathcal{D},

  the norm over all non-batch axes. The caller scales it by :math:`\gamma`
  and adds it to the discriminator loss (Mescheder et al. use
  :math:`\gamma = 10` on CelebA/LSUN, StyleGAN2 values from 0.01 to 100). It
  penalises the discriminator for moving away from the Nash equilibrium on the
  data manifold; with it, GAN training converges locally where the unregularised
  and WGAN-GP versions may circle (the paper's Dirac-GAN). No square root is
  taken, so it is smooth at a zero gradient. TF-GAN has no R1 or R2 penalty.

  The same per-example caveat as `gradient_penalty`: every score of example
  ``i`` may depend only on example ``i`` (no BatchNorm in training mode).

  Args:
    critic_fn: maps a batch shaped like ``real`` to scores ``(B,)`` or ``(B, ...)``
      (logits for the minimax family).
    real: real data, shape ``(B, ...)``.

  Returns:
    A non-negative scalar of dtype ``real.dtype``.

  References:
    Mescheder, Geiger & Nowozin, `Which Training Methods for GANs do actually
    Converge? <https://arxiv.org/abs/1801.04406>`_ (arXiv:1801.04406), 2018, eq. 9.
  """
  (real,), out_dtype, dtype = _as_float_arrays(real)
  chex.assert_axis_dimension_gteq(real, axis=0, val=1)
  grads = _input_gradients(critic_fn, real)
  # Squared before flattening, unlike `gradient_norm_penalty`: the same values,
  # kept in this order so that compiled training steps do not change.
  sq_norm = jnp.sum(
      jnp.square(grads.astype(dtype)).reshape(real.shape[0], -1), axis=1)
  return (0.5 * jnp.mean(sq_norm)).astype(out_dtype)


def r2_penalty(critic_fn: Callable[[chex.Array], chex.Array],
               fake: chex.Array) -> chex.Array:
  r"""R2: the zero-centred gradient penalty on generated data.

  .. math::
    R_2 = \tfrac12 \operatorname{mean}_i \lVert \nabla_{x_i} D(x_i) \rVert_2^2,
    \qquad x_i = G(z_i),

  `r1_penalty` at the generator's samples (pass them with
  ``jax.lax.stop_gradient``: the penalty trains the discriminator).

  Args:
    critic_fn: maps a batch shaped like ``fake`` to scores ``(B,)`` or ``(B, ...)``.
    fake: generated data, shape ``(B, ...)``.

  Returns:
    A non-negative scalar of dtype ``fake.dtype``.

  References:
    Mescheder, Geiger & Nowozin, `Which Training Methods for GANs do actually
    Converge? <https://arxiv.org/abs/1801.04406>`_ (arXiv:1801.04406), 2018, eq. 10.
  """
  return r1_penalty(critic_fn, fake)


# --------------------------------------------------------------------------- #
# Historical averaging (Salimans et al. 2016, section 3.3).
# --------------------------------------------------------------------------- #


def historical_averaging_penalty(params, average_params) -> chex.Array:
  r"""Historical averaging: squared distance of the parameters from their past mean.

  .. math::
    \Big\lVert \theta - \frac{1}{t} \sum_{i=1}^{t} \theta_i \Big\rVert_2^2,

  summed over every leaf of the parameter tree. Multiply by the weight
  :math:`\lambda` and add to the player's loss; its gradient
  :math:`2\lambda(\theta - \bar\theta)` pulls towards the running mean (pass the
  mean as a constant: it is not differentiated).

  Args:
    params: a pytree of float arrays, :math:`\theta`.
    average_params: the same pytree structure and shapes, :math:`\bar\theta`.

  Returns:
    A float32 (or wider) scalar.

  References:
    Salimans et al., `Improved Techniques for Training GANs
    <https://arxiv.org/abs/1606.03498>`_ (arXiv:1606.03498), 2016, section 3.3.
  """
  chex.assert_trees_all_equal_shapes(params, average_params)
  average_params = jax.lax.stop_gradient(average_params)
  terms = jax.tree.map(
      lambda p, a: jnp.sum(jnp.square(p.astype(jnp.promote_types(p.dtype, jnp.float32))
                                      - a.astype(jnp.promote_types(p.dtype, jnp.float32)))),
      params, average_params)
  return sum(jax.tree.leaves(terms), jnp.zeros((), jnp.float32))


# =========================================================================== #
# 3. Likelihood bounds: per-example, maximised.
#
# The objectives of the likelihood-based families (VAE, beta-VAE, IWAE,
# VAE-GAN): log-densities, the KL term and the bounds built from them. They
# are to be *maximised* (negate the batch mean for a loss, e.g.
# ``-jnp.mean(elbo(...))``), and they are per-example: axis 0 is the batch,
# every other axis is summed, and the result has shape ``(B,)``. Extra sample
# axes (``K`` posterior samples per example) are added with `jax.vmap`, e.g.
# ``jax.vmap(gaussian_log_density, in_axes=(0, None, None))(z, mean, log_var)``
# maps samples ``z`` of shape ``(K, B, Z)`` to ``(K, B)``. TF-GAN has none of
# these.
# =========================================================================== #

_LOG_2PI = math.log(2.0 * math.pi)


def _sum_per_example(values: chex.Array) -> chex.Array:
  """Sums every axis but the first (batch) one: ``(B, ...) -> (B,)``."""
  return jnp.sum(values, axis=tuple(range(1, values.ndim)))


def gaussian_kl_to_standard_normal(
    mean: chex.Array,
    log_var: chex.Array,
) -> chex.Array:
  r"""Per-example KL divergence of a diagonal Gaussian from the standard normal.

  With :math:`q = \mathcal N(\mu, \operatorname{diag} e^{v})` and
  :math:`p = \mathcal N(0, I)`,

  .. math::
    \mathrm{KL}(q \,\|\, p) = \tfrac12 \sum_j \big(e^{v_j} + \mu_j^2 - 1
      - v_j\big),

  summed over all latent (non-batch) axes. This is the closed-form prior term
  of the VAE objective (Kingma & Welling 2014, appendix B); it is
  non-negative and zero only at :math:`\mu = 0, v = 0`.

  Args:
    mean: posterior means :math:`\mu`, shape ``(B, Z)`` or ``(B, ...)``.
    log_var: posterior log-variances :math:`v = \log \sigma^2`, the shape of
      ``mean``.

  Returns:
    The KL divergence of each example, shape ``(B,)``, of dtype
    ``jnp.result_type(mean, log_var)``.

  References:
    Kingma & Welling, `Auto-Encoding Variational Bayes
    <https://arxiv.org/abs/1312.6114>`_ (arXiv:1312.6114), 2014.
  """
  (mean, log_var), out_dtype, dtype = _as_float_arrays(mean, log_var)
  chex.assert_axis_dimension_gteq(mean, axis=0, val=1)
  chex.assert_equal_shape([mean, log_var])
  mean, log_var = mean.astype(dtype), log_var.astype(dtype)
  # Each term exp(v) - 1 - v is >= 0 (convexity of exp), so the sum is too.
  terms = 0.5 * (jnp.exp(log_var) - 1.0 - log_var + jnp.square(mean))
  return _sum_per_example(terms).astype(out_dtype)


def gaussian_log_likelihood(
    x: chex.Array,
    mean: chex.Array,
    *,
    log_scale: chex.Numeric,
) -> chex.Array:
  r"""Per-example log-likelihood of data under an isotropic (or diagonal) Gaussian.

  With :math:`s` the log standard deviation (``log_scale``),

  .. math::
    \log \mathcal N(x; m, e^{2 s} I) = \sum_j \Big(
      -\tfrac12 \big((x_j - m_j) e^{-s_j}\big)^2 - s_j
      - \tfrac12 \log 2\pi \Big),

  summed over all non-batch axes. This is the decoder term
  :math:`\log p_\theta(x \mid z)` of a Gaussian VAE (Kingma & Welling 2014,
  appendix C.2). ``log_scale`` may be a fixed number (a scalar: one
  :math:`\sigma` for every pixel, e.g. ``0.0`` for unit variance) or a learned
  array that broadcasts to ``x`` (per pixel ``(H, W, C)``, per example
  ``(B, 1, 1, 1)``, or a full decoder output ``(B, H, W, C)``). Note that with
  unit variance the negated value is half the summed squared error plus a
  constant, not a mean squared error: the scale of the reconstruction term
  relative to the KL is what sets the trade-off.

  Args:
    x: data, shape ``(B, ...)``, e.g. images ``(B, H, W, C)``.
    mean: the decoder's mean, the shape of ``x``.
    log_scale: :math:`\log \sigma`, a scalar or an array that broadcasts to
      ``x``'s shape. Keyword-only: it has no neutral default.

  Returns:
    The log-likelihood of each example, shape ``(B,)``, of dtype
    ``jnp.result_type(x, mean)`` (``log_scale`` does not change it).

  References:
    Kingma & Welling, `Auto-Encoding Variational Bayes
    <https://arxiv.org/abs/1312.6114>`_ (arXiv:1312.6114), 2014.
  """
  (x, mean), out_dtype, dtype = _as_float_arrays(x, mean)
  chex.assert_axis_dimension_gteq(x, axis=0, val=1)
  chex.assert_equal_shape([x, mean])
  # broadcast_to raises if log_scale would broadcast x to a larger shape.
  log_scale = jnp.broadcast_to(jnp.asarray(log_scale, dtype), x.shape)
  # Multiplying by exp(-s) instead of dividing by exp(s) keeps a learned
  # scale's gradient free of a division by a tiny number.
  standardized = (x.astype(dtype) - mean.astype(dtype)) * jnp.exp(-log_scale)
  terms = -0.5 * jnp.square(standardized) - log_scale - 0.5 * _LOG_2PI
  return _sum_per_example(terms).astype(out_dtype)


def bernoulli_log_likelihood(x: chex.Array, logits: chex.Array) -> chex.Array:
  r"""Per-example Bernoulli log-likelihood of data in ``[0, 1]`` given logits.

  With :math:`\sigma` the logistic sigmoid and :math:`\ell` the decoder's
  logits,

  .. math::
    \log p(x \mid \ell) = \sum_j \big(x_j \log \sigma(\ell_j)
      + (1 - x_j) \log \sigma(-\ell_j)\big),

  summed over all non-batch axes: the negated binary cross-entropy, the
  decoder term of the binarised-MNIST VAE of Kingma & Welling (2014, appendix
  C.1). Non-binary :math:`x \in [0, 1]` (grey levels) are accepted, as is
  common practice; the value is then a cross-entropy rather than a normalised
  log-probability. Images in ``[-1, 1]`` must be mapped by ``(x + 1) / 2``
  first.

  Args:
    x: data in ``[0, 1]``, shape ``(B, ...)``.
    logits: decoder logits :math:`\ell`, the shape of ``x``.

  Returns:
    The log-likelihood of each example (``<= 0`` for ``x`` in ``{0, 1}``),
    shape ``(B,)``, of dtype ``jnp.result_type(x, logits)``. Finite for
    ``|logits|`` up to ``1e9`` and beyond.

  References:
    Kingma & Welling, `Auto-Encoding Variational Bayes
    <https://arxiv.org/abs/1312.6114>`_ (arXiv:1312.6114), 2014.
  """
  (x, logits), out_dtype, dtype = _as_float_arrays(x, logits)
  chex.assert_axis_dimension_gteq(x, axis=0, val=1)
  chex.assert_equal_shape([x, logits])
  x, logits = x.astype(dtype), logits.astype(dtype)
  # log(sigmoid(l)) = log_sigmoid(l) and log(1 - sigmoid(l)) = log_sigmoid(-l):
  # finite for |l| = 1e9, where sigmoid rounds to 0 or 1 (and x * l -
  # softplus(l) would lose all digits to cancellation).
  terms = x * jax.nn.log_sigmoid(logits) + (1.0 - x) * jax.nn.log_sigmoid(
      -logits)
  return _sum_per_example(terms).astype(out_dtype)


def gaussian_log_density(
    z: chex.Array,
    mean: chex.Array,
    log_var: chex.Array,
) -> chex.Array:
  r"""Per-example log-density of a diagonal Gaussian, e.g. :math:`\log q(z \mid x)`.

  .. math::
    \log \mathcal N(z; \mu, \operatorname{diag} e^{v}) = -\tfrac12 \sum_j
      \big(\log 2\pi + v_j + (z_j - \mu_j)^2 e^{-v_j}\big),

  summed over all non-batch axes. The importance-weighted bound needs it to
  evaluate the encoder's density at its own samples; for samples ``z`` of
  shape ``(K, B, Z)`` use
  ``jax.vmap(gaussian_log_density, in_axes=(0, None, None))``.

  Args:
    z: points, shape ``(B, Z)`` or ``(B, ...)``.
    mean: means :math:`\mu`, broadcastable to ``z``'s shape.
    log_var: log-variances :math:`v`, broadcastable to ``z``'s shape.

  Returns:
    The log-density of each example, shape ``(B,)``, of dtype
    ``jnp.result_type(z, mean, log_var)``.

  References:
    Kingma & Welling, `Auto-Encoding Variational Bayes
    <https://arxiv.org/abs/1312.6114>`_ (arXiv:1312.6114), 2014.
  """
  (z, mean, log_var), out_dtype, dtype = _as_float_arrays(z, mean, log_var)
  chex.assert_axis_dimension_gteq(z, axis=0, val=1)
  mean = jnp.broadcast_to(mean.astype(dtype), z.shape)
  log_var = jnp.broadcast_to(log_var.astype(dtype), z.shape)
  # (z - mu)^2 / exp(v) = ((z - mu) * exp(-v / 2))^2: no division.
  standardized = (z.astype(dtype) - mean) * jnp.exp(-0.5 * log_var)
  terms = -0.5 * (_LOG_2PI + log_var + jnp.square(standardized))
  return _sum_per_example(terms).astype(out_dtype)


def standard_normal_log_density(z: chex.Array) -> chex.Array:
  r"""Per-example log-density of the standard normal prior, :math:`\log p(z)`.

  .. math::
    \log \mathcal N(z; 0, I) = -\tfrac12 \sum_j \big(\log 2\pi + z_j^2\big),

  summed over all non-batch axes.

  Args:
    z: points, shape ``(B, Z)`` or ``(B, ...)``.

  Returns:
    The log-density of each example, shape ``(B,)``, of the dtype of ``z``.

  References:
    Kingma & Welling, `Auto-Encoding Variational Bayes
    <https://arxiv.org/abs/1312.6114>`_ (arXiv:1312.6114), 2014.
  """
  (z,), out_dtype, dtype = _as_float_arrays(z)
  chex.assert_axis_dimension_gteq(z, axis=0, val=1)
  terms = -0.5 * (_LOG_2PI + jnp.square(z.astype(dtype)))
  return _sum_per_example(terms).astype(out_dtype)


def importance_weighted_bound(
    log_joint: chex.Array,
    log_q: chex.Array,
) -> chex.Array:
  r"""Importance-weighted lower bound on :math:`\log p(x)` from K samples (IWAE).

  With :math:`z_1, \dots, z_K \sim q(z \mid x)` and importance weights
  :math:`w_k = p(x, z_k) / q(z_k \mid x)`,

  .. math::
    \mathcal L_K = \log \frac1K \sum_{k=1}^K w_k
      = \operatorname{logsumexp}_k (\log p(x, z_k) - \log q(z_k \mid x))
        - \log K.

  :math:`\mathbb E\,\mathcal L_K \le \log p(x)`, the expectation does not
  decrease with :math:`K`, and :math:`\mathcal L_K \to \log p(x)` as
  :math:`K \to \infty` when the weights are bounded (Burda et al. 2016,
  Theorem 1). :math:`\mathcal L_1` is a one-sample estimate of the ELBO. If
  :math:`q` is the exact posterior every weight equals :math:`p(x)` and the
  bound is exact for every :math:`K`. Evaluated with logsumexp, so log-weights
  of magnitude ``1e4`` (where ``exp`` overflows) stay finite.

  ``log_joint`` is typically ``log_likelihood + standard_normal_log_density``
  of the K samples, each computed per example and stacked on axis 0 by
  `jax.vmap`, e.g. ``jax.vmap(standard_normal_log_density)(z)`` for samples
  ``z`` of shape ``(K, B, Z)``.

  Args:
    log_joint: :math:`\log p(x, z_k)`, shape ``(K, B)``.
    log_q: :math:`\log q(z_k \mid x)` at the same samples, shape ``(K, B)``.

  Returns:
    The bound for each example, shape ``(B,)``, of dtype
    ``jnp.result_type(log_joint, log_q)``.

  References:
    Burda, Grosse & Salakhutdinov, `Importance Weighted Autoencoders
    <https://arxiv.org/abs/1509.00519>`_ (arXiv:1509.00519), 2016.
  """
  (log_joint, log_q), out_dtype, dtype = _as_float_arrays(log_joint, log_q)
  chex.assert_rank(log_joint, 2)
  chex.assert_equal_shape([log_joint, log_q])
  chex.assert_axis_dimension_gteq(log_joint, axis=0, val=1)
  num_samples = log_joint.shape[0]
  log_weights = log_joint.astype(dtype) - log_q.astype(dtype)
  # log mean exp = logsumexp - log K; logsumexp subtracts the max first.
  bound = jax.nn.logsumexp(log_weights, axis=0) - math.log(num_samples)
  return bound.astype(out_dtype)


def elbo(
    log_likelihood: chex.Array,
    kl: chex.Array,
    *,
    beta: float = 1.0,
) -> chex.Array:
  r"""Per-example evidence lower bound, with the beta-VAE weight on the KL.

  .. math::
    \mathcal L_\beta = \mathbb E_{q(z \mid x)} \log p(x \mid z)
      - \beta\, \mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big).

  With :math:`\beta = 1` (the default, the neutral value) this is the VAE's
  bound :math:`\mathcal L \le \log p(x)` (Kingma & Welling 2014, eq. 3);
  :math:`\beta > 1` is the beta-VAE objective of Higgins et al. (2017), which
  trades reconstruction for a more factorised latent code; since
  :math:`\mathrm{KL} \ge 0` it is then a looser bound, while
  :math:`\beta < 1` gives no bound on :math:`\log p(x)`. The expectation is
  usually a one-sample reparameterised estimate, e.g.
  ``gaussian_log_likelihood(x, decoder(z), log_scale=...)`` at
  ``z = mean + exp(log_var / 2) * eps``, and the KL the closed form
  `gaussian_kl_to_standard_normal`. Maximise it (minimise
  ``-jnp.mean(elbo(...))``).

  Args:
    log_likelihood: :math:`\log p(x \mid z)` (an estimate of its expectation),
      shape ``(B,)``.
    kl: :math:`\mathrm{KL}(q(z \mid x) \| p(z))`, shape ``(B,)``.
    beta: weight of the KL term, ``>= 0``.

  Returns:
    The bound for each example, shape ``(B,)``, of dtype
    ``jnp.result_type(log_likelihood, kl)``.

  References:
    Kingma & Welling, `Auto-Encoding Variational Bayes
    <https://arxiv.org/abs/1312.6114>`_ (arXiv:1312.6114), 2014.

    Higgins et al., `beta-VAE: Learning Basic Visual Concepts with a
    Constrained Variational Framework <https://openreview.net/forum?id=Sy2fzU9gl>`_
    (ICLR; no arXiv version), 2017.
  """
  (log_likelihood, kl), out_dtype, dtype = _as_float_arrays(log_likelihood,
                                                             kl)
  chex.assert_equal_shape([log_likelihood, kl])
  return (log_likelihood.astype(dtype) - beta * kl.astype(dtype)).astype(
      out_dtype)


def vae_gan_feature_log_likelihood(
    real_features: chex.Array,
    recon_features: chex.Array,
) -> chex.Array:
  r"""VAE-GAN's learned-similarity log-likelihood in a discriminator layer.

  Larsen et al. (2016, eq. 6) replace the pixel likelihood of the VAE by a
  unit-variance Gaussian on the :math:`l`-th layer features of the
  discriminator, centred on the features of the reconstruction
  :math:`\tilde x = \mathrm{Dec}(z)`, :math:`z \sim q(z \mid x)`:

  .. math::
    \log p(\mathrm{Dis}_l(x) \mid z)
      = \log \mathcal N\big(\mathrm{Dis}_l(x);\, \mathrm{Dis}_l(\tilde x), I\big)
      = -\tfrac12 \sum_j \big(\mathrm{Dis}_l(x)_j
        - \mathrm{Dis}_l(\tilde x)_j\big)^2 - \tfrac F2 \log 2\pi,

  summed over the :math:`F` feature elements of each example (all non-batch
  axes). Their reconstruction loss is the negation,
  :math:`\mathcal L_{\mathrm{llike}}^{\mathrm{Dis}_l}
  = -\mathbb E_{q} \log p(\mathrm{Dis}_l(x) \mid z)`; the constant does not
  change any gradient. It equals
  ``gaussian_log_likelihood(real_features, recon_features, log_scale=0.0)``.
  In Larsen et al.'s Algorithm 1 the encoder and decoder take this term's
  gradient and the discriminator does not (it trains on the GAN loss only):
  differentiate with respect to their parameters alone, or
  ``jax.lax.stop_gradient`` the features where the discriminator's
  parameters would otherwise receive it.

  Args:
    real_features: :math:`\mathrm{Dis}_l(x)` of the data, shape ``(B, ...)``,
      e.g. ``(B, F)`` or a feature map ``(B, H, W, C)``.
    recon_features: :math:`\mathrm{Dis}_l(\tilde x)` of the reconstructions of
      the same examples, the shape of ``real_features``.

  Returns:
    The log-likelihood of each example, shape ``(B,)``, of dtype
    ``jnp.result_type(real_features, recon_features)``.

  References:
    Larsen, Sønderby, Larochelle & Winther, `Autoencoding beyond pixels using
    a learned similarity metric <https://arxiv.org/abs/1512.09300>`_
    (arXiv:1512.09300), 2016.
  """
  return gaussian_log_likelihood(real_features, recon_features, log_scale=0.0)
