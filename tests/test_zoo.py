"""benchmarks/zoo.py's goals and report: checked on hand-made records (no training here)."""

import glob
import os
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import zoo  # noqa: E402
import zoo_goals  # noqa: E402
import zoo_report  # noqa: E402
from zoo_goals import Goal  # noqa: E402


def test_the_zoo_covers_every_experiment():
  files = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "experiments", "*.py"))}
  assert set(zoo_goals.ENTRY) == files


def test_derived_metrics_are_the_ratios_the_goals_name():
  record = {"fid": 102.0, "fid_train_test": 51.0, "test_accuracy": 0.95,
            "supervised_baseline_accuracy": 0.88, "identity_error_ab": 1.25,
            "translation_error_ab": 0.1, "translation_error_ba": 0.5}
  out = zoo_goals.derived_metrics(record)
  assert out["fid_ratio"] == pytest.approx(2.0)
  assert out["semi_supervised_gain"] == pytest.approx(0.07)
  assert out["translation_ratio_ab"] == pytest.approx(0.08)
  assert out["translation_ratio_ba"] == pytest.approx(0.4)
  assert zoo_goals.derived_metrics({"fid": 3.0}) == {}


def test_goal_checks_absolute_and_reference_bounds():
  assert Goal("fid_ratio", "<=", 2.0).check({"fid_ratio": 2.0}, []) is True
  assert Goal("fid_ratio", "<=", 2.0).check({"fid_ratio": 2.01}, []) is False
  assert Goal("fid_ratio", "<=", 2.0).check({}, []) is None
  records = [{"experiment": "vae", "seed": 0, "fid": 100.0},
             {"experiment": "vae", "seed": 1, "fid": 120.0}]
  below_vae = Goal("fid", "<", 0.0, "vae", "fid")  # below the VAE's mean, 110
  assert below_vae.check({"fid": 109.0}, records) is True
  assert below_vae.check({"fid": 110.0}, records) is False
  assert below_vae.check({"fid": 50.0}, []) is None  # no VAE record: not measurable
  within = Goal("conditional_accuracy", ">=", -0.05, "classifier_fashion", "test_accuracy")
  clf = [{"experiment": "classifier_fashion", "seed": 0, "test_accuracy": 0.92}]
  assert within.check({"conditional_accuracy": 0.871}, clf) is True
  assert within.check({"conditional_accuracy": 0.869}, clf) is False
  assert within.describe() == ("conditional_accuracy >= classifier_fashion's test_accuracy "
                               "- 0.05")


def test_missed_goals_name_the_seed_the_metric_and_the_goal():
  records = [{"experiment": "dcgan", "seed": 0, "fid_ratio": 1.9, "train_seconds": 100.0},
             {"experiment": "dcgan", "seed": 1, "fid_ratio": 2.5, "train_seconds": 700.0}]
  assert zoo_goals.missed_goals(records) == [
      "dcgan seed 1: fid_ratio = 2.5, goal fid_ratio <= 2",
      "dcgan seed 1: train_seconds = 700, goal train_seconds <= 600"]


def test_summaries_are_mean_sample_std_and_the_worse_direction():
  s = zoo_report.summarize([100.0, 110.0], "fid")
  assert (s["mean"], s["worst"], s["n"]) == (105.0, 110.0, 2)
  assert s["std"] == pytest.approx(np.sqrt(50.0))
  assert zoo_report.summarize([0.9, 0.95, 0.8], "test_accuracy")["worst"] == 0.8
  assert zoo_report.cell([{"fid": 100.0}, {"fid": 110.0}], "fid") == "105.0 ± 7.1 (worst 110.0)"
  assert zoo_report.cell([{"precision": 0.6861}], "precision") == "0.686"
  assert zoo_report.cell([{}], "precision") == ""


