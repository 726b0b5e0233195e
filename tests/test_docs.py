"""The documentation stays true to the code: every config field is in docs/config.md."""

import os
import re

import pytest

from gans_jax.families import FAMILIES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIMIZER_FIELDS = ("name", "learning_rate", "b1", "b2", "decay", "schedule", "warmup_steps",
                    "decay_steps", "final_scale")


def _fields(config, prefix=""):
  for key, value in config.items():
    path = f"{prefix}{key}"
    if hasattr(value, "items"):
      yield from _fields(value, path + ".")
    else:
      yield path


def _sections(text: str) -> dict:
  """docs/config.md's '## ' sections by the family name in their heading ('shared' first)."""
  parts = re.split(r"^## ", text, flags=re.M)
  out = {"shared": parts[1]}
  for part in parts[2:]:
    m = re.match(r"`(\w+)`", part)
    if m:
      out[m.group(1)] = part
  return out


def _documented(path: str, section: str, shared: str) -> bool:
  """The field's dotted name in backticks in its family's section or the shared one; an optimizer
  section's fields (optimizer.g.b1) are documented once for all, by the section's name."""
  parts = path.split(".")
  if parts[0] == "optimizer" and len(parts) == 3 and parts[2] in OPTIMIZER_FIELDS:
    return re.search(rf"`optimizer\.{parts[1]}`", section) is not None
  names = [f"`{path}`"]
  if len(parts) > 1:  # rows like "`optimizer.schedule`, `warmup_steps`" name later fields short
    names.append(f"`{parts[-1]}`")
  return f"`{path}`" in section or f"`{path}`" in shared or any(
      n in line for line in section.splitlines() + shared.splitlines()
      if f"`{'.'.join(parts[:-1])}." in line for n in names)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_default_config_field_is_in_the_config_reference(family):
  with open(os.path.join(ROOT, "docs", "config.md")) as f:
    sections = _sections(f.read())
  assert family in sections, f"docs/config.md has no section for {family!r}"
  module = FAMILIES[family][0]
  missing = [p for p in _fields(module.default_config())
             if not _documented(p, sections[family], sections["shared"])]
  assert not missing, f"fields of {family} missing from docs/config.md: {missing}"
