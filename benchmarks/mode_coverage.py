"""Mode coverage on ring8 and grid25 beside PacGAN's Table 1: modes, %HQ, reverse KL.

  python benchmarks/mode_coverage.py                          # every row, default schedule
  python benchmarks/mode_coverage.py --steps 20000 --losses non_saturating hinge
  python benchmarks/mode_coverage.py --datasets ring8 --seeds 3 --out /tmp/mc
  python benchmarks/mode_coverage.py --losses --techniques pacgan2 minibatch_discrimination --methods
  python benchmarks/mode_coverage.py --losses --techniques --method_steps 4000   # the method row only, shortened

Setup (Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in
generative adversarial networks", arXiv:1712.04086, section 5.1): PacGAN's
networks from experiments/gan_mlp.py (G 4 x 400 ReLU + BatchNorm, z 2-D; D
3 x 200 maxout with 5 pieces), Adam(1e-4, b1 0.8), batch 100. The GAN row is
the non-saturating loss; every other loss of the core (minimax, WGAN-GP,
hinge, least squares) gets one row with everything else unchanged (one critic
update per step, the same optimizer), so rows differ only in the objective.
The technique rows (`--techniques`) are the GAN row plus one of Salimans et
al.'s improved techniques (minibatch discrimination, historical averaging,
virtual batch norm in G) or PacGAN's packing of 2, 3 or 4 samples into one
discriminator input (gans_jax/families/techniques.py), everything else the same.
The method rows (`--methods`) are whole experiment configs that combine
several options: `pacgan2_tuned` is experiments/pacgan_mlp.py (PacGAN2, G
without BatchNorm, Adam(1e-3, b1 0.5) decayed linearly to 0, G EMA).
Each row trains `--seeds` replicas (replica i is the run with seed i),
`--seeds_per_group` of them vmapped in one compiled program at a time (2: on
the 2-core CPU a 10-seed vmapped step of pacgan_mlp takes 69 ms, five groups of
2 take 49.5 ms; the results are the same), draws `--samples` points per seed
and scores them with `metrics.mode_coverage` (HQ: closer than 3 sigma to the
nearest centre). Numbers are mean and standard error (std / sqrt(n), ddof 1)
over seeds, as in the paper's Table 1 (10 trials, standard error).

Schedule: the paper trains 400 epochs of 100,000 points at batch 100, i.e.
400,000 generator steps per run (the authors' code, fjxmlzn/PacGAN,
synthetic_data_experiments/*/config.py: num_epoch 400, num_sample 100000). The
loss and technique rows train `--steps` (default 600, 0.15% of that): they
compare how fast each variant finds the modes, not where it ends. The method
rows train their own schedule (`--method_steps`, default 12,000 steps on
ring8 and 32,000 on grid25), since their learning rate decays to 0 at the end;
an explicit `--steps` without `--method_steps` shortens them too. Run
`--losses`, `--techniques` or `--methods` alone (no names) to skip a group.

Measured (default run, 10 seeds, 2-core CPU, nothing else running): see
docs/quality.md ("Mode coverage") for the table, the wall time and the sweep
that chose the method; docs/improved_techniques.md for the technique rows.

Outputs in `--out` (default runs/mode_coverage): `mode_coverage.md` (our rows and
the published ones), `mode_coverage.json` (a list of {"dataset", "row", "loss",
"technique" ('none' on the loss rows), "modes", "high_quality", "reverse_kl"},
each number {"mean", "se"}; high_quality
is a fraction in [0, 1]; plus "group" (loss, technique or method), "steps",
"seeds", "seconds" and the per-seed values), and
`scatter_<dataset>_<row>.png` (seed 0's samples over the data). Measured technique
rows: docs/improved_techniques.md.
"""

import argparse
import json
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import numpy as np  # noqa: E402

from gans_jax import metrics as gm  # noqa: E402
from gans_jax import plots, trainer  # noqa: E402
from gans_jax.families import check_config, gan  # noqa: E402
from gans_jax.optim import optimizer_config  # noqa: E402
from gans_jax.data import load_dataset, mixture_centers  # noqa: E402
from gans_jax.train_settings import TrainSettings  # noqa: E402
from benchmarks.experiment_configs import experiment_config  # noqa: E402

