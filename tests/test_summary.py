"""The end-of-mode summaries: headline numbers computed from the results, files by mtime."""

import os

from gans_jax import summary


def test_the_eval_headline_gives_fid_as_a_multiple_of_its_floor_and_each_familys_numbers():
  lines = summary.eval_headline({
      "fid": 102.2, "fid_train_test": 51.1, "precision": 0.6721, "recall": 0.9334,
      "elbo": -130.14, "log_likelihood_iw": -127.71, "iw_samples": 100,
      "test_accuracy": 0.9451, "supervised_baseline_accuracy": 0.8862, "num_labeled": 50})
  assert lines[0].startswith("FID 102.2 = 2.00x the floor 51.10")
  assert lines[0].endswith("precision 0.672, recall 0.933")
  assert lines[1] == "test ELBO -130.1, importance-weighted bound -127.7 nats per image (k = 100)"
  assert lines[2] == ("test accuracy 0.9451 with 50 labels; the same network on the labels "
                      "alone 0.8862")
  assert summary.eval_headline({"modes": 8.0, "high_quality": 0.982, "reverse_kl": 0.0017}) == [
      "modes covered 8, high-quality samples 98.2%, reverse KL 0.0017"]


def test_the_edit_headline_counts_what_was_edited_and_the_transfer_by_scale():
  lines = summary.edit_headline({
      "success_rate": 0.755, "num_edited": 241, "num_dropped": 15, "num_samples": 256,
      "target": 7, "space": "z", "non_target_change": 0.1234,
      "transfer_success_rate_s25": 0.5, "transfer_success_rate_s100": 0.9})
  assert lines[0] == ("edit success 0.755: 241 samples moved towards class 7 in z (15 of 256 "
                      "already were that class and were left out); non-target probability "
                      "change 0.123")
  assert lines[1] == "the saved direction on new latents, success by scale s: 25: 0.500, 100: 0.900"


def test_written_since_lists_new_files_and_counts_new_entries_of_directories(tmp_path):
  old, new = tmp_path / "config.json", tmp_path / "eval.json"
  (tmp_path / "samples").mkdir()
  for path in (old, new, tmp_path / "samples" / "a.png", tmp_path / "samples" / "b.png",
               tmp_path / ".lock"):
    path.write_text("x")
  os.utime(old, (1000.0, 1000.0))
  os.utime(tmp_path / "samples" / "a.png", (1000.0, 1000.0))
  assert summary.written_since(str(tmp_path), 2000.0) == ["eval.json", "samples/ (1 new)"]
