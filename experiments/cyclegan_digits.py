"""CycleGAN on digits2styled: digits (A) <-> inverted, thickened digits (B), unpaired.

Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", 2017, arXiv:1703.10593: ResNet
generators (3 blocks, width 16 at 16x16), PatchGAN discriminators, least-squares
loss, lambda_cyc = 10, identity weight 5, Adam(2e-4, b1 0.5) constant for the
first half and linearly to 0 over the second, 50-image history pools. Domain B is
the known transform T(a) = -maxpool3x3(a) of domain A (gans_jax/data/builders.py),
so eval.json compares G(a) with T(a) (`translation_error_ab`) beside a vs T(a)
(`identity_error_ab`).

Measured (this config, 2-core CPU shared with other jobs; classifiers of each domain
from experiments/classifier_digits.py at 500 steps, test accuracy A 0.981, B 0.983):
training 2000 steps took 4 min 50 s; eval.json: cycle_error_a 0.109, cycle_error_b
0.114, translation_error_ab 0.563 vs identity_error_ab 1.220 (ratio 0.46, goal <= 0.5),
translation_error_ba 0.520, fid_a 225.6 (train-vs-test 31.4), fid_b 235.9 (35.9), but
label_preservation_ab 0.014 and label_preservation_ba 0.025 (goal >= 0.95): NOT MET.
The generators learn a cycle-consistent relabelling (the B classifier's confusion of
G(a) against a's label has an almost empty diagonal; the sample grids show G(a) as
another, well inverted and thickened, digit that F maps back), the failure mode of
Chu, Zhmoginov & Sandler, "CycleGAN, a Master of Steganography", 2017,
arXiv:1712.02950. Variants at 1000 steps did not change it (label_preservation_ab /
_ba): no residual blocks 0.006 / 0.014; identity weight 20 0.011 / 0.047; a 10x10-patch
discriminator (model.d_layers=0) 0.000 / 0.011; resolution 32 0.000 / 0.003.

  python launch.py --config experiments/classifier_digits.py --config.dataset.name=digits2styled_a --workdir runs/classifier_digits2styled_a
  python launch.py --config experiments/classifier_digits.py --config.dataset.name=digits2styled_b --workdir runs/classifier_digits2styled_b
  python launch.py --config experiments/cyclegan_digits.py --workdir runs/cyclegan_digits
  python launch.py --config experiments/cyclegan_digits.py --workdir runs/cyclegan_digits --mode eval
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
  config.model.d_width = 32
  config.model.d_layers = 1

  # Objective
  config.loss.cycle_weight = 10.0
  config.loss.identity = True
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