# Steps of a loss or technique row. Measured on this project's 2-core CPU with
# nothing else running (jax 0.10.2, 10 seeds in groups of 2): 29-62 s per row; the
# whole default run 55.4 min (docs/quality.md).
DEFAULT_STEPS = 600
DEFAULT_STEPS_PER_CALL = 25
DEFAULT_SEEDS_PER_GROUP = 2
PAPER_STEPS = 400 * 100_000 // 100  # 400 epochs x 1,000 batches of 100


def _loss(name, gp_weight=0.0, clip=0.0, n_critic=1, optimizer=None):
  def apply(config):
    config.loss.name = name
    config.loss.gp_weight = gp_weight
    config.loss.clip = clip
    config.train.n_critic = n_critic
    if optimizer is not None:
      config.optimizer.g = optimizer_config(**optimizer)
      config.optimizer.d = optimizer_config(**optimizer)
  return apply


# Row name -> config change on top of experiments/gan_mlp.py. The first is
# PacGAN's "GAN" row. PacGAN's D has no normalization, so WGAN-GP needs no change.
LOSSES = {
    "non_saturating": _loss("non_saturating"),
    "minimax": _loss("minimax"),
    "wasserstein_gp": _loss("wasserstein", gp_weight=10.0),
    "hinge": _loss("hinge"),
    "least_squares": _loss("least_squares"),
    # Arjovsky et al.'s clipped WGAN with its own optimizer and 5 critic
    # updates: about 3x the cost of a row above, so not in the default set.
    "wasserstein_clip": _loss("wasserstein", clip=0.01, n_critic=5,
                              optimizer=dict(name="rmsprop", learning_rate=5e-5)),
    # Gulrajani et al.'s own settings (5 critic updates, Adam(1e-4, 0.5, 0.9)) instead of
    # PacGAN's one update at Adam(1e-4, 0.8): about 3x a row above, not in the default set.
    "wasserstein_gp_paper": _loss("wasserstein", gp_weight=10.0, n_critic=5,
                                  optimizer=dict(name="adam", learning_rate=1e-4, b1=0.5,
                                                 b2=0.9)),
}
DEFAULT_LOSSES = ("non_saturating", "minimax", "wasserstein_gp", "hinge", "least_squares")


def _technique(**fields):
  def apply(config):
    for name, value in fields.items():
      section, key = name.split("__")
      config[section][key] = value
  return apply


# Row name -> config change on top of the GAN (non-saturating) row: one
# technique each (gans_jax/families/techniques.py). Minibatch discrimination
# with Salimans et al.'s kernel size C = 5; virtual BN with a reference batch
# of the batch size (100); historical averaging's lambda is not given in the
# paper: 0.1 here (its gradient 0.2 (theta - mean) is of the order of Adam's
# normalised steps).
TECHNIQUES = {
    "minibatch_discrimination": _technique(model__minibatch_kernels=16,
                                           model__minibatch_kernel_dim=5),
    "historical_averaging": _technique(loss__historical_averaging=0.1),
    "virtual_batch_norm": _technique(model__vbn_reference=100),
    # PacGAN: 100 packs of m per step, so D judges as many inputs as on the
    # other rows (and 100 is not divisible by 3).
    "pacgan2": _technique(model__pack=2, train__batch_size=200),
    "pacgan3": _technique(model__pack=3, train__batch_size=300),
    "pacgan4": _technique(model__pack=4, train__batch_size=400),
}


