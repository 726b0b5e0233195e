"""The StableHLO of compiled training steps, fingerprinted: proof that a refactoring changed nothing.

  python benchmarks/step_fingerprints.py > before.json     # on the old code
  python benchmarks/step_fingerprints.py > after.json      # on the new code; then diff the files
  python benchmarks/step_fingerprints.py --dump DIR        # also the texts, to diff a changed one

For each case (benchmarks/throughput.py's two workloads, every experiment of experiments/ but the
Fashion-MNIST ones, and each GAN technique switched on alone over experiments/dcgan.py) it lowers the
family's one-device step ``(state, data, key) -> (state, metrics)`` on the resident dataset to
StableHLO without source locations (`Lowered.as_text(debug_info=False)`) and prints
``{case: sha256 of the text}`` as JSON. Nothing is compiled or run: it takes about a minute.
"""

import argparse
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402

from gans_jax import families  # noqa: E402
from gans_jax.families import base  # noqa: E402
from benchmarks.throughput import WORKLOADS, workload_config  # noqa: E402
from benchmarks.experiment_configs import experiment_config  # noqa: E402

# Each technique alone, over experiments/dcgan.py (or the experiment named first): overrides.
TECHNIQUES = {
    "minibatch_discrimination": ["gan_mlp", ("model.minibatch_kernels", 8)],
    "virtual_batch_norm": ["gan_mlp", ("model.vbn_reference", 16), ("model.g_batch_norm", True)],
    "pack": ["gan_mlp", ("model.pack", 2)],
    "spectral_norm": [("model.d_spectral_norm", True)],
    "diffaugment": [("augment.policy", "color,translation,cutout")],
    "ema": [("ema.decay", 0.999)],
    "label_smoothing": [("loss.real_label", 0.9)],
    "feature_matching": [("loss.feature_matching", 1.0)],
    "historical_averaging": [("loss.historical_averaging", 0.5)],
    "r1": [("loss.gp_weight", 1.0), ("loss.gp_point", "real"), ("model.d_norm", "none")],
    "r2": [("loss.gp_weight", 1.0), ("loss.gp_point", "fake"), ("model.d_norm", "none")],
    "concat_conditional": [("model.conditional", "concat"), ("model.d_norm", "layer")],
}


def cases() -> dict:
  out = {f"workload:{w}": (lambda w=w: workload_config(w)) for w in WORKLOADS}
  for path in sorted(os.listdir(os.path.join(ROOT, "experiments"))):
    name = path[:-3]
    if path.endswith(".py") and not name.endswith("_fashion"):  # no test-free data needed
      out[f"experiment:{name}"] = lambda name=name: experiment_config(name)
  for technique, overrides in TECHNIQUES.items():
    def build(overrides=overrides):
      experiment = overrides[0] if isinstance(overrides[0], str) else "dcgan"
      config = experiment_config(experiment)
      for field, value in [o for o in overrides if not isinstance(o, str)]:
        section, key = field.split(".")
        config[section][key] = value
      return config
    out[f"technique:{technique}"] = build
  return out


def stablehlo(config) -> str:
  """The text of the step's StableHLO for `config` on one device, resident data."""
  config.parallel.backend = "pmap"
  families.check_config(config)
  dataset = base.load_config_dataset(config)
  family = families.get(config)(config, dataset)
  state = jax.eval_shape(family.init_fn(), jax.random.PRNGKey(0))
  data = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in dataset.all().items()}
  step = family.step_fn(resident=True)
  return jax.jit(step).lower(state, data, jax.random.PRNGKey(1)).as_text(debug_info=False)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--only", nargs="*", default=None, help="case names (default: all)")
  parser.add_argument("--dump", default="", help="directory for the StableHLO texts")
  args = parser.parse_args()
  fingerprints = {}
  for name, build in cases().items():
    if args.only and name not in args.only:
      continue
    text = stablehlo(build())
    fingerprints[name] = hashlib.sha256(text.encode()).hexdigest()
    if args.dump:
      os.makedirs(args.dump, exist_ok=True)
      with open(os.path.join(args.dump, name.replace(":", "_") + ".mlir"), "w") as f:
        f.write(text)
  print(json.dumps(fingerprints, indent=1))


if __name__ == "__main__":
  main()
