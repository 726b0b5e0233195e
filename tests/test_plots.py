"""The PNGs explain themselves: titles and labels are rendered text, legends stay clear of data."""

import numpy as np

from gans_jax import plots


def _texts(fig) -> list:
  fig.canvas.draw()
  return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


def test_an_image_grid_shows_its_title_and_row_and_column_labels():
  images = np.zeros((6, 4, 4, 1), np.float32)
  fig = plots.image_grid_figure(images, 3, title="run: edits, step 9",
                                row_labels=["before", "after"], col_labels=["a", "b", "c"])
  texts = _texts(fig)
  for text in ("run: edits, step 9", "before", "after", "a", "b", "c"):
    assert text in texts, (text, texts)
  ax = fig.axes[0]
  # One label per row and column, centred on it (rows at 1 + 5 i + 1.5 for 4-pixel images).
  np.testing.assert_allclose(ax.get_yticks(), [2.5, 7.5])
  np.testing.assert_allclose(ax.get_xticks(), [2.5, 7.5, 12.5])


def test_the_precision_recall_legend_names_every_truncation_and_stays_outside_the_axes():
  rows = [{"truncation": psi, "precision": p, "recall": r}
          for psi, p, r in ((0.5, 0.9, 0.3), (1.5, 0.70, 0.80), (2.0, 0.69, 0.81),
                            (None, 0.69, 0.81))]
  fig = plots.precision_recall_figure(rows, title="wgan_gp, step 7,000")
  texts = _texts(fig)
  for text in ("ψ = 0.5", "ψ = 1.5", "ψ = 2", "no truncation", "wgan_gp, step 7,000"):
    assert text in texts, (text, texts)
  renderer = fig.canvas.get_renderer()
  legend = fig.axes[0].get_legend().get_window_extent(renderer)
  axes = fig.axes[0].get_window_extent(renderer)
  assert legend.x0 >= axes.x1  # beside the axes: it cannot cover the clustered points
