"""Training throughput: compile time, steps/s, images/s and GFLOP/s, on 1 and N devices.

  python benchmarks/throughput.py                                  # every experiments/*.py, 1 device
  python benchmarks/throughput.py --configs wgan_gp dcgan --steps 50 --devices 1 4
  python benchmarks/throughput.py --workload dcgan_wgan_gp_32 --steps 5
  python benchmarks/throughput.py --workload pacgan_mlp --steps 2000
  python benchmarks/throughput.py --configs gan_mlp --ring_seeds 10   # + the full 10-seed ring run
  python benchmarks/throughput.py --configs dcgan --stream --ring_seeds 0  # resident vs streamed

Workloads: the two rows of the CPU speed table (issue 6), measured on the same
networks and batch as the PyTorch reference (``benchmarks/vs_pytorch.py`` times both against
PyTorch programs of them in one run),

* ``dcgan_wgan_gp_32``: experiments/wgan_gp.py at 32x32x1, z 128, width 64,
  batch 64, n_critic 5 (reference: PyTorch 1.86 s/step, goal <= 1.5 s/step);
* ``pacgan_mlp``: experiments/gan_mlp.py (PacGAN's 4x400 BatchNorm generator,
  3x200 maxout critic), batch 100, one D and one G update per step
  (reference: PyTorch 45 steps/s, goal >= 70 steps/s);

and two sized for accelerators, on RGB images (a folder of random-noise PNGs written once under
runs/throughput_data, since no RGB dataset ships here; ``--dataset folder:/path`` times real ones):

* ``dcgan_64_rgb``: Radford et al.'s DCGAN at 64x64x3 (G 1024-512-256-128 channels, D
  128-256-512-1024, BatchNorm, non-saturating loss), z 100, batch 128;
* ``sngan_resnet_32``: Miyato et al.'s ResNet at 32x32x3 (``model.arch='resnet'``, G 256 and
  D 128 channels, spectral norm, hinge loss), z 128, batch 64, n_critic 5, Adam(2e-4, 0, 0.9).

Every row also reports ``peak_fraction``: its GFLOP/s over the rate of one large matrix product
of the row's dtype measured on the same device in the same process (2048 x 2048 on CPUs, 8192 x
8192 on accelerators; ``matmul_gflop_per_s``), i.e. the fraction of what this device sustains on
the most favourable operation.

Each measurement ends with one JSON line ``{"workload" (or "config"), "streamed",
"devices", "compile_s", "steps_per_s", "images_per_s", "gflop_per_s", ...}``.
``--devices 1 4`` adds rows on 4 forced host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``, in a child process,
since the device count is fixed when JAX starts): the global batch is split
over the devices with the config's `parallel.backend`. On a 2-core CPU the
forced devices share the same two cores, so those rows measure the overhead
of the data-parallel program, not a speed-up.

images/s counts the real images the critic sees: steps/s x batch x n_critic.
GFLOP/s is XLA's cost-analysis FLOP count of one compiled step (all devices)
times the measured steps/s. ``--steps_per_call K`` fuses K steps into one
call (`train.steps_per_call`); steps/s always counts training steps. ``--dtype float32 bfloat16``
times each row once per `model.dtype` (gans_jax/nets/precision.py), one after the other.

``--stream`` times each config twice in one process: its dataset on the devices (each update
draws its batch inside the compiled step; ``"streamed": false``), then forced to stream from the
host as a dataset over ``dataset.max_resident_mb`` would (``"streamed": true``): batches drawn by
`StreamedBatches`, read and put on the devices ``dataset.prefetch_batches`` calls ahead on a
background thread (`gans_jax.data.prefetch`). The timed steps are split into ``--rounds`` blocks
(default 5) that alternate between the two, so a shared machine's drift slows both alike.
``--dataset folder:/path`` (or any dataset name) replaces the configs' datasets, e.g. to time a
lazily read dataset; ``--prefetch_batches 0`` reads streamed batches between steps instead.

After the configs (when gan_mlp is among them), the ring benchmark: the wall
time of one whole `experiments/gan_mlp.py` run on ring8 with ``--ring_seeds``
(default 10) replicas vmapped in one program, as `launch.py` runs it with
``--config.train.num_seeds=10`` (compilation, logs, samples and checkpoints
included), printed with one JSON line ``{"ring_benchmark", "seeds", "steps",
"wall_s", ...}``. ``--ring_steps`` shortens it; ``--ring_seeds 0`` skips it.
"""

import argparse
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.experiment_configs import experiment_config  # noqa: E402

WORKLOADS = ("dcgan_wgan_gp_32", "pacgan_mlp", "dcgan_64_rgb", "sngan_resnet_32")
RGB_IMAGES = 512  # random-noise PNGs of the RGB workloads' folder dataset


