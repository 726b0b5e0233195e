"""Controllable generation from a trained generator: `--mode=edit`.

  python launch.py --config experiments/cgan_digits.py --mode=edit --config.edit.target=7

`edit(config, workdir)` restores the latest checkpoint and the dataset's domain
classifier, and with the generator frozen:

1. Classifier-gradient editing (`latents.edit_latents`; Nguyen et al. 2016,
   arXiv:1605.09304): `edit.num_samples` latents from N(0, I) (a fixed key
   from `config.seed`), minus those the classifier already calls `edit.target`,
   are moved by `edit.num_steps` gradient-ascent steps on the target score
   through G. `edit.json` gets `latents.edit_metrics`: success_rate (the
   classifier says target after editing), non_target_change (mean |change| of
   the non-target probabilities), target_prob_gain and mean_dz_norm
   (mean ||Delta z||), with the options used; and non_target_logit_change,
   the mean |change| of the non-target logits, which `edit.keep_others`
   penalises (non_target_change cannot show that penalty: the source class
   must lose the probability the target gains, so a full edit moves it by
   about 1 / (K - 1) whatever the side effects). Images: `edit_before_after.png`
   (rows alternate before / after, same column = same latent) and
   `edit_trajectory.png` (one latent per row, evenly spaced steps along its
   path, left to right).
2. The direction (`latents.edit_direction`, the average step, [D]) is saved
   as `edit_direction.npy`, and its transfer is measured: fresh latents (a new
   key, same filtering) are moved to ``z + s d`` (`latents.apply_direction`)
   for each s in `edit.direction_scales`, without the classifier, and scored
   the same way (`transfer_success_rate_s<s>`, ... in edit.json;
   `direction_transfer.png`: one latent per row, s = 0 then each scale). With
   `edit.direction_path` set, that saved file is the direction measured
   instead of this run's (which is still saved): how a direction found once
   carries over to new latents, a new seed or a new target run.
3. Paths: `interpolation_lerp.png` and `interpolation_slerp.png` (one random
   pair per row, `latents.interpolate`; White 2016, arXiv:1609.04468) and
   `latent_arithmetic.png` (per row a, b, c and a + b - c,
   `latents.latent_arithmetic`; Radford et al. 2016, arXiv:1511.06434).

What is edited (the "latent" D above) for a class-conditional generator
G(z, y): the starting samples request labels drawn uniformly from the
non-target classes, and `edit.space` chooses

* 'z' (default): z alone, the requested label held fixed. This measures how far
  z by itself can override the class input, i.e. how entangled class is with z.
* 'input': the whole generator input [z, c], where c in R^K is the class
  vector, starting at onehot(y) and moved continuously with z (the generator
  takes a float [B, K] class vector as its already-encoded class input). The
  gradient may then simply turn c towards the target; `mean_dclass_norm` and
  `mean_target_class_input` in edit.json show how much of the edit did so.

For an unconditional generator both spaces are z (edit.json records the
space actually used). `prior_weight` penalises 1/2 ||D||^2 of the whole
edited vector.
"""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gans_jax import latents, plots
from gans_jax.batching import batched
from gans_jax.errors import UserError
from gans_jax.atomic import atomic_path, write_json
from gans_jax.evaluate import restore_latest
from gans_jax.families.base import load_config_dataset, step_of
from gans_jax.families.classifier import classifier_dir, classifier_logits, load_classifier
from gans_jax.summary import progress_printer

DIRECTION_FILE = "edit_direction.npy"
_KEY_SALT = 0xED17  # edit mode's keys are folded from config.seed with this constant
_SHOW = 8           # examples (columns or rows) in the figures


class InputSpace:
  """The edited vector D of a generator: z, or [z, class vector] (see the module docstring).

  `start(z, labels)` builds D [B, dim] from latents and int labels (None for
  an unconditional generator); `generate(state, d, labels)` renders it.
  """

  def __init__(self, sampler, space: str):
    """`sampler`: a family with a sampler (``generate``, `z_dim`, `num_classes`)."""
    self.sampler = sampler
    self.conditional = sampler.num_classes > 0
    self.space = space if self.conditional else "z"
    self.dim = sampler.z_dim + (sampler.num_classes if self.space == "input" else 0)

  def start(self, z: jax.Array, labels: jax.Array | None) -> jax.Array:
    if self.space == "input":
      return jnp.concatenate([z, jax.nn.one_hot(labels, self.sampler.num_classes,
                                                dtype=z.dtype)], axis=-1)
    return z

  def generate(self, state, d: jax.Array, labels: jax.Array | None) -> jax.Array:
    z_dim = self.sampler.z_dim
    if self.space == "input":
      # The float class vector is the generator's encoded class input.
      return self.sampler.generate(state, d[:, :z_dim], d[:, z_dim:])
    return self.sampler.generate(state, d, labels if self.conditional else None)