def _grid(path, width):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.new("RGB", (width, width // 2), "gray").save(path)


def test_render_writes_the_tables_thumbnails_and_mosaic_from_the_records(tmp_path):
  runs = tmp_path / "repo"
  for name in ("dcgan", "vae"):
    _grid(str(runs / "runs" / "zoo" / name / "seed_0" / "samples" / "step_0000010.png"), 600)
  _grid(str(runs / "runs" / "zoo" / "dcgan" / "seed_0" / "samples" / "step_0000005.png"), 300)
  # The vae run was evaluated after --mode=eval wrote its grid of scored samples: that one shows.
  Image.new("RGB", (400, 400), "gray").save(runs / "runs" / "zoo" / "vae" / "seed_0" /
                                            "eval_samples.png")
  records = [
      {"experiment": "dcgan", "seed": 0, "family": "gan", "steps": 10, "train_seconds": 90.0,
       "fid": 100.0, "fid_train_test": 50.0, "fid_ratio": 2.0, "precision": 0.7, "recall": 0.9},
      {"experiment": "dcgan", "seed": 1, "family": "gan", "steps": 10, "train_seconds": 95.0,
       "fid": 110.0, "fid_train_test": 50.0, "fid_ratio": 2.2, "precision": 0.6, "recall": 0.8},
      {"experiment": "vae", "seed": 0, "family": "vae", "steps": 10, "train_seconds": 30.0,
       "fid": 140.0, "fid_train_test": 50.0, "fid_ratio": 2.8, "elbo": -130.1}]
  out = tmp_path / "docs"
  missed = zoo_report.render(records, str(out), runs_root=str(runs))
  assert missed == ["dcgan seed 1: fid_ratio = 2.2, goal fid_ratio <= 2"]
  text = (out / "results.md").read_text()
  assert "| [dcgan](#dcgan) | gan | Radford et al. 2016 | 10 | 2 | 92 ± 4 (worst 95) " in text
  assert "| 105.0 ± 7.1 (worst 110.0) | 2.100 ± 0.141 (worst 2.200) |" in text
  assert "**missed** (1 of 4 checks)" in text and "| elbo | -130.1 | -130.1 |" in text
  assert "fid_ratio <= 2: met, **missed**" in text
  with Image.open(out / "images" / "zoo" / "dcgan.png") as thumb:
    assert thumb.size == (240, 120)  # the newest grid (step 10, 600 wide), scaled to 240
  assert (out / "images" / "zoo" / "mosaic.png").exists()
  with Image.open(out / "images" / "zoo" / "vae.png") as thumb:
    assert thumb.size == (240, 240)  # the square eval grid, not the 2:1 training grid
  assert "![dcgan, seed 0: samples](images/zoo/dcgan.png)" in text


def test_merge_replaces_a_rerun_seed_and_keeps_the_zoo_order():
  old = [{"experiment": "vae", "seed": 0, "fid": 1.0}, {"experiment": "dcgan", "seed": 0}]
  merged = zoo.merge(old, [{"experiment": "vae", "seed": 0, "fid": 2.0}])
  assert [(r["experiment"], r.get("fid")) for r in merged] == [("dcgan", None), ("vae", 2.0)]


def test_an_unknown_experiment_is_one_error_line():
  with pytest.raises(SystemExit, match="--only: no experiment nope in the zoo"):
    zoo.selected_entries(["nope"])


def _zoo_classifier_run(root, seed: int, dataset: str) -> None:
  run = root / "runs" / "zoo" / "classifier_fashion" / "seed_0"
  run.mkdir(parents=True)
  (run / "classifier.json").write_text('{"test_accuracy": 0.92}')
  (run / "config.json").write_text(f'{{"seed": {seed}, "dataset": {{"name": "{dataset}"}}}}')


def test_a_missing_classifier_is_copied_from_the_zoos_own_seed_0_run(tmp_path, monkeypatch):
  monkeypatch.setattr(zoo, "ROOT", str(tmp_path))
  monkeypatch.setattr(zoo, "launch", lambda *a: pytest.fail("trained where a copy was due"))
  _zoo_classifier_run(tmp_path, 0, zoo.idx.FASHION_MNIST)
  zoo.ensure_classifier(os.path.join("runs", "classifier_fashion"), zoo.idx.FASHION_MNIST)
  copied = tmp_path / "runs" / "classifier_fashion" / "classifier.json"
  assert copied.read_text() == '{"test_accuracy": 0.92}'


@pytest.mark.parametrize("seed, dataset", [(1, None), (0, "idx:/elsewhere")])
def test_a_zoo_classifier_of_another_seed_or_dataset_is_not_copied(tmp_path, monkeypatch, seed,
                                                                   dataset):
  monkeypatch.setattr(zoo, "ROOT", str(tmp_path))
  launched = []
  monkeypatch.setattr(zoo, "launch", lambda args, log: launched.append(args))
  _zoo_classifier_run(tmp_path, seed, dataset or zoo.idx.FASHION_MNIST)
  zoo.ensure_classifier(os.path.join("runs", "classifier_fashion"), zoo.idx.FASHION_MNIST)
  assert not (tmp_path / "runs" / "classifier_fashion").exists()
  assert launched and launched[0][:2] == ["--config", "experiments/classifier_fashion.py"]
