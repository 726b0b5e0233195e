"""FID, KID, precision/recall and density/coverage between two sets of images.

    python -m gans_jax.fid PATH_A PATH_B [--features inception|classifier:DIR]
                           [--inception_path FILE] [--batch_size 50]
    python -m gans_jax.fid PATH --save_stats OUT.npz [--no-stats_features]

Each PATH is a folder of PNG/JPEG files (recursive), an `.npz` of uint8 images
[N, H, W, C] (see `gans_jax.image_files`), or a statistics file written by
``--save_stats``. Prints one JSON line: ``fid``, ``kid``, ``kid_std``,
``precision``, ``recall``, ``density``, ``coverage``, ``num_a``, ``num_b``,
``features``. PATH_A is the set under test (samples), PATH_B the reference
(real images): precision is the fraction of A inside B's k-NN manifold, recall
the fraction of B inside A's (Kynkaanniemi et al. 2019); density/coverage
(Naeem et al. 2020) likewise; both compare the first min(num_a, num_b) of each.

Features (`gans_jax.features`): without ``--features``, the space a statistics file among the
PATHs was saved in (it records the ``--features`` that made it), else ``inception``: the FID
InceptionV3 with pytorch-fid's weights (``--inception_path``: the ``.pth`` or
its converted ``.npz``; default ``~/.cache/gans_jax/``): images are uint8 and
resized to 299x299 bilinearly without antialiasing, as pytorch-fid and clean-fid's
``legacy_pytorch`` mode do. ``classifier:DIR``: the domain classifier exported in
the classifier-family workdir DIR.

A statistics file (``.npz``) holds ``mu`` [F] and ``sigma`` [F, F] (float64,
pytorch-fid's names, so its statistics files are read too), ``num``, the
feature space (``features``, ``fingerprint``: a hash of the network's weights,
so statistics from other weights are refused), and by default the features
themselves (``feats`` [N, F] float32), which KID, precision/recall and
density/coverage need. Without them (``--no-stats_features``: small files, or a
pytorch-fid file) those metrics are ``null`` and a ``note`` says why; FID is
exact either way. Bad paths, empty folders and unreadable files give one
``error:`` line naming the file, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from typing import NamedTuple

import numpy as np

from gans_jax.atomic import atomic_path
from gans_jax.errors import UserError

# Keys of a statistics file (mu and sigma as pytorch-fid names them).
STATS_KEYS = ("mu", "sigma")


class Stats(NamedTuple):
  """Feature statistics of one set of images."""
  mu: np.ndarray  # [F] float64
  sigma: np.ndarray  # [F, F] float64, unbiased covariance
  num: int | None
  features: np.ndarray | None  # [N, F] float32, or None (mean/cov only)
  space: str | None  # "inception" or "classifier"; None: not recorded (pytorch-fid files)
  fingerprint: str | None
  spec: str | None = None  # the --features that made it ("classifier:DIR"); None: not recorded


def stats_of_features(features: np.ndarray, space: str, fingerprint: str) -> Stats:
  features = np.asarray(features, np.float32)
  if len(features) < 2:
    raise UserError(f"{len(features)} image(s): FID needs at least 2")
  f64 = features.astype(np.float64)
  return Stats(f64.mean(0), np.cov(f64, rowvar=False), len(features), features, space,
               fingerprint)


def is_stats_file(path: str) -> bool:
  """An `.npz` holding ``mu`` and ``sigma`` (not images)."""
  if not (os.path.isfile(path) and path.lower().endswith(".npz")):
    return False
  try:
    with np.load(path, allow_pickle=False) as npz:
      return all(k in npz.files for k in STATS_KEYS)
  except (OSError, ValueError, zipfile.BadZipFile, EOFError):
    return False  # reported when it is read as images


def load_stats(path: str) -> Stats:
  with np.load(path, allow_pickle=False) as npz:
    get = lambda k: npz[k] if k in npz.files else None  # noqa: E731
    mu, sigma, feats = get("mu"), get("sigma"), get("feats")
    num, space, fingerprint = get("num"), get("features"), get("fingerprint")
    spec = get("features_spec")
  if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
    raise UserError(f"{path}: mu {mu.shape} and sigma {sigma.shape} are not [F] and [F, F]")
  if feats is not None and (feats.ndim != 2 or feats.shape[1] != len(mu)):
    raise UserError(f"{path}: feats {feats.shape} do not match mu {mu.shape}")
  return Stats(mu.astype(np.float64), sigma.astype(np.float64),
               None if num is None else int(num), feats,
               None if space is None else str(space),
               None if fingerprint is None else str(fingerprint),
               None if spec is None else str(spec))


def save_stats(path: str, stats: Stats, *, with_features: bool = True) -> None:
  arrays = dict(mu=stats.mu, sigma=stats.sigma, num=np.int64(stats.num),
                features=np.str_(stats.space), fingerprint=np.str_(stats.fingerprint))
  if stats.spec:
    arrays["features_spec"] = np.str_(stats.spec)
  if with_features:
    arrays["feats"] = stats.features
  with atomic_path(path, ".npz") as tmp:
    np.savez(tmp, **arrays)


def _extractor(spec: str, inception_path: str | None, batch_size: int):
  from gans_jax.features import ClassifierFeatures, InceptionFeatures  # pylint: disable=import-outside-toplevel
  if spec == "inception":
    return InceptionFeatures(inception_path, batch_size=batch_size, field="--inception_path")
  return ClassifierFeatures(spec[len("classifier:"):], batch_size=batch_size)


def _feature_kind(spec: str) -> str:
  if spec == "inception" or (spec.startswith("classifier:") and spec[len("classifier:"):]):
    return spec.split(":", 1)[0]
  raise UserError(f"--features: {spec!r} is neither 'inception' nor 'classifier:DIR'")


def image_stats(source, extractor) -> Stats:
  """Statistics of an `ImageSource` (folder or .npz) in `extractor`'s features."""
  from gans_jax.image_files import from_uint8  # pylint: disable=import-outside-toplevel
  features = [extractor(from_uint8(batch))[0]
              for batch in source.batches(extractor.batch_size, extractor.channels)]
  try:
    return stats_of_features(np.concatenate(features), extractor.kind, extractor.fingerprint)
  except UserError as e:
    raise UserError(f"{source.path}: {e}") from None