# Row name -> experiment config (experiments/<name>.py, a change of gan_mlp) of
# one method that combines several options; trained for --method_steps (its
# learning rate decays to 0 over the run, so it is not scored part-way).
# pacgan2_tuned was chosen by a sweep of the options of issues 16 and 17
# (docs/quality.md, "Mode coverage"): PacGAN2's packing keeps the modes, the
# generator without BatchNorm, the decaying learning rate and the EMA make the
# samples precise.
METHODS = {"pacgan2_tuned": "pacgan_mlp"}
# Steps of a method run per dataset: the grid's 25 modes take more than twice the
# ring's 8 (measured, 3 seeds: grid25 92.5 % HQ at 16,000 steps, 95.4 % at 24,000,
# 96.4 % at 32,000; ring8 98.0 % at 8,000, under PacGAN's GAN row, 98.2 %; 10 seeds:
# ring8 98.6 % at 12,000, 99.0 % at 16,000). Ring8 trains 12,000 rather than
# experiments/pacgan_mlp.py's 16,000 so that the default run fits in an hour on the
# 2-core CPU.
DEFAULT_METHOD_STEPS = {"ring8": 12_000, "grid25": 32_000}
ROWS = {**LOSSES, **TECHNIQUES, **{name: None for name in METHODS}}
LABELS = {
    "non_saturating": "GAN (non-saturating)",
    "minimax": "minimax",
    "wasserstein_gp": "WGAN-GP (lambda 10)",
    "hinge": "hinge",
    "least_squares": "least squares",
    "wasserstein_clip": "WGAN (clip 0.01, RMSprop, 5 critic)",
    "wasserstein_gp_paper": "WGAN-GP (lambda 10, Adam(1e-4, 0.5, 0.9), 5 critic)",
    "minibatch_discrimination": "GAN + minibatch discrimination (16 x 5)",
    "historical_averaging": "GAN + historical averaging (lambda 0.1)",
    "virtual_batch_norm": "GAN + virtual BN in G (reference 100)",
    "pacgan2": "PacGAN2 (GAN, 100 packs of 2)",
    "pacgan3": "PacGAN3 (GAN, 100 packs of 3)",
    "pacgan4": "PacGAN4 (GAN, 100 packs of 4)",
    "pacgan2_tuned": "PacGAN2, G without BatchNorm, Adam(1e-3, β₁ 0.5) decayed linearly "
                     "to 0, G EMA 0.999",
}

# Lin et al. 2018, Table 1 (mean +- standard error over 10 trials), as printed
# in the paper and in the authors' repository (synthetic_data_experiments/
# results/Table1.png): (modes, high-quality %, reverse KL) as (mean, se).
PUBLISHED = {
    "ring8": {
        "GAN": ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
        "ALI": ((6.6, 0.3), (97.6, 0.4), (0.36, 0.04)),
        "PacGAN2": ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
        "PacGAN3": ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
        "PacGAN4": ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
    },
    "grid25": {
        "GAN": ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
        "ALI": ((24.1, 0.4), (95.7, 0.6), (0.14, 0.03)),
        "PacGAN2": ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
        "PacGAN3": ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
        "PacGAN4": ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
    },
}
MAX_MODES = {"ring8": 8, "grid25": 25}


def make_config(dataset: str, row: str, steps: int, seeds: int, seed: int,
                steps_per_call: int):
  """experiments/gan_mlp.py on `dataset` with the change of `row` (a loss or a technique),
  or a method's own experiment config."""
  config = experiment_config(METHODS.get(row, "gan_mlp"))
  config.dataset.name = dataset
  if row not in METHODS:
    ROWS[row](config)
  config.seed = seed
  config.train.num_steps = steps
  config.train.num_seeds = seeds
  config.train.steps_per_call = steps_per_call
  check_config(config, num_devices=1)
  return config


def mean_se(values) -> dict:
  """Mean and standard error (ddof 1) over the finite values; NaN when none."""
  v = np.asarray(values, np.float64)
  v = v[np.isfinite(v)]
  if v.size == 0:
    return {"mean": float("nan"), "se": float("nan")}
  se = float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan")
  return {"mean": float(np.mean(v)), "se": se}


def row_steps(dataset: str, row: str, args) -> int:
  """Training steps of a row: --steps (default DEFAULT_STEPS) for the loss and technique
  rows; for the METHODS rows --method_steps, else an explicit --steps, else
  DEFAULT_METHOD_STEPS[dataset]."""
  if row not in METHODS:
    return args.steps or DEFAULT_STEPS
  # An explicit --steps shortens every row (a quick run of a few rows stays quick).
  return args.method_steps or args.steps or DEFAULT_METHOD_STEPS[dataset]


