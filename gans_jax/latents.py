"""Latents: sampling (the prior, truncation) and controllable generation.

Truncation (Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High
Fidelity Natural Image Synthesis", arXiv:1809.11096, sec. 3.1): draw z from a
normal truncated to [-psi, psi] per coordinate. Smaller psi trades diversity
(recall) for fidelity (precision); psi = None is the untruncated prior.

Controllable generation, after training with the generator frozen (its
parameters closed over in a ``generate_fn(z) -> images``):

* paths: `lerp`, `slerp` (Shoemake 1985; White 2016, arXiv:1609.04468) and
  `interpolate`; `latent_arithmetic` (Radford et al. 2016, arXiv:1511.06434);
* classifier-gradient editing: `edit_latents` ascends a classifier's target
  score through G by `jax.grad` w.r.t. z, optionally penalising changes of the
  other classes (feature correlation) and leaving the prior; `edit_direction`
  averages its steps into a reusable direction for `apply_direction`;
  `edit_metrics` scores an edit;
* `coordinate_control` measures how one z coordinate drives a classifier
  (the check for supervised disentanglement).

All are pure functions of arrays and callables, jit-able with the callables
and the Python-int sizes static.
"""

from typing import Callable

import chex
import jax
import jax.numpy as jnp
import numpy as np

from gans_jax.errors import UserError


def sample_latents(key: jax.Array, num: int, z_dim: int, *, truncation: float | None = None,
                   dtype=jnp.float32) -> jax.Array:
  """z [num, z_dim] from N(0, I), or from N(0, I) truncated to [-psi, psi] per coordinate.

  Args:
    key: PRNG key.
    num: number of latents.
    z_dim: latent dimension.
    truncation: psi > 0, or None for no truncation.
  Returns:
    [num, z_dim] latents.
  """
  if truncation is None:
    return jax.random.normal(key, (num, z_dim), dtype)
  if truncation <= 0:
    raise ValueError(f"truncation must be positive, got {truncation}")
  return jax.random.truncated_normal(key, -truncation, truncation, (num, z_dim), dtype)


# --------------------------------------------------------------------------- #
# Controllable generation: everything below works on a trained, frozen
# generator. Pure functions of arrays and callables, all jit-able.
# --------------------------------------------------------------------------- #

# Callables of arrays; parameters are closed over, so they are constants here.
GenerateFn = Callable[[jax.Array], jax.Array]    # z [B, Z] -> images [B, ...]
ClassifierFn = Callable[[jax.Array], jax.Array]  # images [B, ...] -> logits [B, K]

EDIT_OBJECTIVES = ("logit", "log_softmax")
INTERPOLATION_METHODS = ("slerp", "linear")


def _path_weights(t: chex.Numeric, z: jax.Array) -> jax.Array:
  """t [T] (or a scalar) in z's float dtype, shaped [T, 1, ..., 1] to broadcast against z."""
  t = jnp.asarray(t, dtype=z.dtype)
  return t.reshape(t.shape + (1,) * z.ndim)


def _safe_norm(x: jax.Array) -> jax.Array:
  """|x| over the last axis (kept), floored at sqrt(tiny): finite value and gradient at x = 0."""
  return jnp.sqrt(jnp.maximum(jnp.sum(x * x, axis=-1, keepdims=True), jnp.finfo(x.dtype).tiny))


def _targets(target: chex.Numeric, batch: int, num_classes: int) -> jax.Array:
  """Target classes as int32 [B]; concrete ones are range-checked (an index past K would
  silently read NaN); traced ones cannot be and are the caller's responsibility."""
  if not isinstance(target, jax.core.Tracer):
    # NumPy, not jnp: under a jit trace even jnp ops on constants are staged out.
    concrete = np.asarray(target)
    if np.any(concrete < 0) or np.any(concrete >= num_classes):
      raise UserError(f"edit target must be a class index in [0, {num_classes}), got {target}")
  return jnp.broadcast_to(jnp.asarray(target, jnp.int32), (batch,))