def _check_compatible(named: list[tuple[str, Stats]], kind: str) -> None:
  """All statistics are of `kind` features, and of one network's weights."""
  seen = {}
  for path, stats in named:
    space = stats.space or "inception"  # pytorch-fid's files record nothing: Inception's
    if space != kind:
      raise UserError(f"{path}: statistics of {space} features ({stats.spec or space}), but "
                      f"the other input is scored in {kind} features")
    if stats.fingerprint:
      seen.setdefault(stats.fingerprint, path)
  if len(seen) > 1:
    (fp_a, path_a), (fp_b, path_b) = list(seen.items())[:2]
    raise UserError(f"{path_b}: features of other {kind} weights (fingerprint {fp_b}) than "
                    f"{path_a} ({fp_a}); compute both with the same network")


def collect_stats(paths: list[str], spec: str, inception_path: str | None,
                  batch_size: int) -> list[Stats]:
  """Statistics of each path (images or a statistics file). Every path is opened (and
  its errors reported) before the network loads; it loads only if there are images."""
  from gans_jax.image_files import open_images  # pylint: disable=import-outside-toplevel
  kind = _feature_kind(spec)
  opened = [load_stats(p) if is_stats_file(p) else open_images(p) for p in paths]
  extractor = None
  if not all(isinstance(x, Stats) for x in opened):
    extractor = _extractor(spec, inception_path, batch_size)
  stats = [x if isinstance(x, Stats) else image_stats(x, extractor) for x in opened]
  _check_compatible(list(zip(paths, stats)), kind)
  return stats


NO_FEATURES_NOTE = ("kid, precision, recall, density and coverage need the features: a "
                    "statistics file holds only mean and covariance (written with "
                    "--no-stats_features, or by pytorch-fid)")


