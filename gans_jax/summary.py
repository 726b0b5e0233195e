"""The short summary each mode of launch.py ends with: its headline numbers and the files it wrote."""

import os
import sys
import time


def written_since(workdir: str, start: float) -> list:
  """The workdir's entries written since `start` (a time.time()): files by name, directories as
  ``name/ (k new)`` with k the number of their entries written since then."""
  out = []
  if not os.path.isdir(workdir):
    return out
  for entry in sorted(os.scandir(workdir), key=lambda e: e.name):
    if entry.name.startswith("."):
      continue
    if entry.is_dir():
      new = [e for e in os.scandir(entry.path) if e.stat().st_mtime >= start]
      if new:
        out.append(f"{entry.name}/ ({len(new)} new)")
    elif entry.stat().st_mtime >= start:
      out.append(entry.name)
  return out


def _fid_line(r: dict) -> str | None:
  if "fid" not in r:
    return None
  line = f"FID {r['fid']:.1f}"
  floor = r.get("fid_train_test")
  if floor:
    line += (f" = {r['fid'] / floor:.2f}x the floor {floor:.2f} (the FID between the training "
             "and test images in the same features)")
  if "precision" in r:
    line += f"; precision {r['precision']:.3f}, recall {r['recall']:.3f}"
  return line


def eval_headline(r: dict) -> list:
  """The numbers `--mode=eval` exists for, one line each, from its results."""
  lines = [_fid_line(r)]
  if "conditional_accuracy" in r:
    lines.append(f"conditional accuracy {r['conditional_accuracy']:.3f} (the domain classifier "
                 "reads the requested class)")
  if "modes" in r:
    lines.append(f"modes covered {r['modes']:g}, high-quality samples {r['high_quality']:.1%}, "
                 f"reverse KL {r['reverse_kl']:.4f}")
  if "elbo" in r:
    lines.append(f"test ELBO {r['elbo']:.1f}, importance-weighted bound "
                 f"{r['log_likelihood_iw']:.1f} nats per image (k = {r['iw_samples']})")
  if "supervised_baseline_accuracy" in r:
    lines.append(f"test accuracy {r['test_accuracy']:.4f} with {r['num_labeled']} labels; the "
                 f"same network on the labels alone {r['supervised_baseline_accuracy']:.4f}")
  if "label_preservation_ab" in r:
    lines.append(f"label preservation {r['label_preservation_ab']:.3f} (A to B), "
                 f"{r['label_preservation_ba']:.3f} (B to A)")
  return [line for line in lines if line]


def edit_headline(r: dict) -> list:
  """The numbers `--mode=edit` exists for, from its results."""
  lines = [f"edit success {r['success_rate']:.3f}: {r['num_edited']} samples moved towards class "
           f"{r['target']} in {r['space']} ({r['num_dropped']} of {r['num_samples']} already "
           f"were that class and were left out); non-target probability change "
           f"{r['non_target_change']:.3f}"]
  transfer = sorted((k for k in r if k.startswith("transfer_success_rate_s")),
                    key=lambda k: float(k.rsplit("_s", 1)[1]))
  if transfer:
    lines.append("the saved direction on new latents, success by scale s: " + ", ".join(
        f"{k.rsplit('_s', 1)[1]}: {r[k]:.3f}" for k in transfer))
  if "real_image_success_rate" in r:
    lines.append(f"real test images: edit success {r['real_image_success_rate']:.3f} "
                 f"({r['real_image_num_edited']} edited)")
  return lines


def print_summary(headline: list, workdir: str, start: float) -> None:
  """Prints the headline lines and the files written in `workdir` since `start`."""
  for line in headline:
    print(line)
  files = written_since(workdir, start)
  if files:
    print(f"wrote in {workdir}: " + ", ".join(files))


def progress_printer(mode: str):
  """``log(message)``: one stderr line ``[mode  12.3 s] message`` (time since the first call),
  so the long stages of eval and edit show they are working."""
  start = time.perf_counter()

  def log(message: str) -> None:
    print(f"[{mode} {time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

  return log


def quiet(message: str) -> None:
  del message


def elapsed(start: float) -> str:
  seconds = time.time() - start
  return f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.1f} min"
