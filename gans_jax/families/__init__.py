"""The model families, by the name `config.family` selects.

Each is one module with `default_config()`, `check_config(config,
num_devices=...)` and a `Family` subclass (see `gans_jax/families/interface.py`
for the interface). Adding a family touches its module, this table, its
experiment config, its tests and the family table of docs/layout.md.
"""

import ml_collections

from gans_jax.configs import check_common
from gans_jax.errors import UserError
from gans_jax.families import classifier, cyclegan, gan, ssgan, vae, vae_gan

# name -> (module, Family subclass)
FAMILIES = {
    "gan": (gan, gan.GAN),
    "vae": (vae, vae.VAE),
    "vae_gan": (vae_gan, vae_gan.VAEGAN),
    "classifier": (classifier, classifier.Classifier),
    "cyclegan": (cyclegan, cyclegan.CycleGAN),
    "ssgan": (ssgan, ssgan.SSGAN),
}


def family_name(config: ml_collections.ConfigDict) -> str:
  """`config.family`, checked against the known families."""
  name = config.get("family", "gan")
  if name not in FAMILIES:
    raise UserError(f"family: {name!r} is not one of {', '.join(FAMILIES)}")
  return name


def get(config: ml_collections.ConfigDict):
  """The `Family` subclass `config.family` names (UserError listing the known ones)."""
  return FAMILIES[family_name(config)][1]


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1):
  """Checks the shared sections and the family's own; returns the Family subclass."""
  name = family_name(config)
  check_common(config, num_devices=num_devices)
  module, cls = FAMILIES[name]
  module.check_config(config, num_devices=num_devices)
  return cls