def rgb_folder(resolution: int) -> str:
  """A folder of RGB_IMAGES random-noise PNGs at `resolution` (written once, then reused)."""
  import numpy as np
  from PIL import Image
  path = os.path.join(ROOT, "runs", "throughput_data", f"noise_rgb_{resolution}")
  if len(glob.glob(os.path.join(path, "*.png"))) != RGB_IMAGES:
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(RGB_IMAGES):
      pixels = rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8)
      Image.fromarray(pixels).save(os.path.join(path, f"{i:04d}.png"))
  return "folder:" + path


def workload_config(name: str):
  """The config of a named workload (issue 6's speed table)."""
  if name == "dcgan_wgan_gp_32":
    config = experiment_config("wgan_gp")
    config.dataset.resolution = 32
    config.model.z_dim = 128
    config.model.g_width = config.model.d_width = 64
    config.train.batch_size = 64
    config.train.n_critic = 5
    return config
  if name == "pacgan_mlp":
    config = experiment_config("gan_mlp")
    config.train.batch_size = 100
    config.train.n_critic = 1
    return config
  if name == "dcgan_64_rgb":
    config = experiment_config("dcgan")
    config.dataset.name, config.dataset.resolution = rgb_folder(64), 64
    config.model.z_dim, config.model.g_width, config.model.d_width = 100, 128, 128
    # The paper's BatchNorm discriminator, not dcgan.py's spectral norm.
    config.model.d_norm, config.model.d_spectral_norm = "batch", False
    config.train.batch_size = 128
    return config
  if name == "sngan_resnet_32":
    from gans_jax.optim import optimizer_config
    config = experiment_config("hinge")
    config.dataset.name, config.dataset.resolution = rgb_folder(32), 32
    config.model.arch, config.model.z_dim = "resnet", 128
    config.model.g_width, config.model.d_width = 256, 128
    config.model.d_norm, config.model.d_spectral_norm = "none", True
    config.optimizer.g = optimizer_config("adam", 2e-4, b1=0.0, b2=0.9)
    config.optimizer.d = optimizer_config("adam", 2e-4, b1=0.0, b2=0.9)
    config.train.batch_size, config.train.n_critic = 64, 5
    return config
  raise SystemExit(f"error: --workload: {name!r} is not one of {', '.join(WORKLOADS)}")


class _Timed:
  """`config`'s compiled step and data feed, warmed up: the dataset on the devices, or streamed
  from the host (batches read and put on the devices `dataset.prefetch_batches` calls ahead on a
  thread, as in training). `run(first, n)` times planned calls first .. first + n − 1."""

  def __init__(self, config, devices, streamed: bool, num_calls: int):
    import jax
    import numpy as np

    from gans_jax import trainer
    from gans_jax.data import load_dataset
    from gans_jax.families import gan
    from gans_jax.train_settings import TrainSettings

    self.config, self.streamed, self.devices = config, streamed, devices
    dataset = load_dataset(config.dataset.name, data_dir=config.dataset.data_dir,
                           resolution=config.dataset.resolution)
    family, self.runner = trainer.make_runner(
        TrainSettings.from_config(config), lambda axis: gan.GAN(config, dataset, axis), resident=not streamed,
        devices=devices)
    init_key, self.key, _ = trainer.seed_keys(config.seed)
    self.state = self.runner.put_state(family.init_state(init_key))
    per_call = config.train.steps_per_call
    fused = per_call > 1
    # The feed's calls: call 0 compiles and warms up, the others are timed.
    self.plan = [(i * per_call, per_call if fused else 0) for i in range(num_calls + 1)]
    self.feed = trainer.DataFeed(TrainSettings.from_config(config), dataset, family, self.runner, resident=not streamed,
                                 calls=self.plan, prefetch=config.dataset.prefetch_batches)
    data = self.feed(*self.plan[0])
    t0 = time.perf_counter()
    self.compiled = self.runner.compile(self.state, data, self.key, fused=fused)
    self.compile_s = time.perf_counter() - t0
    # XLA's cost analysis counts a while loop's body once, so the FLOPs of a
    # fused call come from the one-step program.
    one_step = self.runner.compile(self.state, data, self.key) if fused else self.compiled
    cost = one_step.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    flops = float(cost.get("flops", np.nan)) if cost else np.nan
    # pmap's cost analysis is of the per-device program.
    self.flops = flops * len(devices) if self.runner.backend == "pmap" else flops
    self.state, metrics = self.compiled(self.state, data, self.key)  # warm-up
    jax.block_until_ready(metrics)

  def run(self, first: int, n: int) -> float:
    import jax
    t0 = time.perf_counter()
    for call in self.plan[first:first + n]:
      self.state, metrics = self.compiled(self.state, self.feed(*call), self.key)
    jax.block_until_ready((self.state, metrics))
    return time.perf_counter() - t0

  def row(self, label: dict, steps: int, elapsed: float, rounds: int) -> dict:
    import jax
    c = self.config
    steps_per_s = steps / elapsed
    return {
        **label, "dataset": c.dataset.name, "streamed": self.streamed,
        "prefetch_batches": c.dataset.prefetch_batches if self.streamed else None,
        "rounds": rounds, "devices": len(self.devices), "backend": self.runner.backend,
        "platform": jax.default_backend(), "steps_per_call": c.train.steps_per_call,
        "compile_s": round(self.compile_s, 2), "steps_per_s": round(steps_per_s, 3),
        "s_per_step": round(1 / steps_per_s, 4),
        "images_per_s": round(steps_per_s * c.train.batch_size * c.train.n_critic, 1),
        "gflop_per_step": round(self.flops / 1e9, 3),
        "gflop_per_s": round(self.flops / 1e9 * steps_per_s, 2),
    }


