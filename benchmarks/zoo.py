"""The zoo: every experiment trained at its defaults, scored, and checked against its goal.

  python benchmarks/zoo.py                               # every experiment, seeds 0, 1, 2
  python benchmarks/zoo.py --only dcgan wgan_gp --seeds 1
  python benchmarks/zoo.py --render                      # rewrite results.md from zoo.json only

Each (experiment, seed) is the user's own commands, run one after another with nothing else
started by this script: ``python launch.py --config experiments/<name>.py --config.seed=<s>
--workdir runs/zoo/<name>/seed_<s>``, then ``--mode=eval`` and, for the experiments whose goal
or README entry is an edit, ``--mode=edit``. The training command's wall time (Python start,
compile and every step) is the run's time. The classifier that an experiment's evaluation needs
(its `eval.classifier_dir`, e.g. runs/classifier_digits) is made before the experiment when it is
not there yet: copied from the zoo's own seed-0 run of that classifier when it has one, else
trained by the README's command.

Resumable: a run whose training finished (its train.json) is not trained again, a finished eval
or edit is not repeated; a run interrupted during training is started over, so every recorded
time is one uninterrupted run. The Fashion-MNIST experiments are skipped, with a line saying so,
when the Debian package's files are absent.

Writes `--out`/zoo.json (one record per experiment and seed: wall time, steps, every eval.json
metric, edit success, and ratios derived from them) and **generates** `--out`/results.md from
it, with one small sample grid per experiment and a mosaic of them in `--out`/images/zoo/.
Exits 1 when any recorded result misses its experiment's goal (`GOALS`), so a regression is
caught by running it.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from gans_jax.atomic import read_json, write_json  # noqa: E402
from gans_jax.data import idx  # noqa: E402
from gans_jax.families import cyclegan  # noqa: E402
from gans_jax.families.classifier import classifier_dir  # noqa: E402
from zoo_goals import ENTRIES, derived_metrics  # noqa: E402
from zoo_report import render  # noqa: E402
from benchmarks.experiment_configs import experiment_config  # noqa: E402

RUNS = os.path.join("runs", "zoo")


def launch(args: list, log_path: str) -> float:
  """Runs ``python launch.py ARGS`` from the repository root, its output to `log_path`;
  returns its wall time in seconds, or exits with its log's last line when it fails."""
  t0 = time.perf_counter()
  with open(log_path, "a") as log:
    result = subprocess.run([sys.executable, "launch.py", "--progress=false", *args], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, check=False)
  seconds = time.perf_counter() - t0
  if result.returncode != 0:
    with open(log_path) as f:
      tail = f.read().strip().splitlines()[-1:] or ["(no output)"]
    sys.exit(f"error: launch.py {' '.join(args)} exited {result.returncode}: {tail[0]} "
             f"(log: {log_path})")
  return seconds


def needed_classifiers(config) -> list:
  """(workdir, dataset name) of each domain classifier `--mode=eval` of `config` reads."""
  family = config.get("family", "gan")
  if family == "classifier" or config.dataset.name in ("ring8", "grid25"):
    return []
  if family == "cyclegan":
    return [(path, f"{config.dataset.name}_{d}")
            for d, path in cyclegan.classifier_dirs(config).items()]
  return [(classifier_dir(config), config.dataset.name)]


def ensure_classifier(workdir: str, dataset: str) -> None:
  """Makes the classifier `workdir` unless it is there: a copy of the zoo's own seed-0 run of
  the same experiment on the same dataset when that finished (the same command, so the same
  classifier: Fashion-MNIST's takes about half an hour to train), else trained by the README's
  command."""
  if os.path.exists(os.path.join(ROOT, workdir, "classifier.json")):
    return
  source = "classifier_fashion" if dataset == idx.FASHION_MNIST else "classifier_digits"
  zoo_run = os.path.join(ROOT, RUNS, source, "seed_0")
  zoo_config = read_json(os.path.join(zoo_run, "config.json")) or {}
  if (os.path.exists(os.path.join(zoo_run, "classifier.json"))
      and zoo_config.get("seed") == 0 and zoo_config["dataset"]["name"] == dataset):
    print(f"zoo: copying {os.path.relpath(zoo_run, ROOT)} to {workdir} (the same command)",
          flush=True)
    shutil.copytree(zoo_run, os.path.join(ROOT, workdir))
    return
  print(f"zoo: training the classifier {workdir} (experiments/{source}.py on {dataset})",
        flush=True)
  os.makedirs(os.path.join(ROOT, RUNS), exist_ok=True)
  launch(["--config", f"experiments/{source}.py", f"--config.dataset.name={dataset}",
          "--workdir", workdir], os.path.join(ROOT, RUNS, f"{os.path.basename(workdir)}.log"))