def lerp(z0: chex.Array, z1: chex.Array, t: chex.Numeric) -> jax.Array:
  r"""Linear interpolation between latents.

  .. math::
    \operatorname{lerp}(z_0, z_1; t) = (1 - t)\, z_0 + t\, z_1

  Written in this form, not ``z0 + t (z1 - z0)``, so both endpoints are exact
  in floating point.

  Args:
    z0: start, any shape, e.g. [Z] or [B, Z].
    z1: end, the shape of `z0`.
    t: positions, shape [T] (or a scalar), usually in [0, 1].

  Returns:
    The path [T, *z0.shape] (``z0.shape`` for a scalar t).
  """
  z0, z1 = jnp.asarray(z0), jnp.asarray(z1)
  chex.assert_equal_shape([z0, z1])
  chex.assert_type([z0, z1], float)
  t = _path_weights(t, z0)
  return (1 - t) * z0 + t * z1


def slerp(z0: chex.Array, z1: chex.Array, t: chex.Numeric) -> jax.Array:
  r"""Spherical linear interpolation between latents, along the last axis.

  With :math:`\Omega` the angle between :math:`z_0` and :math:`z_1`,

  .. math::
    \operatorname{slerp}(z_0, z_1; t) = \frac{\sin((1 - t)\Omega)}{\sin \Omega}\, z_0
      + \frac{\sin(t \Omega)}{\sin \Omega}\, z_1 .

  For unit vectors the path is the great-circle arc, so every point has norm 1.
  White (2016) recommends it for Gaussian latents: in high dimension almost all
  prior mass lies near the sphere of radius sqrt(Z), and the chord that `lerp`
  follows cuts through the improbable region near the origin (its midpoint
  between two independent samples has norm about sqrt(Z/2)).

  Omega is computed as ``2 atan2(|u0 - u1|, |u0 + u1|)`` on the unit vectors
  u = z / |z| (Kahan's form), accurate at every angle, unlike ``arccos`` of the
  cosine near 0 and pi. When ``sin(Omega) < sqrt(eps)`` of the dtype (z0 and z1
  parallel or antiparallel, or either is zero) it falls back to `lerp`: for
  parallel vectors the two agree to O(Omega^2), i.e. to machine precision; for
  antiparallel ones the great circle is not unique and lerp is a defined
  choice. The branch is taken with ``jnp.where`` on safe operands, so values and
  gradients stay finite. Both endpoints are returned exactly (t == 0 gives z0,
  t == 1 gives z1, bit for bit).

  Args:
    z0: start, shape [..., Z] (e.g. [Z] or [B, Z]); the angle is per vector.
    z1: end, the shape of `z0`.
    t: positions, shape [T] (or a scalar), usually in [0, 1].

  Returns:
    The path [T, *z0.shape] (``z0.shape`` for a scalar t).

  References:
    Shoemake, `Animating rotation with quaternion curves
    <https://doi.org/10.1145/325165.325242>`_, SIGGRAPH 1985.

    White, `Sampling Generative Networks <https://arxiv.org/abs/1609.04468>`_
    (arXiv:1609.04468), 2016.
  """
  z0, z1 = jnp.asarray(z0), jnp.asarray(z1)
  chex.assert_equal_shape([z0, z1])
  chex.assert_type([z0, z1], float)
  finfo = jnp.finfo(z0.dtype)
  n0, n1 = _safe_norm(z0), _safe_norm(z1)
  u0, u1 = z0 / n0, z1 / n1
  omega = 2 * jnp.arctan2(_safe_norm(u0 - u1), _safe_norm(u0 + u1))
  sin_omega = jnp.sin(omega)
  zero = jnp.sqrt(finfo.tiny)
  degenerate = (sin_omega < jnp.sqrt(finfo.eps)) | (n0 <= zero) | (n1 <= zero)
  # Double-where: the discarded branch must not divide by ~0, or its NaN/inf
  # leaks into gradients even though where() drops its value.
  safe_omega = jnp.where(degenerate, 1.0, omega).astype(z0.dtype)
  safe_sin = jnp.where(degenerate, 1.0, sin_omega).astype(z0.dtype)
  t = _path_weights(t, z0)
  spherical = (jnp.sin((1 - t) * safe_omega) / safe_sin * z0
               + jnp.sin(t * safe_omega) / safe_sin * z1)
  # Pin the endpoints: XLA may evaluate sin(1 * Omega) and sin(Omega) with
  # different (fused, vectorised) kernels, off by an ulp, so the ratio is not
  # exactly 1 at t = 0 or 1 by itself.
  spherical = jnp.where(t == 0, z0, jnp.where(t == 1, z1, spherical))
  return jnp.where(degenerate, (1 - t) * z0 + t * z1, spherical)