def row_group(row: str) -> str:
  return "method" if row in METHODS else "technique" if row in TECHNIQUES else "loss"


def make_seed_runner(dataset, dataset_name: str, row: str, steps: int, n: int, args):
  """(config, family, runner, sample function, device data) training `n` seeds of `row`
  vmapped in one program; every group of n seeds reuses them."""
  config = make_config(dataset_name, row, steps, n, args.seed, args.steps_per_call)
  family, runner = trainer.make_runner(
      TrainSettings.from_config(config), lambda axis: gan.GAN(config, dataset, axis), resident=True,
      devices=jax.local_devices()[:1])
  sample = jax.jit(jax.vmap(family.generate) if n > 1 else family.generate)
  return config, family, runner, sample, runner.put_data({"x": dataset.all()["x"]})


def train_seeds(seed_runner, first_seed: int, n: int, steps: int, args, bar):
  """Trains seeds first_seed .. first_seed + n - 1 with `seed_runner` (`make_seed_runner`
  for n seeds) and returns (their samples [n, args.samples, 2], the last step's metrics)."""
  _, family, runner, sample, data = seed_runner
  init_key, train_key, _ = trainer.seed_keys(first_seed, n)
  pstate = runner.put_state(trainer.init_states(family, init_key, n))

  fuse = runner.steps_per_call
  step = 0
  while step < steps:
    k = min(fuse, steps - step)
    if k == fuse > 1:
      pstate, m = runner.step(pstate, data, train_key, fused=True)
    else:
      for _ in range(k):
        pstate, m = runner.step(pstate, data, train_key)
    step += k
    bar.update(k * n)
  m = jax.device_get(m)
  state = runner.get_state(pstate)

  # Seed i's samples use seed i's own sample key, as a single-seed run would.
  sample_keys = jax.numpy.stack(
      [jax.random.split(jax.random.PRNGKey(first_seed + i), 3)[2] for i in range(n)])
  zs = jax.vmap(lambda k: jax.random.normal(k, (args.samples, family.z_dim)))(sample_keys)
  samples = np.asarray(sample(state, zs if n > 1 else zs[0]))
  return samples.reshape((n, args.samples, -1)), m


def seed_groups(first_seed: int, num_seeds: int, group: int) -> list:
  """(first seed, count) of each vmapped group: `group` seeds each, the rest last."""
  return [(first_seed + i, min(group, num_seeds - i)) for i in range(0, num_seeds, group)]


def run_row(dataset_name: str, loss: str, args, bar) -> dict:
  """Trains `args.seeds` replicas of one row (`loss`: a LOSSES, TECHNIQUES or METHODS
  name) in groups of `args.seeds_per_group`, scores them, writes the scatter plot."""
  t0 = time.perf_counter()
  steps = row_steps(dataset_name, loss, args)
  dataset = load_dataset(dataset_name, split="train")
  real = dataset.all()["x"]
  n = args.seeds
  seed_runners = {}  # one compiled program per group size
  parts = []
  for first, count in seed_groups(args.seed, n, args.seeds_per_group):
    if count not in seed_runners:
      seed_runners[count] = make_seed_runner(dataset, dataset_name, loss, steps, count, args)
    parts.append(train_seeds(seed_runners[count], first, count, steps, args, bar))
  config = next(iter(seed_runners.values()))[0]  # the row's config (num_seeds aside)
  samples = np.concatenate([p[0] for p in parts])
  m = jax.tree.map(lambda *v: np.concatenate([np.reshape(x, (-1,)) for x in v]),
                   *[p[1] for p in parts])
  train_s = time.perf_counter() - t0

  centers, std = mixture_centers(dataset_name)
  scores = [jax.device_get(gm.mode_coverage(samples[i], centers, std)) for i in range(n)]

  plots.save_scatter(samples[0], os.path.join(args.out, f"scatter_{dataset_name}_{loss}.png"),
                     reference=real[:args.samples],
                     title=f"{dataset_name}, {LABELS[loss]}, seed {config.seed}, "
                           f"{steps} steps")
  technique = "none" if row_group(loss) == "loss" else loss
  row = {
      "dataset": dataset_name, "row": loss, "loss": config.loss.name if technique != "none"
      else loss, "technique": technique, "group": row_group(loss),
      "modes": mean_se([s["modes"] for s in scores]),
      "high_quality": mean_se([s["high_quality"] for s in scores]),
      "reverse_kl": mean_se([s["reverse_kl"] for s in scores]),
      "steps": steps, "seeds": n, "samples": args.samples,
      "seconds": round(time.perf_counter() - t0, 1),
      "train_seconds": round(train_s, 1),
      "per_seed": {k: [float(s[k]) for s in scores]
                   for k in ("modes", "high_quality", "reverse_kl")},
      "final_losses": {k: float(np.mean(v)) for k, v in m.items()
                       if k in ("d_loss", "g_loss", "gp")},
  }
  undefined = sum(not np.isfinite(s["reverse_kl"]) for s in scores)
  if undefined:
    row["seeds_without_hq_samples"] = int(undefined)
  return row


