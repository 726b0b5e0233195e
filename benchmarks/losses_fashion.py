"""The classic GAN losses and the VAE on Fashion-MNIST, on one network and one budget (Lucic et al.).

  python benchmarks/losses_fashion.py                      # every row, 1,000 generator steps
  python benchmarks/losses_fashion.py --rows hinge wgan_gp --steps 500 --out /tmp/losses

Setup, after Lucic, Kurach, Michalski, Gelly & Bousquet 2018, "Are GANs Created Equal? A
Large-Scale Study", arXiv:1711.10337 (their Table 2 rows; one seed per row here, no
hyper-parameter search): Fashion-MNIST at 32x32 from the Debian package's IDX files, one shared
network for every row, the DCGAN pair of gans_jax/nets/dcgan.py with 32 channels (generator's last
stage, discriminator's first), z 64, batch 64, `--steps` generator steps. The rows differ in the
objective and in what that objective's paper prescribes with it:

| row | loss | critic steps per G step | D norm | optimizer |
|---|---|---|---|---|
| minimax | Goodfellow et al. 2014, the saturating G loss | 1 | batch | Adam(2e-4, 0.5) |
| non_saturating | the same, G maximises log D | 1 | batch | Adam(2e-4, 0.5) |
| least_squares | Mao et al. 2017 | 1 | batch | Adam(2e-4, 0.5) |
| hinge | Lim & Ye 2017 / Miyato et al. 2018 | 1 | batch | Adam(2e-4, 0.5) |
| wgan | Arjovsky et al. 2017, clipping 0.01 | 5 | batch | RMSprop(5e-5) |
| wgan_gp | Gulrajani et al. 2017, lambda 10 | 5 | layer | Adam(1e-4, 0, 0.9) |
| vae | Kingma & Welling 2014, the generator as decoder, a 32-channel encoder, sigma e^-0.5 | - | batch (encoder) | Adam(1e-3, 0.9) |

No EMA of the generator. Each row is trained by the project's trainer into `--out`/<row> (a
finished row is not trained again), then scored as `--mode=eval` does: 5,000 samples in
experiments/classifier_fashion.py's features (runs/classifier_fashion) against the 10,000 test
images. Writes `--out`/losses_fashion.json (one record per row scored in `--out`, by this run or
an earlier one, so rows run in several sessions make one table: steps, training seconds, FID,
precision, recall, and the VAE's test ELBO and importance-weighted bound
(k = 100) in nats per image) and losses_fashion.md (the table), and prints the table.
"""

import argparse
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gans_jax import evaluate, trainer  # noqa: E402
from gans_jax.atomic import read_json, write_json, write_text  # noqa: E402
from gans_jax.data.idx import FASHION_MNIST  # noqa: E402
from gans_jax.families import gan, vae  # noqa: E402
from gans_jax.optim import optimizer_config  # noqa: E402

ROWS = ("minimax", "non_saturating", "least_squares", "hinge", "wgan", "wgan_gp", "vae")
CLASSIFIER_DIR = os.path.join("runs", "classifier_fashion")


def _common(config, steps: int):
  config.dataset.name = FASHION_MNIST
  config.dataset.resolution = 32
  config.model.arch = "dcgan"
  config.model.z_dim = 64
  config.model.g_width = 32
  config.train.num_steps = steps
  config.train.batch_size = 64
  config.log_every = 100
  config.sample_every = config.checkpoint_every = steps
  config.eval.classifier_dir = CLASSIFIER_DIR
  return config


def _gan_config(row: str, steps: int):
  config = _common(gan.default_config(), steps)
  config.model.d_width = 32
  config.model.d_norm = "batch"
  adam = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)
  config.optimizer.g, config.optimizer.d = adam, adam
  config.loss.name = row
  if row in ("wgan", "wgan_gp"):
    config.loss.name = "wasserstein"
    config.train.n_critic = 5
  if row == "wgan":
    config.loss.clip = 0.01
    rmsprop = optimizer_config("rmsprop", 5e-5)
    config.optimizer.g, config.optimizer.d = rmsprop, rmsprop
  if row == "wgan_gp":
    config.loss.gp_weight = 10.0
    config.model.d_norm = "layer"
    gp_adam = optimizer_config("adam", 1e-4, b1=0.0, b2=0.9)
    config.optimizer.g, config.optimizer.d = gp_adam, gp_adam
  return config