def interpolate(z0: chex.Array, z1: chex.Array, num: int, *, method: str = "slerp") -> jax.Array:
  """`num` evenly spaced latents from z0 to z1, both included (t = linspace(0, 1, num)).

  Feed the result, reshaped to [num * B, Z], to the generator to see an
  interpolation strip; smooth transitions indicate that G has not memorised
  the training set (Radford et al. 2016, arXiv:1511.06434, sec. 6.1).

  Args:
    z0: start, shape [..., Z].
    z1: end, the shape of `z0`.
    num: number of points, >= 2; a Python int.
    method: 'slerp' (`slerp`, the default for Gaussian latents) or 'linear' (`lerp`).

  Returns:
    [num, *z0.shape].

  Raises:
    UserError: unknown `method` or ``num < 2``.
  """
  if method not in INTERPOLATION_METHODS:
    raise UserError(f"interpolation method must be one of {INTERPOLATION_METHODS}, got {method!r}")
  if num < 2:
    raise UserError(f"interpolation num must be >= 2 to include both ends, got {num}")
  z0 = jnp.asarray(z0)
  t = jnp.linspace(0.0, 1.0, num, dtype=z0.dtype)
  return slerp(z0, z1, t) if method == "slerp" else lerp(z0, z1, t)


def latent_arithmetic(a: chex.Array, b: chex.Array, c: chex.Array, *,
                      mean: bool = True) -> jax.Array:
  r"""Vector arithmetic on latents: :math:`\bar z_a + \bar z_b - \bar z_c`.

  "smiling woman" - "neutral woman" + "neutral man" = "smiling man" in
  Radford et al. (2016, sec. 6.3), who found single latents unstable and
  averaged three exemplars per concept first. With ``mean=True`` every 2-D
  input [N, Z] is replaced by its mean over axis 0 (N may differ between a, b
  and c), 1-D inputs [Z] are used as they are, and the result is [Z]. With
  ``mean=False`` the inputs are combined elementwise with broadcasting
  (e.g. one [B, Z] batch of base latents plus one [Z] offset).

  Args:
    a: [N_a, Z] or [Z].
    b: [N_b, Z] or [Z].
    c: [N_c, Z] or [Z].
    mean: average 2-D inputs over their first axis first.

  Returns:
    ``a + b - c`` of shape [Z] (mean=True) or the broadcast shape.

  References:
    Radford, Metz & Chintala, `Unsupervised Representation Learning with Deep
    Convolutional Generative Adversarial Networks
    <https://arxiv.org/abs/1511.06434>`_ (arXiv:1511.06434), 2016.
  """
  a, b, c = (jnp.asarray(v) for v in (a, b, c))
  if mean:
    chex.assert_rank([a, b, c], {1, 2})
    a, b, c = (v.mean(axis=0) if v.ndim == 2 else v for v in (a, b, c))
    chex.assert_equal_shape([a, b, c])
  return a + b - c