def beats(row: dict, published) -> bool:
  """More modes, at least as many HQ samples and a lower reverse KL (means)."""
  (modes, _), (hq, _), (kl, _) = published
  return (row["modes"]["mean"] > modes and 100 * row["high_quality"]["mean"] >= hq
          and row["reverse_kl"]["mean"] < kl)


def _pm(mean, se, fmt):
  if not np.isfinite(mean):
    return "n/a"
  return (fmt % mean) + ("" if not np.isfinite(se) else " ± " + (fmt % se))


def markdown(rows: list, args, total_s: float) -> str:
  lines = [
      "# Mode coverage: ring8 and grid25 (PacGAN setup)", "",
      "PacGAN's networks (G 4×400 ReLU+BatchNorm, z 2-D; D 3×200 maxout, 5 pieces), "
      "Adam(1e-4, β₁ 0.8), batch 100, one critic update per step unless the row says "
      f"otherwise; {args.steps or DEFAULT_STEPS:,} steps per loss or technique run "
      f"({(args.steps or DEFAULT_STEPS) / PAPER_STEPS:.2%} of the paper's 400 epochs = "
      f"{PAPER_STEPS:,} steps), "
      "the method rows as given in their steps column; "
      f"{args.seeds} seeds (vmapped {args.seeds_per_group} at a time); "
      f"{args.samples:,} samples per seed; "
      "mean ± standard error over seeds. HQ: within 3σ of the nearest centre; reverse KL "
      "(nats) of the HQ mode histogram from uniform. "
      f"Total wall time {total_s / 60:.1f} min ({jax.default_backend()}, "
      f"{os.cpu_count()} cores).", ""]
  for ds in dict.fromkeys(r["dataset"] for r in rows):
    pub = PUBLISHED.get(ds, {})
    lines += [f"## {ds}", "",
              f"| method | modes (max {MAX_MODES.get(ds, '?')}) | high quality % | "
              "reverse KL | steps | wall s | beats published rows |",
              "|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["dataset"] == ds):
      won = [name for name, p in pub.items() if beats(r, p)]
      lines.append(
          f"| ours: {LABELS[r['row']]} | {_pm(r['modes']['mean'], r['modes']['se'], '%.1f')} | "
          f"{_pm(100 * r['high_quality']['mean'], 100 * r['high_quality']['se'], '%.1f')} | "
          f"{_pm(r['reverse_kl']['mean'], r['reverse_kl']['se'], '%.3f')} | "
          f"{r['steps']:,} | {r['seconds']:.0f} | {', '.join(won) if won else 'none'}"
          f"{' (all)' if pub and len(won) == len(pub) else ''} |")
    for name, ((m, ms), (h, hs), (k, ks)) in pub.items():
      lines.append(f"| published (PacGAN Table 1): {name} | {m:.1f} ± {ms:.1f} | "
                   f"{h:.1f} ± {hs:.1f} | {k:.2f} ± {ks:.2f} | {PAPER_STEPS:,} | | |")
    lines.append("")
  names = list(dict.fromkeys(r["row"] for r in rows))
  winners = [l for l in names
             if all(all(beats(r, p) for p in PUBLISHED.get(r["dataset"], {}).values())
                    for r in rows if r["row"] == l)]
  lines.append("Beats every published row on every dataset here (more modes, ≥ HQ, lower "
               f"reverse KL, means): {', '.join(LABELS[l] for l in winners) or 'none'}.")
  lines += ["", "Published numbers: Lin, Khetan, Fanti & Oh 2018, arXiv:1712.04086, Table 1 "
            "(400 epochs, 10 trials, standard error)."]
  return "\n".join(lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=0,
                      help=f"training steps per run (default {DEFAULT_STEPS}; the paper: "
                           f"{PAPER_STEPS:,}); also the method rows' unless --method_steps")
  parser.add_argument("--seeds", type=int, default=10, help="replicas per row (seeds 0..n-1)")
  parser.add_argument("--seed", type=int, default=0, help="first seed")
  parser.add_argument("--datasets", nargs="+", default=["ring8", "grid25"],
                      choices=sorted(MAX_MODES))
  parser.add_argument("--losses", nargs="*", default=list(DEFAULT_LOSSES),
                      choices=sorted(LOSSES), help="loss rows (none: '--losses' alone)")
  parser.add_argument("--techniques", nargs="*", default=list(TECHNIQUES),
                      choices=list(TECHNIQUES),
                      help="technique rows (none: '--techniques' alone)")
  parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS),
                      help="method rows (none: '--methods' alone)")
  parser.add_argument("--method_steps", type=int, default=0,
                      help="training steps per method run (0: --steps if given, else ring8 "
                           f"{DEFAULT_METHOD_STEPS['ring8']:,}, grid25 "
                           f"{DEFAULT_METHOD_STEPS['grid25']:,})")
  parser.add_argument("--seeds_per_group", type=int, default=DEFAULT_SEEDS_PER_GROUP,
                      help="seeds vmapped in one program; groups run one after another")
  parser.add_argument("--samples", type=int, default=2500, help="generated points per seed")
  parser.add_argument("--steps_per_call", type=int, default=DEFAULT_STEPS_PER_CALL,
                      help="steps fused in one compiled call (train.steps_per_call)")
  parser.add_argument("--out", default=os.path.join("runs", "mode_coverage"))
  args = parser.parse_args()
  if min(args.seeds, args.seeds_per_group, args.samples) < 1 or min(
      args.steps, args.method_steps) < 0:
    parser.error("--steps, --method_steps, --seeds, --seeds_per_group and --samples must "
                 "be >= 1")
  os.makedirs(args.out, exist_ok=True)

  from tqdm import tqdm
  rows_todo = [(d, l) for d in args.datasets
               for l in args.losses + args.techniques + args.methods]
  rows = []
  t0 = time.perf_counter()
  total_steps = sum(row_steps(d, l, args) for d, l in rows_todo) * args.seeds
  with tqdm(total=total_steps, unit="seed-step", dynamic_ncols=True) as bar:
    for ds, loss in rows_todo:
      bar.set_description(f"{ds} {loss}")
      row = run_row(ds, loss, args, bar)
      rows.append(row)
      bar.write(f"{ds:<7} {loss:<24} modes {row['modes']['mean']:.2f} "
                f"HQ {100 * row['high_quality']['mean']:.1f}% "
                f"KL {row['reverse_kl']['mean']:.3f}  ({row['seconds']:.0f} s)")
      # Written after every row, so an interrupted run keeps what it finished.
      total_s = time.perf_counter() - t0
      with open(os.path.join(args.out, "mode_coverage.json"), "w") as f:
        json.dump(rows, f, indent=1)
      table = markdown(rows, args, total_s)
      with open(os.path.join(args.out, "mode_coverage.md"), "w") as f:
        f.write(table)
  total_s = time.perf_counter() - t0
  table = markdown(rows, args, total_s)
  with open(os.path.join(args.out, "mode_coverage.md"), "w") as f:
    f.write(table)
  print(table)
  print(json.dumps({"total_seconds": round(total_s, 1),
                    "rows": {f"{r['dataset']}/{r['row']}": r["seconds"] for r in rows}}))


if __name__ == "__main__":
  main()