def compare(a: Stats, b: Stats, *, pr_k: int = 3, dc_k: int = 5, kid_subsets: int = 100,
            kid_subset_size: int = 1000) -> dict:
  """The metrics of set `a` (samples) against set `b` (reference), as the JSON line holds them."""
  import jax  # pylint: disable=import-outside-toplevel
  from gans_jax import metrics  # pylint: disable=import-outside-toplevel
  out = {}
  with jax.enable_x64(True):  # float64 FID, as recommended for 2048-d features
    out["fid"] = float(metrics.frechet_distance(a.mu, a.sigma, b.mu, b.sigma))
  names = ("kid", "kid_std", "precision", "recall", "density", "coverage")
  if a.features is None or b.features is None:
    out.update(dict.fromkeys(names), note=NO_FEATURES_NOTE)
  else:
    n = min(len(a.features), len(b.features))
    for k, flag in ((pr_k, "--pr_k"), (dc_k, "--dc_k")):
      if not 1 <= k <= n - 1:
        raise UserError(f"{flag}: {k} needs 1 <= k <= {n - 1} (the smaller set has {n} images)")
    kid, kid_std = metrics.kernel_inception_distance(
        b.features, a.features, num_subsets=kid_subsets, subset_size=kid_subset_size)
    out.update(kid=float(kid), kid_std=float(kid_std))
    pr = metrics.precision_recall(b.features[:n], a.features[:n], k=pr_k)
    dc = metrics.density_coverage(b.features[:n], a.features[:n], k=dc_k)
    out.update({k: float(v) for k, v in {**pr, **dc}.items()})
  out.update(num_a=a.num, num_b=b.num)
  return out


class _Parser(argparse.ArgumentParser):
  """argparse whose usage errors are one ``error:`` line, exit 2."""

  def error(self, message):
    print(f"error: {message} (python -m gans_jax.fid --help)", file=sys.stderr)
    sys.exit(2)


def _parser() -> argparse.ArgumentParser:
  p = _Parser(prog="python -m gans_jax.fid", description=__doc__.split("\n\n")[0])
  p.add_argument("paths", nargs="+", metavar="PATH",
                 help="a folder of PNG/JPEG files, an .npz of uint8 images, or a statistics file")
  p.add_argument("--features", default=None,
                 help="inception or classifier:DIR; default: the space a statistics file among "
                      "the PATHs was saved in, else inception")
  p.add_argument("--inception_path", default=None,
                 help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth or its converted "
                      ".npz (default: ~/.cache/gans_jax/)")
  p.add_argument("--batch_size", type=int, default=50, help="images per network call")
  p.add_argument("--save_stats", metavar="OUT.npz", default=None,
                 help="write the statistics of the one PATH to OUT.npz instead of comparing")
  p.add_argument("--stats_features", action=argparse.BooleanOptionalAction, default=True,
                 help="keep the features in the statistics file (KID, P/R, D/C need them)")
  p.add_argument("--pr_k", type=int, default=3, help="k of precision/recall")
  p.add_argument("--dc_k", type=int, default=5, help="k of density/coverage")
  p.add_argument("--kid_subsets", type=int, default=100)
  p.add_argument("--kid_subset_size", type=int, default=1000)
  return p


def run(args: argparse.Namespace) -> dict:
  """What `main` prints, for parsed arguments; raises UserError."""
  if args.save_stats is not None and len(args.paths) != 1:
    raise UserError(f"--save_stats: give one PATH, got {len(args.paths)}")
  if args.save_stats is None and len(args.paths) != 2:
    raise UserError(f"give two PATHs to compare (or one with --save_stats), got {len(args.paths)}")
  if args.batch_size < 1:
    raise UserError(f"--batch_size: must be >= 1, got {args.batch_size}")
  if args.save_stats is not None and is_stats_file(args.paths[0]):
    raise UserError(f"{args.paths[0]}: is a statistics file already; --save_stats takes images")
  spec = args.features or recorded_spec(args.paths) or "inception"
  stats = collect_stats(args.paths, spec, args.inception_path, args.batch_size)
  if args.save_stats is not None:
    save_stats(args.save_stats, stats[0]._replace(spec=spec), with_features=args.stats_features)
    return {"wrote": args.save_stats, "num": stats[0].num, "features": spec}
  result = compare(*stats, pr_k=args.pr_k, dc_k=args.dc_k, kid_subsets=args.kid_subsets,
                   kid_subset_size=args.kid_subset_size)
  return {**result, "features": spec}


def recorded_spec(paths: list[str]) -> str | None:
  """The --features that the statistics files among `paths` were saved with (None if none
  records one); two that differ are an error naming both."""
  found = []
  for p in paths:
    if is_stats_file(p):
      with np.load(p, allow_pickle=False) as npz:  # the one key: the arrays load later, once
        if "features_spec" in npz.files:
          found.append((p, str(npz["features_spec"])))
  if len({spec for _, spec in found}) > 1:
    (path_a, a), (path_b, b) = found[:2]
    raise UserError(f"{path_b}: statistics in {b} features, but {path_a} holds {a}; compare "
                    "statistics of one feature space")
  return found[0][1] if found else None


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  try:
    result = run(args)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(json.dumps(result))
  return 0


if __name__ == "__main__":
  sys.exit(main())