def edit_latents(z: chex.Array, generate_fn: GenerateFn, classifier_fn: ClassifierFn,
                 target: chex.Numeric, *, step_size: chex.Numeric, num_steps: int,
                 keep_others: chex.Numeric = 0.0, prior_weight: chex.Numeric = 0.0,
                 objective: str = "logit") -> jax.Array:
  r"""Classifier-gradient latent editing: gradient ascent on z through a frozen generator.

  For each example, with :math:`f(x) \in \mathbb{R}^K` the classifier logits,
  :math:`t` its target class and :math:`z^{(0)}` its starting latent,

  .. math::
    J(z) = s_t(G(z))
      - \lambda_{\text{others}} \sum_{k \ne t} \big(f_k(G(z)) - f_k(G(z^{(0)}))\big)^2
      - \lambda_{\text{prior}}\, \tfrac12 \lVert z \rVert^2,
    \qquad z^{(n+1)} = z^{(n)} + \eta\, \nabla_z J(z^{(n)}),

  where :math:`s_t = f_t`, the target logit, for ``objective='logit'`` (the
  default, the classifier score :math:`d(g(z))` of the DeepLearning.AI GAN
  course's controllable-generation lecture), or
  :math:`s_t = \log\operatorname{softmax}(f)_t` for ``objective='log_softmax'``,
  which rises only by beating the other classes (raising the target logit
  alone can raise the others with it).

  * ``keep_others`` (:math:`\lambda_{\text{others}}`) counters feature
    correlation: moving z towards one class also moves correlated outputs. The
    penalty is on the non-target *logits*, not probabilities: probabilities sum
    to one, so raising :math:`p_t` must lower the others and a probability
    penalty would fight the edit itself; the logits can stay put while
    :math:`f_t` rises.
  * ``prior_weight`` (:math:`\lambda_{\text{prior}}`): :math:`\tfrac12\lVert z\rVert^2`
    is :math:`-\log \mathcal{N}(z; 0, I)` up to a constant, so it keeps z where
    the generator was trained and its images stay realistic.

  The batch objective is :math:`\sum_i J(z_i)`; its gradient w.r.t. z [B, Z]
  is the per-example gradients as long as examples are independent, so run
  the generator and classifier in inference mode (``train=False``: BatchNorm
  with running averages couples nothing). Only z is differentiated: the
  parameters closed over by `generate_fn` and `classifier_fn` are constants and
  are never changed.

  Jit-able: `generate_fn`, `classifier_fn`, `objective` and `num_steps` (the
  `lax.scan` length) must be static (close over them, or mark them static);
  `z`, `target`, `step_size`, `keep_others` and `prior_weight` may be traced.

  Args:
    z: starting latents [B, Z].
    generate_fn: ``z [B, Z] -> images [B, ...]``, parameters closed over.
    classifier_fn: ``images -> logits [B, K]``, parameters closed over.
    target: target class in [0, K), an int or int array [B].
    step_size: ascent step :math:`\eta` > 0.
    num_steps: number of steps T >= 0, a Python int.
    keep_others: weight of the non-target logit penalty, >= 0.
    prior_weight: weight of the Gaussian prior penalty, >= 0.
    objective: 'logit' or 'log_softmax', the target score :math:`s_t`.

  Returns:
    The trajectory [T + 1, B, Z], ``trajectory[0] == z``.

  Raises:
    UserError: unknown `objective`, negative `num_steps`, or a (concrete)
      target outside [0, K).

  References:
    Nguyen, Dosovitskiy, Yosinski, Brox & Clune, `Synthesizing the preferred
    inputs for neurons in neural networks via deep generator networks
    <https://arxiv.org/abs/1605.09304>`_ (arXiv:1605.09304), 2016: gradient
    ascent on a generator's code to raise a classifier's class unit, with an
    L2 penalty on the code.
  """
  if objective not in EDIT_OBJECTIVES:
    raise UserError(f"edit objective must be one of {EDIT_OBJECTIVES}, got {objective!r}")
  if num_steps < 0:
    raise UserError(f"edit num_steps must be >= 0, got {num_steps}")
  z = jnp.asarray(z)
  chex.assert_rank(z, 2)
  chex.assert_type(z, float)
  batch = z.shape[0]
  logits0 = jax.lax.stop_gradient(classifier_fn(generate_fn(z)))
  chex.assert_shape(logits0, (batch, None))
  target = _targets(target, batch, logits0.shape[-1])
  others = 1.0 - jax.nn.one_hot(target, logits0.shape[-1], dtype=logits0.dtype)

  def objective_fn(zz):
    logits = classifier_fn(generate_fn(zz))
    scores = jax.nn.log_softmax(logits) if objective == "log_softmax" else logits
    gain = jnp.take_along_axis(scores, target[:, None], axis=-1)[:, 0]
    drift = jnp.sum(others * (logits - logits0) ** 2, axis=-1)
    prior = 0.5 * jnp.sum(zz**2, axis=-1)
    return jnp.sum(gain - keep_others * drift - prior_weight * prior)

  grad_fn = jax.grad(objective_fn)

  def step(zz, _):
    zz = zz + step_size * grad_fn(zz).astype(zz.dtype)
    return zz, zz

  _, path = jax.lax.scan(step, z, None, length=num_steps)
  return jnp.concatenate([z[None], path], axis=0)


