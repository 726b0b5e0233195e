"""Tests for the controllable-generation functions of gans_jax.latents.

Expected values come from independent math written here: closed forms
(great-circle arcs), float64 NumPy re-implementations of the toy generator and
classifier with central finite differences, and hand-computed small examples
whose arithmetic is in the comments.
"""

from absl.testing import parameterized
import chex
import hypothesis
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import latents
from gans_jax.errors import UserError
from gans_jax.nets.mlp import MLPGenerator

Z, K, D = 4, 3, 6  # latent width, classes, "image" width of the toy model


def _normal(shape, seed):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# --------------------------------------------------------------------------- #
# Toy frozen model: a small random MLP generator and a linear classifier.
# --------------------------------------------------------------------------- #

_GEN = MLPGenerator(out_shape=(D,), hidden=(16,), output_activation="tanh")
# Parameters drawn here (as `init` would lay them out), not by `init`: cheaper than
# an eager Flax init at import, and fixed by the NumPy seeds alone.
_GEN_VARS = {"params": {
    "Dense_0": {"kernel": _normal((Z, 16), 3) / 2, "bias": _normal((16,), 4) / 4},
    "Dense_1": {"kernel": _normal((16, D), 5) / 4, "bias": _normal((D,), 6) / 4},
}}
_CLS_W = _normal((D, K), 1)
_CLS_B = _normal((K,), 2)


def _generate(z):
  return _GEN.apply(_GEN_VARS, z)


def _classify(x):
  return x @ _CLS_W + _CLS_B


