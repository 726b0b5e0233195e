"""gans_jax/configs.py: every field an experiment leaves at None can still be set from the command line."""

import glob
import os

from absl import flags
from ml_collections import config_dict
from ml_collections import config_flags
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENT_FILES = sorted(glob.glob(os.path.join(ROOT, "experiments", "*.py")))
# A command-line value for each type a None field may hold, and what it parses to.
_VALUES = {int: ("8", 8), float: ("0.5", 0.5), str: ("some/dir", "some/dir")}


def parse(path: str, *overrides: str):
  """The config launch.py would build: `--config PATH` (locked, as launch.py defines it) and overrides."""
  argv = ["launch.py", f"--config={path}", *overrides]
  values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", None, "", flag_values=values, lock_config=True,
                                  sys_argv=argv)
  values(argv)
  return values.config


def none_fields(config, prefix=""):
  """{dotted name: the field's declared type (None for an untyped None)} of the fields that are None."""
  out = {}
  for key in config.keys():
    field = config._fields[key]  # pylint: disable=protected-access  # the raw field, not its value
    if isinstance(field, config_dict.ConfigDict):
      out.update(none_fields(field, f"{prefix}{key}."))
    elif isinstance(field, config_dict.FieldReference) and field.get() is None:
      out[f"{prefix}{key}"] = field.get_type()
    elif field is None:
      out[f"{prefix}{key}"] = None
  return out


def test_resolution_none_on_gan_mlp_is_overridable_from_the_command_line():
  """The case of issue 18: gan_mlp sets dataset.resolution=None (2-D points)."""
  path = os.path.join(ROOT, "experiments", "gan_mlp.py")
  assert parse(path).dataset.resolution is None
  assert parse(path, "--config.dataset.resolution=8").dataset.resolution == 8
  with pytest.raises(flags.IllegalFlagValueError):
    parse(path, "--config.dataset.resolution=eight")


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=os.path.basename)
def test_every_none_field_of_every_experiment_takes_a_command_line_value(path):
  fields = none_fields(parse(path))
  assert "dataset.data_dir" in fields  # the walk sees the placeholders
  untyped = [name for name, kind in fields.items() if kind is None]
  assert not untyped, f"plain None (use config_dict.placeholder(type)): {untyped}"
  for name, kind in fields.items():
    text, value = _VALUES[kind]
    config = parse(path, f"--config.{name}={text}")
    node = config
    for part in name.split("."):
      node = node[part]
    assert node == value, name


def test_conv_impl_may_change_on_resume_but_other_model_fields_may_not():
  """A run saved as 'xla' on a GPU resumes here as 'winograd' (same function, same parameters)."""
  from gans_jax import configs
  from gans_jax.errors import UserError
  configs.check_resumable({"model.conv_impl": ["xla", "winograd"]}, "config.json")
  with pytest.raises(UserError, match=r"model\.d_width"):
    configs.check_resumable({"model.conv_impl": ["xla", "winograd"], "model.d_width": [8, 16]},
                            "config.json")