def _vae_config(steps: int):
  config = _common(vae.default_config(), steps)
  config.model.e_width = 32
  config.model.e_norm = "batch"
  config.loss.log_scale = -0.5  # experiments/vae_fashion.py's pixel scale
  return config


def row_config(row: str, steps: int):
  return _vae_config(steps) if row == "vae" else _gan_config(row, steps)


KEEP = ("fid", "precision", "recall", "fid_train_test", "elbo", "log_likelihood_iw")


def train_row(config, workdir: str) -> float:
  """Seconds of one uninterrupted training of `workdir` (its train.json), training unless it
  finished before. A run interrupted during training starts over: a resumed run's time, or a
  rerun's restore of a finished one, is not the row's training time."""
  done = read_json(os.path.join(workdir, "train.json"))
  if done is not None:
    return done["train_seconds"]
  if os.path.exists(workdir):
    print(f"losses_fashion: {workdir} holds an unfinished run; training it again from the start",
          flush=True)
    shutil.rmtree(workdir)
  t0 = time.perf_counter()
  trainer.train_and_evaluate(config, workdir, progress=False)
  seconds = round(time.perf_counter() - t0, 1)
  write_json(os.path.join(workdir, "train.json"), {"train_seconds": seconds})
  return seconds


def run_row(row: str, steps: int, out: str) -> dict:
  """Trains `row` (see train_row) and scores it, unless its row.json exists; that record."""
  config = row_config(row, steps)
  workdir = os.path.join(out, row)
  record_path = os.path.join(workdir, "row.json")
  record = read_json(record_path)
  if record is not None:
    return record
  seconds = train_row(config, workdir)
  results = evaluate.evaluate(config, workdir)
  record = {"row": row, "steps": steps, "n_critic": int(config.train.get("n_critic", 1)),
            "train_seconds": seconds,
            **{k: results[k] for k in KEEP if k in results}}
  write_json(record_path, record)
  return record


def finished_rows(out: str) -> list:
  """The records of every row scored in `out` (this invocation's and earlier ones'), in ROWS order."""
  records = [read_json(os.path.join(out, row, "row.json")) for row in ROWS]
  return [r for r in records if r is not None]


def _cell(record: dict, key: str, digits: int) -> str:
  value = record.get(key)
  return "" if value is None else f"{value:.{digits}f}"


def table(records: list) -> str:
  lines = ["| row | G steps | critic steps per G step | training (s) | FID | precision | recall "
           "| test ELBO | IW bound |", "|---|---|---|---|---|---|---|---|---|"]
  for r in records:
    n_critic = "-" if r["row"] == "vae" else str(r["n_critic"])
    lines.append(f"| {r['row']} | {r['steps']:,} | {n_critic} | {r['train_seconds']:.0f} "
                 f"| {_cell(r, 'fid', 1)} | {_cell(r, 'precision', 3)} | {_cell(r, 'recall', 3)} "
                 f"| {_cell(r, 'elbo', 1)} | {_cell(r, 'log_likelihood_iw', 1)} |")
  floor = next((r["fid_train_test"] for r in records if "fid_train_test" in r), None)
  if floor is not None:
    lines.append(f"\nFID floor (60,000 training vs 10,000 test images, same features): {floor:.2f}")
  return "\n".join(lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
  parser.add_argument("--steps", type=int, default=1000,
                      help="generator steps per row (docs/real_data.md's table: 1,000)")
  parser.add_argument("--out", default=os.path.join("runs", "losses_fashion"))
  args = parser.parse_args()
  if not os.path.exists(os.path.join(CLASSIFIER_DIR, "classifier.json")):
    sys.exit(f"error: no Fashion-MNIST classifier in {CLASSIFIER_DIR}; train it with: "
             "python launch.py --config experiments/classifier_fashion.py")
  for row in args.rows:
    print(json.dumps(run_row(row, args.steps, args.out)), flush=True)
  records = finished_rows(args.out)
  write_json(os.path.join(args.out, "losses_fashion.json"), records)
  text = table(records)
  write_text(os.path.join(args.out, "losses_fashion.md"), text)
  print(text)


if __name__ == "__main__":
  main()
