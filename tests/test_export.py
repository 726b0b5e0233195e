"""--mode=sample (gans_jax.export): PNGs and samples.npz of the latest checkpoint."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from gans_jax import evaluate, export, trainer
from gans_jax.errors import UserError
from gans_jax.image_files import read_image
from gans_jax.latents import sample_latents
from test_train import experiment, shrink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def cgan_run(data_dir, tmp_path_factory):
  """A class-conditional DCGAN trained 4 steps (8x8 digits)."""
  config = shrink(experiment("cgan_digits"), data_dir)
  config.model.conv_impl = "xla"
  workdir = str(tmp_path_factory.mktemp("cgan"))
  trainer.train_and_evaluate(config, workdir, progress=False)
  return config, workdir


def _npz(workdir):
  with np.load(os.path.join(workdir, "export", "samples.npz")) as npz:
    return {k: npz[k] for k in npz.files}


def test_exported_npz_round_trips_to_the_pngs_and_holds_the_generators_samples(cgan_run):
  config, workdir = cgan_run
  config = config.copy_and_resolve_references()
  config.sample.num, config.sample.batch_size = 10, 4
  meta = export.export_samples(config, workdir)
  out = os.path.join(workdir, "export")
  arrays = _npz(workdir)
  images = arrays["arr_0"]
  assert images.dtype == np.uint8 and images.shape == (10, 8, 8, 1)
  pngs = sorted(f for f in os.listdir(out) if f.endswith(".png"))
  assert pngs == [f"{i:06d}.png" for i in range(10)]
  for i, name in enumerate(pngs):
    np.testing.assert_array_equal(read_image(os.path.join(out, name)), images[i])
  # Balanced classes by default; the first batch is G(z, y) for --mode=eval's first latents,
  # quantised as a PNG holds it: round((x + 1) * 127.5).
  np.testing.assert_array_equal(arrays["labels"], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  _, family, state = evaluate.restore_latest(config, workdir)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), evaluate.EVAL_KEY)
  z = sample_latents(jax.random.fold_in(key, 0), 4, family.z_dim)
  x = np.asarray(family.generate(state, z, jax.numpy.arange(4)))
  expected = np.clip(np.floor((x + 1) * 255 / 2 + 0.5), 0, 255)
  assert np.abs(images[:4].astype(int) - expected).max() <= 1  # .5 ties may round either way
  assert np.mean(images[:4] == expected) > 0.99
  assert meta == json.load(open(os.path.join(out, "export.json")))
  assert meta["step"] == 4 and meta["classes"] == "balanced"


def test_classes_and_truncation_are_selectable_and_a_rerun_replaces_the_export(cgan_run):
  config, workdir = cgan_run
  config = config.copy_and_resolve_references()
  config.sample.num, config.sample.batch_size = 5, 5
  config.sample.classes, config.sample.truncation = (3, 7), 0.5
  meta = export.export_samples(config, workdir)
  arrays = _npz(workdir)
  np.testing.assert_array_equal(arrays["labels"], [3, 7, 3, 7, 3])
  assert meta["truncation"] == 0.5 and meta["classes"] == [3, 7]
  # Truncated latents give other images than the prior's, for the same key.
  config.sample.truncation = None
  export.export_samples(config, workdir)
  assert not np.array_equal(_npz(workdir)["arr_0"], arrays["arr_0"])
  # Five files now, not the ten of an earlier export.
  assert len([f for f in os.listdir(os.path.join(workdir, "export")) if f.endswith(".png")]) == 5
  config.sample.classes = (10,)
  with pytest.raises(UserError, match=r"sample\.classes: 10 is not a class"):
    export.export_samples(config, workdir)


def test_unconditional_points_are_exported_as_an_npz_of_floats(data_dir, tmp_path):
  config = shrink(experiment("gan_mlp"), data_dir)
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  config.sample.num = 6
  export.export_samples(config, str(tmp_path))
  arrays = _npz(str(tmp_path))
  assert set(arrays) == {"arr_0"} and arrays["arr_0"].shape == (6, 2)
  assert arrays["arr_0"].dtype == np.float32
  assert not [f for f in os.listdir(tmp_path / "export") if f.endswith(".png")]
  config.sample.classes = (1,)
  with pytest.raises(UserError, match=r"sample\.classes: .* unconditional"):
    export.export_samples(config, str(tmp_path))


def test_a_family_without_a_sampler_is_a_user_error(data_dir, tmp_path):
  config = experiment("classifier_digits")
  config.dataset.data_dir = data_dir
  with pytest.raises(UserError, match="classifier family has no sampler"):
    export.export_samples(config, str(tmp_path))


@pytest.mark.parametrize("field,value", [("num", 0), ("batch_size", 0), ("truncation", -1.0),
                                         ("classes", (-1,))])
def test_bad_sample_fields_are_user_errors_naming_them(field, value, tmp_path):
  config = experiment("dcgan")
  config.sample[field] = value
  with pytest.raises(UserError, match=rf"^sample\.{field}: "):
    export.export_samples(config, str(tmp_path))  # checked before any checkpoint is looked for


def test_launch_sample_mode_without_a_checkpoint_is_one_line_exit_2(tmp_path):
  result = subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), "--config",
                           "experiments/dcgan.py", "--workdir", str(tmp_path), "--mode=sample"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == 2, result.stderr
  lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and "--mode=sample" in lines[0] and "Traceback" not in result.stderr


def test_a_split_exports_its_real_images_for_fid_without_a_checkpoint(data_dir, tmp_path):
  from gans_jax.data import load_dataset
  from gans_jax.image_files import to_uint8
  config = experiment("wgan_gp")
  config.dataset.data_dir = data_dir
  config.sample.split, config.sample.num = "test", 50
  meta = export.export_split(config, str(tmp_path))
  out = tmp_path / "export_test"
  assert meta == {"dataset": "digits", "split": "test", "num": 50, "shape": [50, 16, 16, 1]}
  real = load_dataset("digits", split="test", data_dir=data_dir, resolution=16).get(np.arange(50))
  saved = np.load(out / "samples.npz")
  np.testing.assert_array_equal(saved["arr_0"], to_uint8(real["x"]))
  np.testing.assert_array_equal(saved["labels"], real["y"])
  assert len([f for f in os.listdir(out) if f.endswith(".png")]) == 50
  np.testing.assert_array_equal(read_image(str(out / "000007.png")), saved["arr_0"][7])
  config.sample.split = "validation"
  with pytest.raises(UserError, match=r"validation"):
    export.export_split(config, str(tmp_path))
