"""results.md, the sample-grid thumbnails and their mosaic, generated from the zoo's records.

Every number in results.md is computed here from zoo.json (benchmarks/zoo.py); nothing is typed
by hand. Per experiment: mean ± standard deviation over its seeds (ddof 1; one seed: the value)
and the worst seed, in the direction its goal counts as worse.
"""

import glob
import os

import numpy as np
from PIL import Image, ImageDraw

from gans_jax.atomic import write_text
from zoo_goals import ENTRIES, ENTRY, missed_goals

THUMB_WIDTH = 240
IMAGES = os.path.join("images", "zoo")
# The family's own metrics shown beside FID and precision/recall, in this order when present.
OWN_METRICS = ("test_accuracy", "supervised_baseline_accuracy", "semi_supervised_gain",
               "conditional_accuracy", "edit_success", "elbo", "log_likelihood_iw",
               # the prior the samples were drawn from: 0 N(0, I), K a fitted K-Gaussian mixture
               "latent_prior_components",
               "label_preservation_ab", "label_preservation_ba", "translation_ratio_ab",
               "translation_ratio_ba", "modes", "high_quality", "reverse_kl")
# Metrics where a larger value is worse (the worst seed is the largest).
LOWER_IS_BETTER = {"fid", "fid_ratio", "train_seconds", "reverse_kl", "translation_ratio_ab",
                   "translation_ratio_ba"}


def summarize(values: list, metric: str) -> dict:
  """mean, std (ddof 1; 0 for one value), worst, n of one metric over seeds."""
  arr = np.asarray(values, dtype=np.float64)
  worst = arr.max() if metric in LOWER_IS_BETTER else arr.min()
  std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
  return {"mean": float(arr.mean()), "std": std, "worst": float(worst), "n": len(arr)}


def _digits(metric: str) -> int:
  if metric in ("train_seconds", "latent_prior_components"):
    return 0
  return 1 if metric in ("fid", "elbo", "log_likelihood_iw") else 3


def cell(rows: list, metric: str) -> str:
  """'mean ± std (worst w)' over the rows that have `metric`; '' when none has it."""
  values = [r[metric] for r in rows if metric in r]
  if not values:
    return ""
  s, d = summarize(values, metric), _digits(metric)
  if s["n"] == 1:
    return f"{s['mean']:.{d}f}"
  return f"{s['mean']:.{d}f} ± {s['std']:.{d}f} (worst {s['worst']:.{d}f})"


def goal_status(rows: list, records: list) -> str:
  """'met', 'missed (k of n goals·seeds)' or 'no goal' for one experiment's rows."""
  entry = ENTRY.get(rows[0]["experiment"])
  if entry is None or not entry.goals:
    return "no goal"
  checks = [g.check(r, records) for r in rows for g in entry.goals]
  missed, unknown = checks.count(False), checks.count(None)
  if missed:
    return f"**missed** ({missed} of {len(checks)} checks)"
  return "met" + (f" ({unknown} not measurable)" if unknown else "")


def latest_grid(workdir: str) -> str | None:
  """The samples `--mode=eval` scored (its eval_samples.png), or, for a run evaluated before
  eval wrote that grid, the plain sample grid of its last training step (not recon_/class_)."""
  scored = os.path.join(workdir, "eval_samples.png")
  if os.path.exists(scored):
    return scored
  paths = sorted(glob.glob(os.path.join(workdir, "samples", "step_*.png")))
  return paths[-1] if paths else None


def save_thumbnail(src: str, dst: str) -> None:
  with Image.open(src) as image:
    image = image.convert("RGB")
    height = round(image.height * THUMB_WIDTH / image.width)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    # 64 colours: the grids are grey images and plain plots, and the docs stay small.
    image.resize((THUMB_WIDTH, height), Image.LANCZOS).quantize(64).save(dst, optimize=True)