def _numpy_logits(z):
  """The same toy model, re-implemented in float64 NumPy from the parameters; z [..., Z]."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), _GEN_VARS["params"])
  h = np.maximum(z @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"], 0.0)
  x = np.tanh(h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"])
  return x @ _CLS_W.astype(np.float64) + _CLS_B.astype(np.float64)


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _numpy_objective(z, z_ref, target, keep_others, prior_weight):
  """J(z) of edit_latents for one example, logit objective, in float64 NumPy."""
  logits, ref = _numpy_logits(z[None])[0], _numpy_logits(z_ref[None])[0]
  others = np.arange(K) != target
  return (logits[target] - keep_others * np.sum((logits - ref)[others] ** 2)
          - prior_weight * 0.5 * np.sum(z**2))


def _numpy_gradient(z, z_ref, target, keep_others, prior_weight, h=1e-6):
  grad = np.zeros_like(z)
  for j in range(z.size):
    e = np.zeros_like(z)
    e[j] = h
    grad[j] = (_numpy_objective(z + e, z_ref, target, keep_others, prior_weight)
               - _numpy_objective(z - e, z_ref, target, keep_others, prior_weight)) / (2 * h)
  return grad


def _non_target_drift(z0, z1, target):
  """Sum over non-target classes of the squared logit change, mean over examples."""
  l0, l1 = _numpy_logits(np.asarray(z0, np.float64)), _numpy_logits(np.asarray(z1, np.float64))
  others = np.arange(K)[None] != np.asarray(target).reshape(-1, 1)
  return float(np.mean(np.sum(np.where(others, (l1 - l0) ** 2, 0.0), axis=1)))


# --------------------------------------------------------------------------- #
# Interpolation and arithmetic.
# --------------------------------------------------------------------------- #

# Fixed shapes so the property test compiles slerp once.
_pairs = hnp.arrays(np.float64, (2, 5), elements=st.floats(-10, 10, allow_nan=False, width=32))
_positions = hnp.arrays(np.float32, (4,), elements=st.floats(0, 1, width=32))
_jit_slerp = jax.jit(latents.slerp)
# Compiled once for every variant: the gradient property is about the math, not the
# dispatch, and op-by-op differentiation is slow to dispatch.
_slerp_norm_grad = jax.jit(jax.grad(lambda a, b, t: jnp.sum(latents.slerp(a, b, t) ** 2),
                                    argnums=(0, 1)))


class InterpolationTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_lerp_endpoints_exact_and_midpoint_is_mean(self):
    z0, z1 = _normal((2, 5), 0), _normal((2, 5), 1)
    path = self.variant(latents.lerp)(z0, z1, jnp.array([0.0, 0.5, 1.0]))
    chex.assert_shape(path, (3, 2, 5))
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[2], z1)
    np.testing.assert_allclose(path[1], (z0.astype(np.float64) + z1) / 2, rtol=1e-6, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_slerp_of_orthonormal_pair_is_the_quarter_circle(self):
    # For e1 ⟂ e2, Omega = pi/2 and sin(Omega) = 1: slerp = cos(t pi/2) e1 + sin(t pi/2) e2.
    e1, e2 = np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]
    t = np.array([0.0, 0.2, 0.5, 0.9])
    path = self.variant(latents.slerp)(e1, e2, t)
    expected = np.cos(t * np.pi / 2)[:, None] * e1 + np.sin(t * np.pi / 2)[:, None] * e2
    np.testing.assert_allclose(path, expected, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_slerp_matches_arccos_formula_for_general_vectors(self):
    z0, z1 = _normal((3, 8), 0), _normal((3, 8), 1)
    t = np.array([0.0, 0.25, 0.6, 1.0])
    path = self.variant(latents.slerp)(z0, z1, t)
    a, b = z0.astype(np.float64), z1.astype(np.float64)
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    omega = np.arccos(cos)[None, :, None]
    tt = t[:, None, None]
    expected = (np.sin((1 - tt) * omega) * a + np.sin(tt * omega) * b) / np.sin(omega)
    np.testing.assert_allclose(path, expected, rtol=1e-5, atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      # z1 = 2 z0: parallel, the arc degenerates to the segment (1 + t) z0.
      ("parallel", 2.0),
      # z1 = -z0: antiparallel, no unique great circle; lerp (1 - 2t) z0.
      ("antiparallel", -1.0),
      # z0 = 0: no angle at all; lerp t z1.
      ("zero_start", 0.0),
  )
  def test_slerp_degenerate_pairs_fall_back_to_lerp_with_finite_gradients(self, factor):
    base = _normal((8,), 3)
    z0, z1 = (base, factor * base) if factor != 0.0 else (0 * base, base)
    t = np.array([0.0, 0.3, 0.5, 1.0], np.float32)
    fn = self.variant(latents.slerp)
    expected = (1 - t)[:, None] * z0.astype(np.float64) + t[:, None] * z1
    np.testing.assert_allclose(fn(z0, z1, t), expected, rtol=1e-6, atol=1e-6)
    chex.assert_tree_all_finite(_slerp_norm_grad(z0, z1, t))

  @hypothesis.settings(max_examples=25, deadline=None)
  @hypothesis.given(pair=_pairs, t=_positions)
  def test_slerp_keeps_unit_norm_and_hits_endpoints(self, pair, t):
    norms = np.linalg.norm(pair, axis=-1)
    hypothesis.assume(np.all(norms > 1e-3))
    u = (pair / norms[:, None]).astype(np.float32)
    # Near-antiparallel pairs have no unique arc; slerp takes lerp there (through 0).
    hypothesis.assume(float(np.dot(u[0].astype(np.float64), u[1])) > -0.999)
    path = np.asarray(_jit_slerp(u[0], u[1], np.concatenate([[0.0, 1.0], t]).astype(np.float32)))
    np.testing.assert_array_equal(path[0], u[0])
    np.testing.assert_array_equal(path[1], u[1])
    np.testing.assert_allclose(np.linalg.norm(path.astype(np.float64), axis=-1), 1.0, atol=2e-6)

  def test_interpolate_spans_both_ends_evenly(self):
    # Shapes as in the tests above, so the op-by-op kernels are already compiled.
    z0, z1 = _normal((3, 8), 0), _normal((3, 8), 1)
    lin = latents.interpolate(z0, z1, 4, method="linear")
    chex.assert_shape(lin, (4, 3, 8))
    np.testing.assert_allclose(lin[1], (2 * z0 + z1) / 3, rtol=1e-6, atol=1e-6)
    sph = latents.interpolate(z0, z1, 4)
    chex.assert_shape(sph, (4, 3, 8))
    np.testing.assert_array_equal(sph[0], z0)
    np.testing.assert_array_equal(sph[-1], z1)
    with pytest.raises(UserError, match="method"):
      latents.interpolate(z0, z1, 5, method="cubic")
    with pytest.raises(UserError, match="num"):
      latents.interpolate(z0, z1, 1)

  @chex.variants(with_jit=True, without_jit=True)
  def test_arithmetic_averages_each_concept_then_adds(self):
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]], np.float32)  # mean [3, 2]
    b = np.array([[0.0, 1.0], [2.0, 1.0]], np.float32)              # mean [1, 1]
    c = np.array([0.5, -1.0], np.float32)                            # used as is
    out = self.variant(latents.latent_arithmetic)(a, b, c)
    np.testing.assert_allclose(out, [3 + 1 - 0.5, 2 + 1 + 1], rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_arithmetic_without_mean_broadcasts_elementwise(self):
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    b = np.array([1.0, 1.0], np.float32)
    c = np.array([[0.0, 2.0]], np.float32)
    out = self.variant(lambda a, b, c: latents.latent_arithmetic(a, b, c, mean=False))(a, b, c)
    np.testing.assert_allclose(out, a + b - c)

  @chex.variants(with_jit=True, without_jit=True)
  def test_apply_direction_scalar_and_sweep(self):
    z = _normal((2, 3), 0)
    d = np.array([1.0, -2.0, 0.5], np.float32)
    fn = self.variant(latents.apply_direction)
    np.testing.assert_allclose(fn(z, d, 2.0), z + 2.0 * d, rtol=1e-6)
    sweep = fn(z, d, jnp.array([-1.0, 0.0, 3.0]))
    chex.assert_shape(sweep, (3, 2, 3))
    np.testing.assert_allclose(sweep[2], z + 3.0 * d, rtol=1e-6)
    np.testing.assert_array_equal(sweep[1], z)


# --------------------------------------------------------------------------- #
# Classifier-gradient editing.
# --------------------------------------------------------------------------- #


def _edit(z, target, **kwargs):
  kwargs.setdefault("step_size", 0.05)
  kwargs.setdefault("num_steps", 20)
  return latents.edit_latents(z, _generate, _classify, target, **kwargs)


@jax.jit
def _edit_compiled(z, target, step_size=0.05, keep_others=0.0, prior_weight=0.0):
  """20 steps, everything but the callables traced: one compilation per latent shape."""
  return latents.edit_latents(z, _generate, _classify, target, step_size=step_size,
                              num_steps=20, keep_others=keep_others, prior_weight=prior_weight)


class EditTest(chex.TestCase):

  def test_edit_steps_are_finite_difference_gradients_in_float64(self):
    """z1 - z0 = eta grad J(z0), z2 - z1 = eta grad J(z1) (the drift term is zero at z0,
    so the second step is the one that checks it), J written in NumPy in the test."""
    target, eta = 2, 0.5
    z = np.random.default_rng(7).normal(size=(3, Z))
    for keep_others, prior_weight in [(0.0, 0.0), (0.7, 0.3)]:
      with jax.enable_x64(True):
        traj = np.asarray(jax.jit(lambda z, k, p: latents.edit_latents(
            z, _generate, _classify, target, step_size=eta, num_steps=2, keep_others=k,
            prior_weight=p))(jnp.asarray(z), keep_others, prior_weight))
      assert traj.dtype == np.float64
      for i in range(3):
        for n in range(2):
          expected = eta * _numpy_gradient(traj[n, i], z[i], target, keep_others, prior_weight)
          np.testing.assert_allclose(traj[n + 1, i] - traj[n, i], expected, rtol=1e-6,
                                     atol=1e-8)

  @chex.variants(with_jit=True, without_jit=True)
  def test_editing_raises_target_logit_and_leaves_generator_bit_identical(self):
    snapshot = jax.tree.map(np.array, _GEN_VARS)
    z = _normal((5, Z), 11)
    target = jnp.array([0, 1, 2, 0, 1], jnp.int32)
    traj = self.variant(lambda z, t: _edit(z, t, step_size=0.05, num_steps=15))(z, target)
    chex.assert_shape(traj, (16, 5, Z))
    np.testing.assert_array_equal(traj[0], z)
    logits = _numpy_logits(np.asarray(traj, np.float64))  # [T + 1, B, K]
    target_logit = logits[:, np.arange(5), np.asarray(target)]  # [T + 1, B]
    # Small steps on a smooth objective: every step of every example goes up.
    assert np.all(np.diff(target_logit, axis=0) > 0), target_logit
    assert np.all(target_logit[-1] > target_logit[0] + 0.05), target_logit
    chex.assert_trees_all_equal(_GEN_VARS, snapshot)

  def test_keep_others_lowers_non_target_change_on_same_latents(self):
    z = _normal((16, Z), 12)
    target = 1
    free = _edit_compiled(z, target)
    kept = _edit_compiled(z, target, keep_others=2.0)
    drift_free = _non_target_drift(z, free[-1], target)
    drift_kept = _non_target_drift(z, kept[-1], target)
    assert drift_kept < 0.5 * drift_free, (drift_kept, drift_free)
    # It still edits: the target logit rises under the penalty.
    gain = (_numpy_logits(np.asarray(kept[-1], np.float64)) - _numpy_logits(z))[:, target]
    assert np.mean(gain) > 0, gain

  def test_prior_weight_lowers_final_latent_norm(self):
    z = 1.5 * _normal((16, Z), 13)
    free = _edit_compiled(z, 0)
    prior = _edit_compiled(z, 0, prior_weight=1.0)
    norms = lambda t: np.linalg.norm(np.asarray(t[-1]), axis=-1)
    assert np.mean(norms(prior)) < np.mean(norms(free)) - 0.1, (norms(prior), norms(free))

  def test_log_softmax_objective_raises_target_probability(self):
    z = _normal((8, Z), 14)
    traj = _edit(z, 2, objective="log_softmax", step_size=0.2, num_steps=30)
    p0 = _softmax(_numpy_logits(z.astype(np.float64)))[:, 2]
    p1 = _softmax(_numpy_logits(np.asarray(traj[-1], np.float64)))[:, 2]
    assert np.all(p1 > p0), (p0, p1)

  def test_traced_step_size_and_weights_under_jit_match_eager(self):
    z = _normal((16, Z), 15)
    np.testing.assert_allclose(
        _edit_compiled(z, 0, 0.05, 0.1, 0.2),
        _edit(z, 0, step_size=0.05, num_steps=20, keep_others=0.1, prior_weight=0.2),
        rtol=1e-5, atol=1e-5)

  def test_zero_steps_and_bad_arguments(self):
    z = _normal((2, Z), 16)
    traj = _edit(z, 0, num_steps=0)
    chex.assert_shape(traj, (1, 2, Z))
    np.testing.assert_array_equal(traj[0], z)
    with pytest.raises(UserError, match="objective"):
      _edit(z, 0, objective="prob")
    with pytest.raises(UserError, match="num_steps"):
      _edit(z, 0, num_steps=-1)
    with pytest.raises(UserError, match="target"):
      _edit(z, jnp.array([0, K]))

  @chex.variants(with_jit=True, without_jit=True)
  def test_edit_direction_is_mean_per_step_displacement(self):
    # Example 0 goes [0, 0] -> [2, 4], example 1 goes [1, 1] -> [1, -1] in T = 2 steps;
    # the middle point does not matter. Per-step: [1, 2] and [0, -1]; mean [0.5, 0.5].
    traj = np.array([[[0, 0], [1, 1]],
                     [[9, -9], [7, 7]],
                     [[2, 4], [1, -1]]], np.float32)
    np.testing.assert_allclose(self.variant(latents.edit_direction)(traj), [0.5, 0.5])

  def test_edit_direction_needs_a_step(self):
    with pytest.raises(UserError, match="at least one step"):
      latents.edit_direction(np.zeros((1, 2, 3), np.float32))

  @chex.variants(with_jit=True, without_jit=True)
  def test_edit_metrics_on_hand_made_probabilities(self):
    before = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], np.float32)
    after = np.array([[0.7, 0.2, 0.1], [0.5, 0.1, 0.4]], np.float32)
    z0 = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    z1 = np.array([[3.0, 4.0], [1.0, 1.0]], np.float32)
    m = self.variant(latents.edit_metrics)(before, after, z0, z1, jnp.array([0, 2]))
    # argmax after = [0, 0] vs targets [0, 2]: one of two.
    np.testing.assert_allclose(m["success_rate"], 0.5)
    # Non-target |dp|: example 0 classes 1, 2: 0.3, 0.2; example 1 classes 0, 1: 0.1, 0.2.
    # Mean of the four: 0.8 / 4.
    np.testing.assert_allclose(m["non_target_change"], 0.2, rtol=1e-6)
    # Target gains 0.7 - 0.2 = 0.5 and 0.4 - 0.1 = 0.3.
    np.testing.assert_allclose(m["target_prob_gain"], 0.4, rtol=1e-6)
    # |dz| = 5 (3-4-5) and 0.
    np.testing.assert_allclose(m["mean_dz_norm"], 2.5, rtol=1e-6)

  def test_edit_metrics_accepts_a_scalar_target(self):
    before = np.array([[0.5, 0.5], [0.9, 0.1]], np.float32)
    after = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)
    z = np.zeros((2, 1), np.float32)
    m = latents.edit_metrics(before, after, z, z, 1)
    np.testing.assert_allclose(m["success_rate"], 0.5)
    np.testing.assert_allclose(m["non_target_change"], (0.3 + 0.3) / 2, rtol=1e-6)
    np.testing.assert_allclose(m["mean_dz_norm"], 0.0)


# --------------------------------------------------------------------------- #
# Coordinate control.
# --------------------------------------------------------------------------- #


class CoordinateControlTest(chex.TestCase):
  """generate = identity, logits = [4 z1, -4 z1, 0]: only coordinate 1 controls."""

  @staticmethod
  def _classifier(x):
    return jnp.stack([4 * x[:, 1], -4 * x[:, 1], jnp.zeros_like(x[:, 1])], axis=-1)

  @chex.variants(with_jit=True, without_jit=True)
  def test_controlling_coordinate_moves_probabilities_as_softmax_of_value(self):
    z = _normal((5, 3), 0)
    values = np.array([-1.0, 0.0, 0.5], np.float32)
    probs = self.variant(lambda z, v: latents.coordinate_control(
        lambda x: x, self._classifier, z, 1, v))(z, values)
    chex.assert_shape(probs, (3, 3))
    expected = _softmax(np.stack([4 * values, -4 * values, 0 * values], -1).astype(np.float64))
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_unused_coordinate_gives_flat_rows(self):
    z = _normal((5, 3), 1)
    probs = self.variant(lambda z: latents.coordinate_control(
        lambda x: x, self._classifier, z, 0, jnp.array([-2.0, 0.0, 2.0])))(z)
    zz = z[:, 1].astype(np.float64)
    expected = _softmax(np.stack([4 * zz, -4 * zz, 0 * zz], -1)).mean(0)
    np.testing.assert_allclose(probs, np.broadcast_to(expected, (3, 3)), rtol=1e-5, atol=1e-6)
