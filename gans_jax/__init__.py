"""gans_jax: a JAX/Flax functional research codebase for generative adversarial networks."""

__version__ = "0.1.0"
