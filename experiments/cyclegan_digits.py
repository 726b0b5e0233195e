"""CycleGAN on digits2styled: digits (A) <-> inverted, thickened digits (B), unpaired.

Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", 2017, arXiv:1703.10593: ResNet
generators (width 16, 3 blocks, ONE stride-2 stage at 16x16 where the paper has two
at 128-256px), PatchGAN discriminators, least-squares loss, lambda_cyc = 10, the
identity loss switched OFF (measured below), Adam(2e-4, b1 0.5) constant for the
first half and linearly to 0 over the second, 50-image history pools. Domain B is
the known transform T(a) = -maxpool3x3(a) of domain A (gans_jax/data/builders.py),
so eval.json compares G(a) with T(a) (`translation_error_ab`) beside a vs T(a)
(`identity_error_ab`).

Measured, 2000 steps, classifiers of each domain at 500 steps (test accuracy A
0.981, B 0.983); the CPU was shared with four other jobs (load ~11 on 2 cores), so
the times are upper bounds (the same run took 59 s with two downsamplings on a
quieter machine):

  generator             identity  seed  label_pres ab/ba  transl_ab (identity_ab)  fid_a / fid_b (tr-te 31.4 / 35.9)  train
  1 downsampling (this) off       0     0.969 / 0.961     0.092 (1.220)            13.0 / 15.5                         233 s
  1 downsampling (this) off       1     0.975 / 0.961     0.087 (1.220)            14.1 / 15.5                         259 s
  1 downsampling (this) off       2     0.983 / 0.967     0.088 (1.220)            13.1 / 14.7                         324 s
  0 downsamplings       off       0     0.981 / 0.950     0.094 (1.220)            19.1 / 14.8                         167 s
  2 (the paper's)       off       0     0.536 / 0.494     0.271 (1.220)            163.4 / 191.5                        59 s
  2, 8000 steps         off       0     0.567 / 0.506     0.258 (1.220)            122.3 / 107.4                       739 s
  0 downsamplings       on (5)    0     0.042 / 0.039     0.411 (1.220)            421.8 / 588.5                       279 s
  2 (the paper's)       on (5)    0     0.014 / 0.025     0.563 (1.220)            225.6 / 235.9

Goals met with one downsampling on each of 3 seeds (mean 0.976 / 0.963): label
preservation >= 0.95 both ways, translation
error <= 0.5 x identity error (0.07x). With the paper's two stride-2 stages the 4x4
bottleneck of a 16x16 image lets the generators learn a cycle-consistent relabelling
(G(a) is a well-styled other digit that F maps back: the steganography of Chu,
Zhmoginov & Sandler 2017, arXiv:1712.02950); longer training does not undo it. The
identity loss (G(b) ~ b) asks G to leave inverted images alone while inverting
normal ones, which this inverting T makes a contradiction: it wrecks training.

  python launch.py --config experiments/classifier_digits.py --config.dataset.name=digits2styled_a --workdir runs/classifier_digits2styled_a
  python launch.py --config experiments/classifier_digits.py --config.dataset.name=digits2styled_b --workdir runs/classifier_digits2styled_b
  python launch.py --config experiments/cyclegan_digits.py
  python launch.py --config experiments/cyclegan_digits.py --mode=eval
"""

from gans_jax.families import cyclegan


def get_config():
  config = cyclegan.default_config()

  # Data
  config.dataset.name = "digits2styled"
  config.dataset.resolution = 16

  # Networks
  config.model.g_width = 16
  config.model.g_blocks = 3
  config.model.g_downsampling = 1  # two: labels flip (docstring)
  config.model.d_width = 32
  config.model.d_layers = 1

  # Objective
  config.loss.cycle_weight = 10.0
  config.loss.identity = False  # on: labels flip (docstring)
  config.loss.identity_weight = 5.0
  config.loss.pool_size = 50

  # Optimizers: Adam(2e-4, 0.5), linear decay to 0 over the second half
  config.optimizer.g.learning_rate = 2e-4
  config.optimizer.d.learning_rate = 2e-4
  config.optimizer.decay_start = 0.5

  # Schedule
  config.train.num_steps = 2000
  config.train.batch_size = 8
  config.log_every = 100
  config.sample_every = 500
  config.checkpoint_every = 500
  config.num_sample_images = 8
  return config
