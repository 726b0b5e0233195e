"""Library noise is silenced by its exact words, real warnings still show; preparing says so."""

import logging

from absl import logging as absl_logging

from gans_jax.data import load_dataset
from gans_jax.logs import silence_misleading_library_warnings


def test_only_the_misleading_library_warnings_are_silenced(caplog):
  silence_misleading_library_warnings()
  with caplog.at_level(logging.WARNING):
    absl_logging.warning("Using custom data configuration: _IdxConfig(name='x')")
    absl_logging.warning("Variant folder /tmp/d/1.0.0 has no dataset_info.json")
    absl_logging.warning("CheckpointManagerOptions.read_only=True, setting max_to_keep=None.")
    absl_logging.warning("Checkpoint step 5 is corrupt")
  assert [r.getMessage() for r in caplog.records] == ["Checkpoint step 5 is corrupt"]


def test_preparing_an_embedded_dataset_says_nothing_is_downloaded(tmp_path, capsys):
  load_dataset("ring8", data_dir=str(tmp_path))
  out, err = capsys.readouterr()
  assert out == ""  # TFDS's "Downloading and preparing dataset Unknown size" is gone
  assert "preparing gans_jax_ring8 once as array_record" in err and "nothing is downloaded" in err
  load_dataset("ring8", data_dir=str(tmp_path))  # prepared: silent
  assert capsys.readouterr() == ("", "")
