"""The trainer's settings: read once from the config, base_config's defaults for absent fields."""

import importlib

from gans_jax.configs import base_config
from gans_jax.train_settings import TrainSettings


def test_settings_are_the_configs_values():
  config = importlib.import_module("experiments.wgan_gp").get_config()
  config.parallel.cpu_compiler_options = "xla_a=1;xla_b=two"
  s = TrainSettings.from_config(config)
  assert (s.num_steps, s.batch_size, s.log_every, s.sample_every, s.checkpoint_every) == (
      7000, 64, 50, 250, 250)
  assert s.cpu_compiler_options == (("xla_a", "1"), ("xla_b", "two"))
  assert s.event_steps == [50, 250, 250]
  config.eval_every = 100
  assert TrainSettings.from_config(config).event_steps == [50, 250, 250, 100]


def test_an_absent_field_takes_base_configs_default_not_a_second_one():
  config = base_config()
  del config.eval["keep_best"]
  del config.dataset["prefetch_batches"]
  s = TrainSettings.from_config(config)
  assert s.keep_best is base_config().eval.keep_best is True
  assert s.prefetch_batches == base_config().dataset.prefetch_batches == 2
