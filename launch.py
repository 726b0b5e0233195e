"""The one entry point.

  python launch.py --config experiments/wgan_gp.py [--workdir DIR] [--config.a.b=v]

Mistakes a user can make (config, data, files, a workdir another run is using, a
checkpoint that cannot be written) are printed on one line and exit with status 2;
a diverged run exits 1; Ctrl-C (SIGINT) or SIGTERM finishes the step, saves a
checkpoint and exits 130 or 143. Re-running the same command resumes from the
workdir's newest checkpoint that restores; the fields that change what the saved
state means (model, loss and optimizer names, dataset) must stay the same.
"""

import difflib
import os
import re
import signal
import sys
import time

import ml_collections
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to an experiment config (experiments/*.py).", lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Output directory (default: runs/<config file name>).")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval", "edit", "sample"],
                          "train; eval: score the latest checkpoint (writes eval.json); edit: "
                          "classifier-gradient latent editing towards config.edit.target, "
                          "interpolation and arithmetic (writes edit.json and PNGs); sample: "
                          "config.sample.num samples as PNGs and samples.npz in <workdir>/export.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False,
    "Multi-host: call jax.distributed.initialize() before anything else (on TPU pods and "
    "SLURM/Open MPI clusters it finds the other processes itself; elsewhere pass the three "
    "flags below). Every process runs the same command.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None,
                                   "host:port of process 0 (with --distributed).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes (with --distributed).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (with --distributed).")
_CACHE_DIR = flags.DEFINE_string(
    "compilation_cache_dir", None,
    "Keep compiled XLA programs (those that took over a second to compile) in this directory "
    "(JAX's persistent compilation cache): re-running or resuming the same config skips "
    "compiling its train step. Entries are specific to the jax/XLA version and the machine; "
    "off by default.")


def _fail(message: str, code: int = 2) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(code)


class _ConfigFileError(Exception):
  """The --config file is missing, does not import, or its get_config() fails."""


def _describe(err: BaseException) -> str:
  """``'Type: message'`` on one line, for an exception raised by a user's config file."""
  if str(err).startswith("Error whilst parsing config file") and err.__context__ is not None:
    err = err.__context__  # ml_collections re-raised it with a traceback in the message
  return f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"


class _CheckedConfigFile:
  """The --config flag's parser, turning every way a config file can fail into
  `_ConfigFileError` (ml_collections lets some escape as tracebacks and defers a
  missing file until a `--config.x=` override touches it). Keeps the loaded
  config, so an unknown override can be named."""

  def __init__(self, parser):
    self._parser = parser
    self.config = None

  def __getattr__(self, name):
    return getattr(self._parser, name)

  def parse(self, path):
    file = path.split(":", 1)[0]
    if not os.path.isfile(file):
      raise _ConfigFileError(f"--config {file}: no such file" +
                             (" (it is a directory)" if os.path.isdir(file) else ""))
    try:
      config = self._parser.parse(path)
      if not isinstance(config, ml_collections.ConfigDict):
        config.to_dict()  # a deferred load error raises here
    except Exception as err:  # pylint: disable=broad-except  # whatever the file raises
      raise _ConfigFileError(f"--config {file}: could not load it ({_describe(err)})") from None
    if not isinstance(config, ml_collections.ConfigDict):
      raise _ConfigFileError(f"--config {file}: get_config() returned a "
                             f"{type(config).__name__}, not an ml_collections.ConfigDict")
    self.config = config
    return config


flags.FLAGS["config"].parser = _CheckedConfigFile(flags.FLAGS["config"].parser)


def _has_field(config, path: str) -> bool:
  node = config
  for part in path.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      return False
    node = node[part]
  return True


def _field_paths(config, prefix: str = "") -> list:
  """Every dotted field name of `config` ('train.num_steps', ...)."""
  paths = []
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      paths += _field_paths(value, f"{prefix}{key}.")
    else:
      paths.append(f"{prefix}{key}")
  return paths


def _unknown_override(argv) -> str:
  """The message for the first `--config.a.b=v` naming a field the loaded config lacks, with the
  closest existing field when one is close."""
  config = flags.FLAGS["config"].parser.config
  for arg in argv:
    match = re.match(r"--?(?:no)?config\.([^=\[]+)", arg)
    if match and config is not None and not _has_field(config, match.group(1)):
      close = difflib.get_close_matches(match.group(1), _field_paths(config), n=1, cutoff=0.6)
      hint = f"; did you mean {close[0]}?" if close else ""
      return (f"{arg}: the config has no field {match.group(1)}{hint} (the config file lists its "
              "fields; overrides cannot add new ones)")
  return ""


def main(argv) -> None:
  try:
    flags.FLAGS(argv)
  except _ConfigFileError as e:
    _fail(str(e))
  except flags.Error as e:  # unknown flag, unparsable value
    _fail(str(e).splitlines()[0] if str(e) else repr(e))
  except Exception as e:  # pylint: disable=broad-except  # `--config.a.b=v` the config lacks
    _fail(_unknown_override(argv) or f"could not apply the --config overrides ({_describe(e)})")
  if not flags.FLAGS["config"].present:
    _fail("--config is required, e.g. --config experiments/wgan_gp.py")
  config = _CONFIG.value
  config_path = flags.FLAGS["config"].config_filename
  name = os.path.splitext(os.path.basename(config_path))[0]
  workdir = _WORKDIR.value or os.path.join("runs", name)

  if _CACHE_DIR.value:
    import jax
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(_CACHE_DIR.value))
  if _DISTRIBUTED.value and _MODE.value != "train":
    _fail(f"--distributed: only training runs across processes; run --mode={_MODE.value} "
          "in one process (without --distributed)")
  if _DISTRIBUTED.value:
    import jax
    try:
      jax.distributed.initialize(coordinator_address=_COORDINATOR.value,
                                 num_processes=_NUM_PROCESSES.value,
                                 process_id=_PROCESS_ID.value)
    except (ValueError, RuntimeError) as e:
      _fail(f"--distributed: jax.distributed.initialize failed "
            f"({' '.join(str(e).split())[:200]}); pass --coordinator_address, "
            f"--num_processes and --process_id, or run without --distributed")
  elif any(f.present for f in (flags.FLAGS["coordinator_address"], flags.FLAGS["num_processes"],
                               flags.FLAGS["process_id"])):
    _fail("--coordinator_address/--num_processes/--process_id need --distributed")

  # Imported after flag parsing so `--help` and flag errors stay fast.
  from gans_jax.checkpoint import require_checkpoint
  from gans_jax.errors import UserError
  from gans_jax.families.base import step_of
  from gans_jax.trainer import Interrupted, TrainingDiverged, train_and_evaluate

  from gans_jax import summary
  start = time.time()
  try:
    if _MODE.value == "train":
      state = train_and_evaluate(config, workdir, progress=_PROGRESS.value)
      summary.print_summary([f"done: {step_of(state)} steps ({summary.elapsed(start)})"],
                            workdir, start)
    elif _MODE.value == "eval":
      require_checkpoint(workdir, "--mode=eval")  # before loading anything
      from gans_jax.evaluate import evaluate
      summary.print_summary(summary.eval_headline(evaluate(config, workdir)), workdir, start)
    elif _MODE.value == "edit":
      require_checkpoint(workdir, "--mode=edit")
      from gans_jax.edit import edit
      summary.print_summary(summary.edit_headline(edit(config, workdir)), workdir, start)
    elif _MODE.value == "sample" and config.sample.get("split"):
      from gans_jax.export import export_split
      meta = export_split(config, workdir)
      summary.print_summary([f"{meta['num']} real {meta['split']} images"], workdir, start)
    elif _MODE.value == "sample":
      require_checkpoint(workdir, "--mode=sample")
      from gans_jax.export import export_samples
      meta = export_samples(config, workdir)
      summary.print_summary([f"{meta['num']} samples"], workdir, start)
  except UserError as e:
    _fail(str(e))
  except TrainingDiverged as e:
    _fail(str(e), code=1)
  except Interrupted as e:
    name = "SIGTERM" if e.signum == signal.SIGTERM else "interrupt"
    print(f"\n{name}: checkpoint saved in {workdir}/checkpoints; "
          "re-run the same command to resume", file=sys.stderr)
    sys.exit(128 + (e.signum or signal.SIGINT))
  except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint
    print("\naborted", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
  main(sys.argv)