def save_mosaic(thumbs: list, dst: str, columns: int = 4) -> None:
  """The thumbnails (name, path) in a grid, each under its experiment's name."""
  images = [(name, Image.open(path).convert("RGB")) for name, path in thumbs]
  cell_h = max(im.height for _, im in images) + 18
  rows = -(-len(images) // columns)
  mosaic = Image.new("RGB", (columns * THUMB_WIDTH, rows * cell_h), "white")
  draw = ImageDraw.Draw(mosaic)
  for i, (name, im) in enumerate(images):
    x, y = (i % columns) * THUMB_WIDTH, (i // columns) * cell_h
    draw.text((x + 4, y + 2), name, fill="black")
    mosaic.paste(im, (x, y + 18))
  mosaic.quantize(64).save(dst, optimize=True)


def _thumbnails(by_name: dict, out: str, runs_root: str) -> dict:
  """name -> thumbnail path relative to `out`, made from seed 0's run where it exists here."""
  thumbs = {}
  for name, rows in by_name.items():
    rel = os.path.join(IMAGES, f"{name}.png")
    seed = min(r["seed"] for r in rows)
    src = latest_grid(os.path.join(runs_root, "runs", "zoo", name, f"seed_{seed}"))
    if src is not None:
      save_thumbnail(src, os.path.join(out, rel))
    if os.path.exists(os.path.join(out, rel)):
      thumbs[name] = rel
  return thumbs


def _summary_table(by_name: dict, records: list) -> list:
  lines = ["| experiment | family | paper | steps | seeds | training (s) | FID | FID / floor "
           "| precision | recall | goal |", "|---|---|---|---|---|---|---|---|---|---|---|"]
  for name, rows in by_name.items():
    entry = ENTRY.get(name)
    lines.append(f"| [{name}](#{name}) | {rows[0]['family']} | {entry.paper if entry else ''} "
                 f"| {rows[0]['steps']:,} | {len(rows)} | {cell(rows, 'train_seconds')} "
                 f"| {cell(rows, 'fid')} | {cell(rows, 'fid_ratio')} | {cell(rows, 'precision')} "
                 f"| {cell(rows, 'recall')} | {goal_status(rows, records)} |")
  return lines


def _section(name: str, rows: list, records: list, thumb: str | None) -> list:
  entry = ENTRY.get(name)
  lines = [f"### {name}", "",
           f"`python launch.py --config experiments/{name}.py` — {entry.paper if entry else ''}; "
           f"{rows[0]['steps']:,} steps, seeds {', '.join(str(r['seed']) for r in rows)}.", ""]
  metrics = [m for m in ("train_seconds", "fid", "fid_train_test", "fid_ratio", "precision",
                         "recall", *OWN_METRICS) if any(m in r for r in rows)]
  lines += ["| metric | " + " | ".join(f"seed {r['seed']}" for r in rows) + " | summary |",
            "|---|" + "---|" * (len(rows) + 1)]
  for m in metrics:
    per_seed = " | ".join(f"{r[m]:.{_digits(m)}f}" if m in r else "" for r in rows)
    lines.append(f"| {m} | {per_seed} | {cell(rows, m)} |")
  if entry is not None and entry.goals:
    lines += ["", "Goals: " + "; ".join(
        f"{g.describe()}: " + ", ".join(
            {True: "met", False: "**missed**", None: "n/a"}[g.check(r, records)] for r in rows)
        for g in entry.goals) + "."]
  if thumb is not None:
    lines += ["", f"![{name}, seed {rows[0]['seed']}: samples]({thumb})"]
  return lines + [""]


def render(records: list, out: str, runs_root: str) -> list:
  """Writes `out`/results.md (and the thumbnails and mosaic); returns the missed goals."""
  order = [e.name for e in ENTRIES]
  names = sorted({r["experiment"] for r in records},
                 key=lambda n: order.index(n) if n in order else len(order))
  by_name = {n: [r for r in records if r["experiment"] == n] for n in names}
  os.makedirs(out, exist_ok=True)
  thumbs = _thumbnails(by_name, out, runs_root)
  if thumbs:
    save_mosaic([(name, os.path.join(out, rel)) for name, rel in thumbs.items()],
                os.path.join(out, IMAGES, "mosaic.png"))
  lines = ["# Results: every experiment at its defaults", "",
           "Generated by `python benchmarks/zoo.py` from [zoo.json](zoo.json); do not edit by "
           "hand. Each run is the README's commands with `--config.seed=S`, trained alone on the "
           "machine the zoo ran on (see zoo.json's wall times). FID is in the domain classifier's "
           "features against the test split; 'FID / floor' divides by the train-vs-test FID of "
           "the same features. Cells: mean ± std over seeds (worst seed).", "",
           *_summary_table(by_name, records), ""]
  if thumbs:
    lines += ["![every experiment's samples](images/zoo/mosaic.png)", ""]
  lines += ["## Per experiment", ""]
  for name, rows in by_name.items():
    lines += _section(name, rows, records, thumbs.get(name))
  missed = missed_goals(records)
  lines += ["## Goals missed", ""] + ([f"- {m}" for m in missed] or ["None."]) + [""]
  write_text(os.path.join(out, "results.md"), "\n".join(lines))
  return missed