def _fractions(steps: int) -> list:
  """Column labels t = 0 ... 1 of an interpolation strip."""
  return [f"t={i / max(steps - 1, 1):.2g}" for i in range(steps)]


def _scale_key(s: float) -> str:
  return f"s{s:g}"


class _Editor:
  """The frozen generator and domain classifier as the compiled functions editing uses.

  Points d are rows of the edited space (`InputSpace`); labels are the requested classes of a
  conditional generator (None otherwise). Every function runs in batches of `edit.batch_size`.
  """

  def __init__(self, config, family, state, space: InputSpace, logits_fn, target: int,
               workdir: str):
    e = config.edit
    self.family, self.state, self.space, self.target = family, state, space, target
    self.batch = int(e.batch_size)
    # Every figure's title starts with the run and the checkpoint it shows.
    self.run_name = f"{plots.run_name(workdir)}, step {step_of(state):,}"
    self.num_steps = int(e.num_steps)

    @jax.jit
    def look(state, d, labels):
      images = space.generate(state, d, labels)
      logits = logits_fn(images)
      return images, logits, jax.nn.softmax(logits, axis=-1)

    @jax.jit
    def ascend(state, d, labels):
      path = latents.edit_latents(
          d, lambda dd: space.generate(state, dd, labels), logits_fn, target,
          step_size=float(e.step_size), num_steps=self.num_steps,
          keep_others=float(e.keep_others), prior_weight=float(e.prior_weight),
          objective=e.objective)
      return path.swapaxes(0, 1)  # batch first, for batched

    self._look, self._ascend = look, ascend
    self._draw = jax.jit(self._draw_points, static_argnums=(1, 2))
    self.metrics = jax.jit(latents.edit_metrics, static_argnums=4)

  def _draw_points(self, key, num, any_label):
    """num points of the edited space, with labels: non-target ones (uniform over the other
    K - 1 classes) to edit, or any class; None for an unconditional generator."""
    k_z, k_y = jax.random.split(key)
    z = latents.sample_latents(k_z, num, self.family.z_dim)
    if not self.space.conditional:
      return z, None
    k = self.family.num_classes
    if any_label:
      labels = jax.random.randint(k_y, (num,), 0, k)
    else:
      r = jax.random.randint(k_y, (num,), 0, k - 1)
      labels = r + (r >= self.target)
    labels = labels.astype(jnp.int32)
    return self.space.start(z, labels), labels

  def draw(self, key, num: int, any_label: bool):
    return jax.tree.map(np.asarray, self._draw(key, num, any_label))

  def classify(self, d, labels):
    """(images, logits, probabilities) of points d."""
    return batched(lambda dd, yy: self._look(self.state, dd, yy), self.batch, d, labels)

  def render(self, d, labels=None):
    return self.classify(d, labels)[0]  # one compiled function serves pictures and scores

  def ascend(self, d, labels):
    """[B, T + 1, D]: each point's path of classifier-gradient steps towards the target."""
    return batched(lambda dd, yy: self._ascend(self.state, dd, yy), self.batch, d, labels)

  def starting_points(self, key, num: int):
    """num points (and requested non-target labels) minus those already of class target:
    (d, labels, logits, probabilities, how many were dropped)."""
    d, labels = self.draw(key, num, False)
    _, logits, probs = self.classify(d, labels)
    keep = np.argmax(probs, axis=-1) != self.target
    if not keep.any():
      raise UserError(f"edit.num_samples: all {num} samples are already classified as "
                      f"{self.target}; sample more, or pick another edit.target")
    return (d[keep], None if labels is None else labels[keep], logits[keep], probs[keep],
            int(num - keep.sum()))

  def rows(self, points, labels, ncols: int):
    """[n, ncols, D] points (labels [n] held along each row) -> images, row-major."""
    n = points.shape[0]
    flat = points.reshape(n * ncols, -1)
    return self.render(flat, None if labels is None else np.repeat(labels, ncols))


