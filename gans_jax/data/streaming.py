"""Host-side batches for datasets too large to live on the device."""

import numpy as np

from gans_jax.data.pipeline import Dataset


class StreamedBatches:
  """``step -> {name: [draws, B_local, ...]}``: the batches one training step reads.

  Indices for step s come from ``numpy.random.default_rng([seed, s])``, so a
  resumed run reads exactly the batches an uninterrupted one would. With
  several processes (multi-host) each reads only its own contiguous slice of
  every global batch: process p of P gets examples [p B/P, (p+1) B/P).
  `draws` is the number of batches one step reads (a GAN's n_critic).
  """

  def __init__(self, dataset: Dataset, seed: int, batch_size: int, draws: int,
               process_index: int = 0, process_count: int = 1, keys=None):
    self.dataset, self.seed = dataset, seed
    self.batch_size, self.draws = batch_size, draws
    self.process_index, self.process_count = process_index, process_count
    self.keys = keys

  def __call__(self, step: int) -> dict:
    rng = np.random.default_rng([self.seed, step])
    idx = rng.integers(0, self.dataset.num_examples, (self.draws, self.batch_size))
    local = self.batch_size // self.process_count
    idx = idx[:, self.process_index * local:(self.process_index + 1) * local]
    batch = self.dataset.get(idx.reshape(-1))
    if self.keys is not None:
      batch = {k: batch[k] for k in self.keys}
    return {k: v.reshape((self.draws, local) + v.shape[1:]) for k, v in batch.items()}