def _train(name: str, seed: int, workdir: str, log: str) -> float:
  """The training command's wall time (train.json), training unless it finished before."""
  done = read_json(os.path.join(ROOT, workdir, "train.json"))
  if done is not None:
    return done["train_seconds"]
  if os.path.exists(os.path.join(ROOT, workdir)):
    print(f"zoo: {workdir} holds an unfinished run; training it again from the start "
          "(a resumed run's time would not be one run's)", flush=True)
    shutil.rmtree(os.path.join(ROOT, workdir))
  os.makedirs(os.path.join(ROOT, workdir))
  seconds = launch(["--config", f"experiments/{name}.py", f"--config.seed={seed}",
                    "--workdir", workdir], log)
  write_json(os.path.join(ROOT, workdir, "train.json"), {"train_seconds": round(seconds, 1)})
  return seconds


def _mode(name: str, seed: int, workdir: str, mode: str, log: str) -> dict:
  """eval.json or edit.json of the run, made by ``--mode=<mode>`` unless it is there."""
  path = os.path.join(ROOT, workdir, f"{mode}.json")
  if not os.path.exists(path):
    launch(["--config", f"experiments/{name}.py", f"--config.seed={seed}", "--workdir", workdir,
            f"--mode={mode}"], log)
  return read_json(path)


def run_one(entry, seed: int) -> dict:
  """Trains, evaluates (and edits) one experiment at one seed; its zoo.json record."""
  workdir = os.path.join(RUNS, entry.name, f"seed_{seed}")
  log = os.path.join(ROOT, RUNS, entry.name, f"seed_{seed}.log")
  os.makedirs(os.path.dirname(log), exist_ok=True)
  print(f"zoo: {entry.name} seed {seed} -> {workdir}", flush=True)
  seconds = _train(entry.name, seed, workdir, log)
  metrics = _mode(entry.name, seed, workdir, "eval", log)
  saved = read_json(os.path.join(ROOT, workdir, "config.json"))
  record = {"experiment": entry.name, "seed": seed, "family": saved.get("family", "gan"),
            "steps": saved["train"]["num_steps"], "train_seconds": round(seconds, 1),
            **{k: v for k, v in metrics.items() if "_class_" not in k and k != "step"}}
  if entry.edit:
    record["edit_success"] = _mode(entry.name, seed, workdir, "edit", log)["success_rate"]
  record.update(derived_metrics(record))
  return record


def fashion_available() -> bool:
  return all(os.path.exists(os.path.join(idx.FASHION_MNIST_DIR, f"{images}.gz"))
             for images, _ in idx.SPLIT_FILES.values())


def selected_entries(only: list | None) -> list:
  names = [e.name for e in ENTRIES]
  unknown = sorted(set(only or ()) - set(names))
  if unknown:
    sys.exit(f"error: --only: no experiment {', '.join(unknown)} in the zoo (it has "
             f"{', '.join(names)})")
  entries = [e for e in ENTRIES if not only or e.name in only]
  if not fashion_available():
    skipped = [e.name for e in entries if e.name.endswith("_fashion")]
    if skipped:
      print(f"zoo: skipping {', '.join(skipped)}: no Fashion-MNIST files in "
            f"{idx.FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)", flush=True)
    entries = [e for e in entries if not e.name.endswith("_fashion")]
  return entries


def merge(old: list, new: list) -> list:
  """zoo.json's records: `new` replaces the old record of the same (experiment, seed)."""
  keys = {(r["experiment"], r["seed"]) for r in new}
  kept = [r for r in old if (r["experiment"], r["seed"]) not in keys]
  order = {e.name: i for i, e in enumerate(ENTRIES)}
  return sorted(kept + new, key=lambda r: (order.get(r["experiment"], len(order)), r["seed"]))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 of each experiment")
  parser.add_argument("--only", nargs="+", metavar="NAME", help="these experiments only")
  parser.add_argument("--out", default=os.path.join(ROOT, "docs"),
                      help="where zoo.json, results.md and images/zoo/ are written")
  parser.add_argument("--render", action="store_true",
                      help="train nothing: rewrite results.md from --out/zoo.json")
  args = parser.parse_args()
  if args.seeds < 1:
    sys.exit("error: --seeds must be >= 1")
  os.makedirs(args.out, exist_ok=True)
  zoo_path = os.path.join(args.out, "zoo.json")
  records = read_json(zoo_path) or []
  if not args.render:
    # An experiment's classifier is made just before it, so that a classifier the zoo itself
    # runs (its entries come before their users) is trained once.
    for entry in selected_entries(args.only):
      for workdir, dataset in needed_classifiers(experiment_config(entry.name)):
        ensure_classifier(workdir, dataset)
      new = [run_one(entry, seed) for seed in range(args.seeds)]
      records = merge(records, new)
      write_json(zoo_path, records)  # after each experiment, so an interrupted zoo keeps it
  missed = render(records, args.out, runs_root=ROOT)
  print(f"zoo: {len(records)} records in {zoo_path}; "
        f"wrote {os.path.join(args.out, 'results.md')}")
  if missed:
    print("zoo: goals missed:\n  " + "\n  ".join(missed))
    sys.exit(1)


if __name__ == "__main__":
  main()
