"""Datasets for GAN training: TFDS builders for the embedded datasets and the input pipeline.

`load_dataset(name, split=..., data_dir=..., resolution=...)` returns a `Dataset` whose `get(indices)` gives
preprocessed numpy batches {'x', 'y'}; 'digits', 'ring8' and 'grid25' are built into the package, other
names are TFDS image datasets already prepared in `data_dir`. No TensorFlow is needed.
"""

from gans_jax.data.builders import BUILDERS
from gans_jax.data.builders import mixture_centers
from gans_jax.data.pipeline import Dataset
from gans_jax.data.pipeline import load_dataset
from gans_jax.data.pipeline import preprocess_images

EMBEDDED_DATASETS = tuple(BUILDERS)

__all__ = [
    'Dataset',
    'EMBEDDED_DATASETS',
    'load_dataset',
    'mixture_centers',
    'preprocess_images',
]