def edit_direction(trajectory: chex.Array) -> jax.Array:
  r"""The average editing step: one direction in z-space for the edited feature.

  .. math::
    d = \frac{1}{B} \sum_i \frac{1}{T} \sum_{n=0}^{T-1} \big(z_i^{(n+1)} - z_i^{(n)}\big)
      = \frac{1}{B} \sum_i \frac{z_i^{(T)} - z_i^{(0)}}{T}

  Each step of `edit_latents` moves along the classifier gradient; averaging
  them over steps and examples gives a reusable direction (the averaged
  gradient steps of the DeepLearning.AI GAN course's controllable-generation
  lecture), to be added to new latents with `apply_direction` without the
  classifier. It is linear, so it only transfers where the feature is roughly
  a linear direction in z.

  Args:
    trajectory: [T + 1, B, Z] from `edit_latents`, T >= 1.

  Returns:
    The direction [Z].
  """
  trajectory = jnp.asarray(trajectory)
  chex.assert_rank(trajectory, 3)
  num_steps = trajectory.shape[0] - 1
  if num_steps < 1:
    raise UserError("edit_direction needs a trajectory of at least one step: "
                    f"[T + 1, B, Z] with T >= 1, got shape {trajectory.shape}")
  return jnp.mean(trajectory[-1] - trajectory[0], axis=0) / num_steps


def apply_direction(z: chex.Array, direction: chex.Array, scale: chex.Numeric) -> jax.Array:
  r"""Moves latents along a direction: :math:`z + s\, d`.

  Args:
    z: latents [B, Z] (or [Z]).
    direction: [Z], e.g. from `edit_direction`.
    scale: s, a scalar, or [S] for a sweep of strengths.

  Returns:
    ``z.shape`` for a scalar scale, [S, *z.shape] for a sweep.
  """
  z, direction = jnp.asarray(z), jnp.asarray(direction)
  chex.assert_shape(direction, (z.shape[-1],))
  return z + _path_weights(scale, z) * direction


