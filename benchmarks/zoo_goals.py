"""What the zoo (benchmarks/zoo.py) runs, and the goal each experiment's defaults must reach.

Goals come from the issues that set them: the digits GANs, VAE, VAE-GAN, conditional and
semi-supervised GANs and CycleGAN from the zoo issue (every seed, each training run <= 600 s on
the 2-core CPU); the Fashion-MNIST ones from the real-data issue (each run <= 30 minutes).
A goal is checked on every seed's record; one that compares with another experiment (VAE-GAN
below the VAE, the conditional GAN within 5 points of the classifier) compares with that
experiment's mean over its recorded seeds.
"""

import dataclasses
import operator

import numpy as np

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


@dataclasses.dataclass(frozen=True)
class Goal:
  """`metric` `op` `bound`, or `op` (the mean of `reference`'s `ref_metric`) + `bound`."""
  metric: str
  op: str
  bound: float
  reference: str | None = None
  ref_metric: str | None = None

  def describe(self) -> str:
    if self.reference is None:
      return f"{self.metric} {self.op} {self.bound:g}"
    offset = f" {'+' if self.bound >= 0 else '-'} {abs(self.bound):g}" if self.bound else ""
    return f"{self.metric} {self.op} {self.reference}'s {self.ref_metric}{offset}"

  def threshold(self, records: list) -> float | None:
    """The number the metric is compared with; None when the reference has no record."""
    if self.reference is None:
      return self.bound
    values = [r[self.ref_metric] for r in records
              if r["experiment"] == self.reference and self.ref_metric in r]
    return float(np.mean(values)) + self.bound if values else None

  def check(self, record: dict, records: list) -> bool | None:
    """Met (True), missed (False), or not measurable (None: no such metric or reference)."""
    bound = self.threshold(records)
    if self.metric not in record or bound is None:
      return None
    return bool(_OPS[self.op](record[self.metric], bound))


@dataclasses.dataclass(frozen=True)
class Entry:
  """One experiment of experiments/: its paper, its goals, and whether the zoo edits it."""
  name: str
  paper: str
  goals: tuple = ()
  edit: bool = False


def _digits_gan(name: str, paper: str) -> Entry:
  return Entry(name, paper, (Goal("fid_ratio", "<=", 2.0), Goal("train_seconds", "<=", 600)))


DIGITS_SECONDS = Goal("train_seconds", "<=", 600)
FASHION_SECONDS = Goal("train_seconds", "<=", 1800)

ENTRIES = (
    Entry("classifier_digits", "domain classifier: scores and edits the digits"),
    Entry("classifier_fashion", "domain classifier: scores the Fashion-MNIST experiments",
          (Goal("test_accuracy", ">=", 0.92), FASHION_SECONDS)),
    Entry("gan_mlp", "Goodfellow et al. 2014 (PacGAN's unpacked baseline)"),
    Entry("pacgan_mlp", "Lin et al. 2018",
          # PacGAN's best Table 1 row on ring8: 7.9 modes, 98.2 % high quality, reverse KL 0.07.
          (Goal("modes", ">=", 7.9), Goal("high_quality", ">=", 0.982),
           Goal("reverse_kl", "<=", 0.07), DIGITS_SECONDS)),
    _digits_gan("dcgan", "Radford et al. 2016"),
    _digits_gan("lsgan", "Mao et al. 2017"),
    _digits_gan("hinge", "Lim & Ye 2017; Miyato et al. 2018"),
    _digits_gan("wgan", "Arjovsky et al. 2017"),
    Entry("wgan_gp", "Gulrajani et al. 2017",
          (Goal("fid_ratio", "<=", 2.0), DIGITS_SECONDS), edit=True),
    Entry("cgan_digits", "Mirza & Osindero 2014; Miyato & Koyama 2018",
          (Goal("conditional_accuracy", ">=", 0.98), Goal("fid_ratio", "<=", 1.3),
           Goal("edit_success", ">=", 0.90), DIGITS_SECONDS), edit=True),
    Entry("vae", "Kingma & Welling 2014", (Goal("fid_ratio", "<=", 3.0), DIGITS_SECONDS)),
    Entry("vae_gan", "Larsen et al. 2016",
          (Goal("fid_ratio", "<=", 2.0), Goal("fid", "<", 0.0, "vae", "fid"), DIGITS_SECONDS)),
    Entry("ssgan_digits", "Salimans et al. 2016",
          (Goal("test_accuracy", ">=", 0.93), Goal("semi_supervised_gain", ">=", 0.05),
           DIGITS_SECONDS)),
    Entry("cyclegan_digits", "Zhu et al. 2017",
          (Goal("label_preservation_ab", ">=", 0.95), Goal("label_preservation_ba", ">=", 0.95),
           Goal("translation_ratio_ab", "<=", 0.5), Goal("translation_ratio_ba", "<=", 0.5),
           DIGITS_SECONDS)),
    Entry("dcgan_fashion", "Radford et al. 2016 on Fashion-MNIST",
          (Goal("precision", ">=", 0.80), Goal("recall", ">=", 0.80), FASHION_SECONDS)),
    Entry("cgan_fashion", "Miyato & Koyama 2018 on Fashion-MNIST",
          (Goal("conditional_accuracy", ">=", -0.05, "classifier_fashion", "test_accuracy"),
           FASHION_SECONDS)),
    Entry("vae_fashion", "Kingma & Welling 2014 on Fashion-MNIST", (FASHION_SECONDS,)),
    Entry("vae_gan_fashion", "Larsen et al. 2016 on Fashion-MNIST",
          (Goal("fid", "<", 0.0, "vae_fashion", "fid"), FASHION_SECONDS)),
    Entry("ssgan_fashion", "Salimans et al. 2016 on Fashion-MNIST, 100 labels",
          (Goal("semi_supervised_gain", ">=", 0.05), FASHION_SECONDS)),
)
ENTRY = {e.name: e for e in ENTRIES}


def derived_metrics(record: dict) -> dict:
  """Ratios the goals are stated in, from a record's eval.json metrics."""
  out = {}
  if "fid" in record and record.get("fid_train_test"):
    out["fid_ratio"] = record["fid"] / record["fid_train_test"]
  if "supervised_baseline_accuracy" in record:
    out["semi_supervised_gain"] = (record["test_accuracy"]
                                   - record["supervised_baseline_accuracy"])
  if record.get("identity_error_ab"):
    # Domain B is a known transform of A, so |a - T(a)| is the error of translating by copying.
    for direction in ("ab", "ba"):
      if f"translation_error_{direction}" in record:
        out[f"translation_ratio_{direction}"] = (record[f"translation_error_{direction}"]
                                                 / record["identity_error_ab"])
  return out


def missed_goals(records: list) -> list:
  """One line per (record, goal) that is missed."""
  lines = []
  for r in records:
    entry = ENTRY.get(r["experiment"])
    for goal in entry.goals if entry else ():
      if goal.check(r, records) is False:
        lines.append(f"{r['experiment']} seed {r['seed']}: {goal.metric} = "
                     f"{r[goal.metric]:.4g}, goal {goal.describe()}")
  return lines