def matmul_gflop_per_s(dtype: str, device) -> float:
  """GFLOP/s of one square matrix product in `dtype` on `device` (2048 on CPUs, 8192 else),
  accumulated in float32 as the networks' products are (gans_jax.nets.precision)."""
  import jax

  from gans_jax.nets import precision
  n = 2048 if device.platform == "cpu" else 8192
  a = jax.device_put(jax.random.normal(jax.random.PRNGKey(0), (n, n)), device)
  product = jax.jit(lambda a: precision.matmul(a, a, precision.compute_dtype(dtype)))
  jax.block_until_ready(product(a))
  times = []
  for _ in range(5):
    t0 = time.perf_counter()
    jax.block_until_ready(product(a))
    times.append(time.perf_counter() - t0)
  return 2 * n**3 / sorted(times)[len(times) // 2] / 1e9


def measure(config, label: dict, steps: int, num_devices: int, data_dir=None,
            modes=(False,), rounds: int = 1) -> list:
  """One row per mode (streamed False / True) of `config`, timed over the same number of steps.

  With several modes the timed steps are split into `rounds` blocks that alternate between the
  modes, so a machine whose speed drifts (shared, throttled) slows every mode alike.
  """
  import jax

  if data_dir:
    config.dataset.data_dir = data_dir
  devices = jax.local_devices()[:num_devices]
  if len(devices) < num_devices:
    raise SystemExit(f"error: --devices: {num_devices} requested, {len(devices)} present")
  per_call = config.train.steps_per_call
  per_round = max(1, steps // per_call // rounds)
  timed = {m: _Timed(copy.deepcopy(config), devices, m, per_round * rounds) for m in modes}
  elapsed = dict.fromkeys(modes, 0.0)
  try:
    for r in range(rounds):
      for m in modes:
        elapsed[m] += timed[m].run(1 + r * per_round, per_round)
  finally:
    for t in timed.values():
      t.feed.close()
  rows = [timed[m].row(label, per_round * rounds * per_call, elapsed[m], rounds) for m in modes]
  rate = matmul_gflop_per_s(config.model.get("dtype", "float32"), devices[0]) * len(devices)
  for row in rows:
    row["matmul_gflop_per_s"] = round(rate, 1)
    row["peak_fraction"] = round(row["gflop_per_s"] / rate, 3)
  return rows


def ring_run(seeds: int, steps: int | None, data_dir=None) -> dict:
  """Wall time of a whole `experiments/gan_mlp.py` run (ring8) with `seeds`
  replicas vmapped (`train.num_seeds`), as `launch.py` would run it: data
  loading, compilation, training, logs, samples and checkpoints included."""
  import jax

  from gans_jax import trainer

  config = experiment_config("gan_mlp")
  config.train.num_seeds = seeds
  if steps:
    config.train.num_steps = steps
  if data_dir:
    config.dataset.data_dir = data_dir
  with tempfile.TemporaryDirectory() as workdir:
    t0 = time.perf_counter()
    state = trainer.train_and_evaluate(config, workdir, progress=False)
    jax.block_until_ready(state)
    wall = time.perf_counter() - t0
  n = config.train.num_steps
  return {"ring_benchmark": "gan_mlp", "dataset": config.dataset.name, "seeds": seeds,
          "steps": n, "wall_s": round(wall, 1), "seed_steps_per_s": round(n * seeds / wall, 1)}


def _print(r: dict) -> None:
  name = (r.get("workload") or r.get("config")) + (f" {r['dtype']}" if "dtype" in r else "")
  print(f"{name:<18} {r['devices']:>3} {r['compile_s']:>9.2f} {r['steps_per_s']:>9.2f} "
        f"{r['s_per_step']:>8.3f} {r['images_per_s']:>10.0f} {r['gflop_per_step']:>10.3f} "
        f"{r['gflop_per_s']:>8.2f} {r['peak_fraction']:>6.1%}")
  print(json.dumps(r), flush=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  all_configs = sorted(os.path.basename(p)[:-3]
                       for p in glob.glob(os.path.join(ROOT, "experiments", "*.py")))
  parser.add_argument("--configs", nargs="*", default=None,
                      help="experiment configs (default: all GAN configs)")
  parser.add_argument("--workload", choices=WORKLOADS, default=None,
                      help="one row of issue 6's speed table instead of the configs")
  parser.add_argument("--steps", type=int, default=20, help="timed steps per row")
  parser.add_argument("--steps_per_call", type=int, default=None,
                      help="steps fused per call (default: the config's train.steps_per_call)")
  parser.add_argument("--devices", type=int, nargs="*", default=[1],
                      help="device counts; N > 1 runs on N forced host devices")
  parser.add_argument("--backend", choices=("pmap", "shard_map"), default=None)
  parser.add_argument("--data_dir", default=None)
  parser.add_argument("--dataset", default=None,
                      help="dataset.name for every config, e.g. folder:/path/to/images")
  parser.add_argument("--prefetch_batches", type=int, default=None,
                      help="dataset.prefetch_batches of the streamed rows (0: read between steps)")
  parser.add_argument("--rounds", type=int, default=None,
                      help="with --stream: blocks alternating resident and streamed timing "
                           "(default 5; 1 without --stream)")
  parser.add_argument("--stream", action="store_true",
                      help="time each config twice: dataset on the devices, then streamed from "
                           "the host with prefetching (the rows' \"streamed\": false / true)")
  parser.add_argument("--ring_seeds", type=int, default=10,
                      help="seeds of the full ring8 run timed after the configs (0: skip)")
  parser.add_argument("--ring_steps", type=int, default=None,
                      help="steps of that run (default: experiments/gan_mlp.py's num_steps)")
  parser.add_argument("--dtype", nargs="*", default=None, choices=("float32", "bfloat16"),
                      help="model.dtype of each row (one row per dtype; default: the config's)")
  parser.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.rounds is None:
    args.rounds = 5 if args.stream else 1

  if args.workload:
    jobs = [({"workload": args.workload}, lambda: workload_config(args.workload))]
  else:
    names = args.configs or all_configs
    def load(name):
      return lambda: experiment_config(name)
    jobs = [({"config": n}, load(n)) for n in names]
    jobs = [(label, fn) for label, fn in jobs if fn().get("family", "gan") == "gan"]

  if args._child is None:
    print(f"{'row':<18} {'dev':>3} {'compile s':>9} {'steps/s':>9} {'s/step':>8} "
          f"{'images/s':>10} {'GFLOP/step':>10} {'GFLOP/s':>8} {'peak':>6}", flush=True)
  for n in args.devices:
    if n > 1 and args._child is None:
      # A child process: the forced device count is read when JAX initialises.
      argv = [a for a in sys.argv[1:]]
      i = argv.index("--devices")
      j = i + 1
      while j < len(argv) and not argv[j].startswith("--"):
        j += 1
      argv = argv[:i] + argv[j:] + ["--devices", str(n), "--_child", str(n)]
      env = {**os.environ, "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") +
                                         f" --xla_force_host_platform_device_count={n}")}
      subprocess.run([sys.executable, os.path.abspath(__file__), *argv], env=env, check=True)
      continue
    for (label, config_fn), dtype in ((job, d) for job in jobs for d in args.dtype or [None]):
      config = config_fn()
      if dtype is not None:
        config.model.dtype = dtype
        label = {**label, "dtype": dtype}
      if args.steps_per_call:
        config.train.steps_per_call = args.steps_per_call
      if args.backend:
        config.parallel.backend = args.backend
      if args.dataset:
        config.dataset.name = args.dataset
      if args.prefetch_batches is not None:
        config.dataset.prefetch_batches = args.prefetch_batches
      modes = (False, True) if args.stream else (False,)
      for row in measure(config, label, args.steps, n, args.data_dir, modes, args.rounds):
        _print(row)
  if (args._child is None and not args.workload and args.ring_seeds > 0
      and (args.configs is None or "gan_mlp" in args.configs)):
    r = ring_run(args.ring_seeds, args.ring_steps, args.data_dir)
    print(f"ring benchmark: gan_mlp on {r['dataset']}, {r['seeds']} seeds x {r['steps']} steps "
          f"in one vmapped run: {r['wall_s']:.1f} s wall ({r['seed_steps_per_s']} seed-steps/s)")
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
  main()