def edit_metrics(probs_before: chex.Array, probs_after: chex.Array, z_before: chex.Array,
                 z_after: chex.Array, target: chex.Numeric) -> dict[str, jax.Array]:
  r"""How well an edit worked: success, side effects on other classes, distance moved.

  With :math:`p, p'` the classifier probabilities before and after, :math:`t_i`
  the target of example i and K classes,

  .. math::
    \text{success\_rate} = \tfrac1B \textstyle\sum_i [\arg\max_k p'_{ik} = t_i],\quad
    \text{non\_target\_change} = \tfrac{1}{B(K-1)} \textstyle\sum_i \sum_{k \ne t_i}
      \lvert p'_{ik} - p_{ik} \rvert,

    \text{target\_prob\_gain} = \tfrac1B \textstyle\sum_i (p'_{it_i} - p_{it_i}),\quad
    \text{mean\_dz\_norm} = \tfrac1B \textstyle\sum_i \lVert z'_i - z_i \rVert_2 .

  `non_target_change` is the mean over the B (K - 1) non-target entries; it
  cannot be zero for a successful edit (the probabilities sum to one, so the
  non-target ones lose exactly what the target gains, spread over them), so
  compare it between edits, e.g. with and without ``keep_others``.

  Args:
    probs_before: [B, K] classifier probabilities at the starting latents.
    probs_after: [B, K] at the edited latents.
    z_before: [B, Z] starting latents.
    z_after: [B, Z] edited latents.
    target: an int or int array [B].

  Returns:
    A dict of scalar arrays: success_rate, non_target_change, target_prob_gain,
    mean_dz_norm.
  """
  probs_before, probs_after = jnp.asarray(probs_before), jnp.asarray(probs_after)
  z_before, z_after = jnp.asarray(z_before), jnp.asarray(z_after)
  chex.assert_rank([probs_before, z_before], 2)
  chex.assert_equal_shape([probs_before, probs_after])
  chex.assert_equal_shape([z_before, z_after])
  batch, num_classes = probs_before.shape
  chex.assert_equal(z_before.shape[0], batch)
  target = _targets(target, batch, num_classes)
  is_target = jax.nn.one_hot(target, num_classes, dtype=bool)
  change = jnp.abs(probs_after - probs_before)
  gain = jnp.sum(jnp.where(is_target, probs_after - probs_before, 0.0), axis=-1)
  return {
      "success_rate": jnp.mean(jnp.argmax(probs_after, axis=-1) == target),
      "non_target_change": jnp.sum(jnp.where(is_target, 0.0, change)) / (batch * (num_classes - 1)),
      "target_prob_gain": jnp.mean(gain),
      "mean_dz_norm": jnp.mean(jnp.linalg.norm(z_after - z_before, axis=-1)),
  }


def coordinate_control(generate_fn: GenerateFn, classifier_fn: ClassifierFn, z: chex.Array,
                       dim: int, values: chex.Array) -> jax.Array:
  r"""Measures how well one latent coordinate controls the classifier's output.

  For each value v, set coordinate `dim` of every latent to v and average the
  classifier's class probabilities over the batch:

  .. math::
    P[j, k] = \tfrac1B \textstyle\sum_i \operatorname{softmax}\big(f(G(z_i
      \text{ with } z_{i,\mathrm{dim}} = v_j))\big)_k .

  A coordinate tied to a feature by supervised disentanglement (an extra
  training loss linking z[dim] to a label) should move the matching column of
  P monotonically with v and leave the others flat; an entangled or unused
  coordinate moves several columns or none. This is the measurement, not the
  training term, which belongs in the train step.

  The values are swept with `lax.map`, one generator batch of B at a time.

  Args:
    generate_fn: ``z [B, Z] -> images``, parameters closed over.
    classifier_fn: ``images -> logits [B, K]``, parameters closed over.
    z: base latents [B, Z]; the other coordinates stay as they are.
    dim: the coordinate to sweep, 0 <= dim < Z.
    values: [V] values for z[:, dim].

  Returns:
    Mean class probabilities [V, K].
  """
  z, values = jnp.asarray(z), jnp.asarray(values)
  chex.assert_rank(z, 2)
  chex.assert_rank(values, 1)

  def probs_at(value):
    logits = classifier_fn(generate_fn(z.at[:, dim].set(value.astype(z.dtype))))
    return jnp.mean(jax.nn.softmax(logits, axis=-1), axis=0)

  return jax.lax.map(probs_at, values)