def _checked_target(config, dataset) -> int:
  k = int(dataset.num_classes or 0)
  target = int(config.edit.target)
  if not 0 <= target < k:
    raise UserError(f"edit.target: {target} is not a class of {config.dataset.name!r}"
                    + (f"; use a class index in [0, {k})" if k else ", which has no labels"))
  return target


def _domain_classifier(config, num_classes: int):
  classifier = load_classifier(classifier_dir(config), config.dataset.name,
                               resolution=config.dataset.resolution)
  if classifier.num_classes != num_classes:
    raise UserError(f"eval.classifier_dir: its classifier has {classifier.num_classes} classes, "
                    f"{config.dataset.name!r} has {num_classes}; retrain it on this dataset")
  return classifier_logits(classifier)


def edit(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """--mode=edit: edits, measures and draws; writes edit.json and PNGs; returns the results."""
  log = progress_printer("edit")
  log(f"restoring the latest checkpoint of {workdir}")
  dataset, family, state = restore_latest(config, workdir)
  if dataset.kind != "image":
    raise UserError(f"dataset.name: --mode=edit needs an image dataset with a domain "
                    f"classifier; {config.dataset.name!r} holds {dataset.kind}")
  e = config.edit
  # Options are checked before the classifier is loaded, so mistakes fail at once.
  target = _checked_target(config, dataset)
  space = InputSpace(family, e.space)
  loaded_direction = _load_direction(e.direction_path, space.dim) if e.direction_path else None
  logits_fn = _domain_classifier(config, int(dataset.num_classes))
  # Real-image edits read the test split: opened now, so a dataset without one fails before any work.
  real_test = (load_config_dataset(config, split="test")
               if family.has_encoder and not space.conditional else None)
  editor = _Editor(config, family, state, space, logits_fn, target, workdir)
  root = jax.random.fold_in(jax.random.PRNGKey(config.seed), _KEY_SALT)
  k_edit, k_transfer, k_interp, k_arith = jax.random.split(root, 4)

  log(f"classifier-gradient editing of {int(e.num_samples)} samples towards class {target}, "
      f"{int(e.num_steps)} steps")
  results, path = _classifier_gradient_edit(editor, config, k_edit, workdir)
  log(f"the direction on {int(e.num_samples)} new samples at scales "
      f"{', '.join(f'{s:g}' for s in e.direction_scales)}")
  results.update(_direction_transfer(editor, config, path, loaded_direction, k_transfer, workdir))
  log("interpolations and latent arithmetic")
  _latent_paths(editor, config, k_interp, k_arith, workdir)
  if real_test is not None:
    log("editing real test images through the encoder")
    results.update(_edit_real_images(config, real_test, workdir, editor))
  write_json(os.path.join(workdir, "edit.json"), results)
  width = max(map(len, results)) + 2
  for name, value in results.items():
    print(f"{name:<{width}}{value:>12.4f}" if isinstance(value, float) else
          f"{name:<{width}}{value!s:>12}")
  return results


def _classifier_gradient_edit(editor: _Editor, config, key, workdir: str) -> tuple:
  """Section 1 of the module docstring: (results, the paths [B, T + 1, D])."""
  e, target, space = config.edit, editor.target, editor.space
  d0, labels, logits0, probs0, dropped = editor.starting_points(key, int(e.num_samples))
  path = editor.ascend(d0, labels)
  d_final = path[:, -1]
  _, logits_after, probs_after = editor.classify(d_final, labels)
  scores = editor.metrics(probs0, probs_after, d0, d_final, target)
  results = {"step": step_of(editor.state), "target": target, "space": space.space,
             "objective": e.objective, "step_size": float(e.step_size),
             "num_steps": editor.num_steps, "keep_others": float(e.keep_others),
             "prior_weight": float(e.prior_weight), "num_samples": int(e.num_samples),
             "num_dropped": dropped, "num_edited": int(d0.shape[0])}
  results.update({name: float(v) for name, v in scores.items()})
  # The quantity keep_others penalises: mean |change| of the non-target logits
  # (probabilities cannot show it: the source class must lose what the target gains).
  others = np.arange(logits0.shape[-1]) != target
  results["non_target_logit_change"] = float(np.mean(np.abs(logits_after - logits0)[:, others]))
  if space.space == "input":
    z_dim, delta = editor.family.z_dim, d_final - d0
    results["mean_dlatent_norm"] = float(np.mean(np.linalg.norm(delta[:, :z_dim], axis=-1)))
    results["mean_dclass_norm"] = float(np.mean(np.linalg.norm(delta[:, z_dim:], axis=-1)))
    results["mean_target_class_input"] = float(np.mean(d_final[:, z_dim + target]))
  _draw_edits(editor, d0, d_final, path, labels, workdir)
  return results, path


def _draw_edits(editor: _Editor, d0, d_final, path, labels, workdir: str) -> None:
  """edit_before_after.png (rows alternate before / after) and edit_trajectory.png."""
  show = min(_SHOW, d0.shape[0])
  nrows = max(1, min(4, d0.shape[0] // show))
  before_after = np.stack([d0[:nrows * show], d_final[:nrows * show]])  # [2, r * show, D]
  before_after = before_after.reshape(2, nrows, show, -1).swapaxes(0, 1)  # [r, 2, show, D]
  ba_labels = None if labels is None else np.tile(labels[:nrows * show].reshape(nrows, 1, show),
                                                  (1, 2, 1)).reshape(-1)
  plots.save_image_grid(editor.render(before_after.reshape(-1, editor.space.dim), ba_labels),
                        os.path.join(workdir, "edit_before_after.png"), ncols=show,
                        title=f"{editor.run_name}: samples edited towards class {editor.target}"
                              " (same column = same latent)",
                        row_labels=["before", "after"] * nrows)
  cols = np.unique(np.round(np.linspace(0, editor.num_steps, _SHOW)).astype(int))
  plots.save_image_grid(editor.rows(path[:show, cols], None if labels is None else labels[:show],
                                    len(cols)),
                        os.path.join(workdir, "edit_trajectory.png"), ncols=len(cols),
                        title=f"{editor.run_name}: edit paths towards class {editor.target}, "
                              "one latent per row", col_labels=[f"step {c}" for c in cols])


def _direction_transfer(editor: _Editor, config, path, loaded_direction, key,
                        workdir: str) -> dict:
  """Section 2: saves this run's direction, measures (it or the loaded one) on new latents."""
  e, target = config.edit, editor.target
  scales = [float(s) for s in e.direction_scales]
  direction = np.asarray(latents.edit_direction(path.swapaxes(0, 1)))
  with atomic_path(os.path.join(workdir, DIRECTION_FILE), ".npy") as tmp:
    np.save(tmp, direction)
  results = {"direction_source": "this run"}
  if loaded_direction is not None:
    direction = loaded_direction
    results["direction_source"] = e.direction_path
  results["direction_norm"] = float(np.linalg.norm(direction))
  new_d, new_labels, _, new_probs, _ = editor.starting_points(key, int(e.num_samples))
  moved = np.asarray(latents.apply_direction(new_d, direction, np.asarray(scales, np.float32)))
  for s, d_s in zip(scales, moved):
    probs_s = editor.classify(d_s, new_labels)[2]
    m = editor.metrics(new_probs, probs_s, new_d, d_s, target)
    for name in ("success_rate", "non_target_change", "mean_dz_norm"):
      results[f"transfer_{name}_{_scale_key(s)}"] = float(m[name])
  show = min(_SHOW, new_d.shape[0])
  sweep = np.concatenate([new_d[None, :show], moved[:, :show]]).swapaxes(0, 1)
  plots.save_image_grid(editor.rows(sweep, None if new_labels is None else new_labels[:show],
                                    len(scales) + 1),
                        os.path.join(workdir, "direction_transfer.png"), ncols=len(scales) + 1,
                        title=f"{editor.run_name}: new latents z moved to z + s d along the "
                              f"class-{target} direction", col_labels=["s = 0"] + [
                                  f"s = {s:g}" for s in scales])
  return results


def _latent_paths(editor: _Editor, config, k_interp, k_arith, workdir: str) -> None:
  """Section 3: interpolation strips and latent arithmetic; in 'z' space of a conditional
  generator each row holds its first point's (random) label."""
  e = config.edit
  n, steps = int(e.num_interpolations), int(e.interpolation_steps)
  ends, end_labels = editor.draw(k_interp, 2 * n, True)
  row_labels = None if end_labels is None else end_labels[:n]
  for method, name in (("linear", "lerp"), ("slerp", "slerp")):
    strip = np.asarray(_interpolate(ends[:n], ends[n:], num=steps, method=method)).swapaxes(0, 1)
    plots.save_image_grid(editor.rows(strip, row_labels, steps),
                          os.path.join(workdir, f"interpolation_{name}.png"), ncols=steps,
                          title=f"{editor.run_name}: {method} interpolation between two random "
                                "latents per row", col_labels=_fractions(steps))
  abc, abc_labels = editor.draw(k_arith, 3 * n, True)
  a, b, c = abc[:n], abc[n:2 * n], abc[2 * n:]
  table = np.stack([a, b, c, np.asarray(latents.latent_arithmetic(a, b, c, mean=False))], axis=1)
  plots.save_image_grid(editor.rows(table, None if abc_labels is None else abc_labels[:n], 4),
                        os.path.join(workdir, "latent_arithmetic.png"), ncols=4,
                        title=f"{editor.run_name}: latent arithmetic",
                        col_labels=["a", "b", "c", "a + b - c"])


_interpolate = jax.jit(latents.interpolate, static_argnames=("num", "method"))


def _edit_real_images(config, test_dataset, workdir: str, editor: _Editor) -> dict:
  """Editing that starts from real images (families with an encoder, e.g. the VAE).

  Test images whose label is not `target` are encoded (posterior mean),
  edited in z by the same classifier-gradient ascent, and decoded.
  ``real_image_success_rate``: the fraction the classifier then calls
  `target`; ``real_image_recon_accuracy``: how often the classifier still
  reads the true label in the unedited reconstruction (how faithful the
  starting point is). Writes `edit_real_before_after.png` (rows: the real
  images, their reconstructions, the edited decodings) and
  `interpolation_real.png` (encode two test images, slerp in z, decode).
  """
  e, target, render = config.edit, editor.target, editor.render
  test = test_dataset.all()
  keep = np.flatnonzero(test["y"] != target)[:int(e.num_samples)]
  x, y = test["x"][keep], test["y"][keep]
  encode = jax.jit(lambda im: editor.family.encode(editor.state, im)[0])
  z0 = batched(encode, editor.batch, x)
  probs0 = editor.classify(z0, None)[2]
  z1 = editor.ascend(z0, None)[:, -1]
  probs1 = editor.classify(z1, None)[2]
  out = {"real_image_num_edited": int(len(keep)),
         "real_image_success_rate": float(np.mean(np.argmax(probs1, -1) == target)),
         "real_image_recon_accuracy": float(np.mean(np.argmax(probs0, -1) == y))}
  show = min(_SHOW, len(keep))
  grid = np.concatenate([x[:show], render(z0[:show]), render(z1[:show])])
  plots.save_image_grid(grid, os.path.join(workdir, "edit_real_before_after.png"), ncols=show,
                        title=f"{editor.run_name}: test images edited towards class {target}",
                        row_labels=["real", "recon.", "edited"])
  n, steps = min(int(e.num_interpolations), len(keep) // 2), int(e.interpolation_steps)
  if n:
    strip = np.asarray(_interpolate(z0[:n], z0[n:2 * n], num=steps, method="slerp"))
    plots.save_image_grid(editor.rows(strip.swapaxes(0, 1), None, steps),
                          os.path.join(workdir, "interpolation_real.png"), ncols=steps,
                          title=f"{editor.run_name}: slerp between two encoded test images "
                                "per row", col_labels=_fractions(steps))
  return out


def _load_direction(path: str, dim: int) -> np.ndarray:
  """The [dim] float32 direction saved in the .npy file `path`; UserError naming the problem."""
  try:
    direction = np.load(path)  # allow_pickle=False: a file can hold arrays only
  except (OSError, ValueError, EOFError) as err:
    raise UserError(f"edit.direction_path: cannot read {path} ({type(err).__name__}); give an "
                    f"{DIRECTION_FILE} written by --mode=edit") from err
  if not isinstance(direction, np.ndarray):  # an .npz archive: a dict of arrays
    direction.close()
    raise UserError(f"edit.direction_path: {path} is an .npz archive, not one array; give the "
                    f"{DIRECTION_FILE} (.npy) written by --mode=edit")
  if direction.shape != (dim,) or not np.issubdtype(direction.dtype, np.number):
    raise UserError(f"edit.direction_path: {path} holds shape {direction.shape} "
                    f"({direction.dtype}), but this generator's edit space has {dim} "
                    "dimensions; use a direction saved with the same model and edit.space")
  if not np.all(np.isfinite(direction)):
    raise UserError(f"edit.direction_path: {path} holds non-finite values; save the direction "
                    "again with --mode=edit")
  return direction.astype(np.float32)


__all__ = ["edit", "InputSpace", "DIRECTION_FILE"]
