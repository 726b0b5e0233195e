"""PNG outputs a person looks at: sample grids, 2-D scatter plots, metric curves."""

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gans_jax.atomic import atomic_path  # noqa: E402


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
  """[N, H, W, C] images in [-1, 1] -> one [rows*(H+pad)+pad, cols*(W+pad)+pad, C] array in [0, 1]."""
  images = np.clip((np.asarray(images, np.float32) + 1) / 2, 0, 1)
  n, h, w, c = images.shape
  ncols = ncols or int(math.ceil(math.sqrt(n)))
  nrows = int(math.ceil(n / ncols))
  grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), np.float32)
  for i in range(n):
    r, q = divmod(i, ncols)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h,
         pad + q * (w + pad):pad + q * (w + pad) + w] = images[i]
  return grid


def run_name(workdir: str) -> str:
  """The name figure titles give a run: its workdir's last component."""
  return os.path.basename(os.path.normpath(workdir))


def _atomic_savefig(fig, path: str) -> None:
  try:
    with atomic_path(path, ".png") as tmp:
      fig.savefig(tmp, dpi=100, bbox_inches="tight")
  finally:
    plt.close(fig)


def image_grid_figure(images: np.ndarray, ncols: int | None = None, *, title: str = "",
                      row_labels=(), col_labels=(), scale: int = 4):
  """A matplotlib figure of the grid of [-1, 1] images, each pixel `scale`×`scale`, with a
  title and labels for the rows (left) and columns (top); labels may be shorter than the grid."""
  images = np.asarray(images)
  n, h, w = images.shape[:3]
  ncols = ncols or int(math.ceil(math.sqrt(n)))
  grid = image_grid(images, ncols)
  if grid.shape[-1] == 1:
    grid = grid[..., 0]
  dpi = 100
  fig = plt.figure(figsize=(grid.shape[1] * scale / dpi, grid.shape[0] * scale / dpi), dpi=dpi)
  ax = fig.add_axes((0, 0, 1, 1))
  ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1,
            interpolation="nearest")
  ax.set_xticks([1 + (w + 1) * i + w / 2 - 0.5 for i in range(len(col_labels))],
                list(col_labels))
  ax.set_yticks([1 + (h + 1) * i + h / 2 - 0.5 for i in range(len(row_labels))],
                list(row_labels))
  ax.xaxis.tick_top()
  ax.tick_params(length=0, labelsize=8)
  for side in ax.spines.values():
    side.set_visible(False)
  if title:
    ax.set_title(title, fontsize=9, pad=16 if len(col_labels) else 6)
  return fig


def save_image_grid(images: np.ndarray, path: str, ncols: int | None = None, *, title: str = "",
                    row_labels=(), col_labels=(), scale: int = 4) -> None:
  """Writes `image_grid_figure` as a PNG (atomically)."""
  _atomic_savefig(image_grid_figure(images, ncols, title=title, row_labels=row_labels,
                                    col_labels=col_labels, scale=scale), path)


def save_scatter(points: np.ndarray, path: str, reference: np.ndarray | None = None,
                 title: str | None = None) -> None:
  """Scatter plot of 2-D samples (blue) over reference data (grey)."""
  fig, ax = plt.subplots(figsize=(5, 5))
  if reference is not None:
    ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.7", label="data")
  ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", alpha=0.6, label="generated")
  ax.set_aspect("equal")
  ax.legend(loc="upper right", markerscale=4)
  if title:
    ax.set_title(title)
  _atomic_savefig(fig, path)


def save_metric_plot(rows: list, path: str, keys=None, title: str = "") -> None:
  """Curves of the logged scalar metrics against step (one panel per metric)."""
  if not rows:
    return
  keys = keys or [k for k in rows[-1] if k not in ("step", "steps_per_s")]
  fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.2 * len(keys)), sharex=True,
                           squeeze=False)
  steps = [r["step"] for r in rows]
  for ax, key in zip(axes[:, 0], keys):
    ax.plot(steps, [r.get(key, np.nan) for r in rows])
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
  axes[-1, 0].set_xlabel("step")
  if title:
    axes[0, 0].set_title(title, fontsize=10)
  _atomic_savefig(fig, path)


def save_precision_recall(rows: list, path: str, title: str = "") -> None:
  """Writes `precision_recall_figure` as a PNG (atomically)."""
  _atomic_savefig(precision_recall_figure(rows, title), path)


def precision_recall_figure(rows: list, title: str = ""):
  """Precision against recall, one point per truncation psi (fidelity vs diversity); each psi
  has its own marker in a legend beside the axes, so close points keep readable labels."""
  fig, ax = plt.subplots(figsize=(6.2, 4))
  ax.plot([r["recall"] for r in rows], [r["precision"] for r in rows], "-", color="0.7")
  markers = "osD^v<>ph*"
  for i, r in enumerate(rows):
    psi = r["truncation"]
    ax.plot(r["recall"], r["precision"], markers[i % len(markers)], linestyle="none",
            label="no truncation" if psi is None else f"ψ = {psi:g}")
  ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, title="truncation")
  if title:
    ax.set_title(title, fontsize=10)
  ax.set_xlabel("recall (diversity)")
  ax.set_ylabel("precision (fidelity)")
  ax.set_xlim(-0.02, 1.02)
  ax.set_ylim(-0.02, 1.02)
  ax.grid(alpha=0.3)
  return fig
