"""Idiomatic PyTorch programs of the CPU speed table's two workloads, timed on request.

The speed issue compares gans_jax's steps/s with PyTorch's on the same workloads in one run.
This file is that PyTorch side; `benchmarks/vs_pytorch.py` starts it as a child process (PyTorch
lives in its own environment: the project never imports it) and alternates timing blocks with
gans_jax's. Run alone it times each workload once:

  /path/to/torch/python benchmarks/torch_reference.py --workload dcgan_wgan_gp_32 --steps 5

Workloads (the same networks, losses, optimizers and batch as `benchmarks/throughput.py`'s):

* ``dcgan_wgan_gp_32``: WGAN-GP (Gulrajani et al. 2017) at 32x32x1, z 128, width 64, batch 64,
  5 critic updates per generator update, penalty weight 10 at per-example interpolates
  (``torch.autograd.grad(create_graph=True)``), Adam(4e-4, 0, 0.9) for both, the generator's
  moving average (0.999). G: Linear(128, 4*4*256, no bias) -> BatchNorm -> ReLU -> ConvTranspose
  4x4/2 (256->128, 128->64, no bias) with BatchNorm and ReLU -> ConvTranspose 64->1 -> tanh.
  D: Conv 4x4/2 (1->64) -> LeakyReLU(0.2) -> Conv (64->128, 128->256, no bias) each with a
  per-example layer norm over (C, H, W) with per-channel affine (``GroupNorm(1, C)``, the same
  function as gans_jax's LayerNorm over (H, W, C)) and LeakyReLU -> Linear(4096, 1). Channels-last
  memory format (measured faster here than NCHW on this CPU: see ``--memory_format``).
* ``pacgan_mlp``: the PacGAN 2-D MLPs, batch 100, one D and one G update per step,
  non-saturating loss, Adam(1e-4, 0.8, 0.999). G: 2 -> 4 x [Linear(400, no bias), BatchNorm,
  ReLU] -> Linear(2). D: 3 x [Linear(1000) -> maxout over 5 pieces (200 units)] -> Linear(1).
  Real points are drawn from the 8-Gaussian ring (radius 2, std 0.02) each step.

Threads: ``torch.set_num_threads(os.cpu_count())`` unless ``--threads``.

Protocol with `vs_pytorch.py`: after warm-up, the child prints ``ready``; each line ``N`` on its
stdin times N steps and prints the seconds; end of input ends it.
"""

import argparse
import math
import os
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

WORKLOADS = ("dcgan_wgan_gp_32", "pacgan_mlp")


# ---- dcgan_wgan_gp_32 ---------------------------------------------------------------------

def dcgan_generator(z_dim=128, width=64):
  return nn.Sequential(
      nn.Linear(z_dim, 4 * 4 * 4 * width, bias=False),
      nn.Unflatten(1, (4 * width, 4, 4)),
      nn.BatchNorm2d(4 * width, momentum=0.1), nn.ReLU(),
      nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),
      nn.BatchNorm2d(2 * width), nn.ReLU(),
      nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
      nn.BatchNorm2d(width), nn.ReLU(),
      nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())


def dcgan_critic(width=64):
  return nn.Sequential(
      nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
      nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.GroupNorm(1, 2 * width),
      nn.LeakyReLU(0.2),
      nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False), nn.GroupNorm(1, 4 * width),
      nn.LeakyReLU(0.2),
      nn.Flatten(), nn.Linear(4 * 4 * 4 * width, 1))


class WGANGP:
  def __init__(self, memory_format, batch=64, z_dim=128, n_critic=5, gp_weight=10.0,
               dataset_size=10000):
    self.batch, self.z_dim, self.n_critic, self.gp_weight = batch, z_dim, n_critic, gp_weight
    self.fmt = memory_format
    self.G = dcgan_generator(z_dim).to(memory_format=memory_format)
    self.D = dcgan_critic().to(memory_format=memory_format)
    self.G_ema = [p.detach().clone() for p in self.G.parameters()]
    self.opt_g = torch.optim.Adam(self.G.parameters(), 4e-4, betas=(0.0, 0.9))
    self.opt_d = torch.optim.Adam(self.D.parameters(), 4e-4, betas=(0.0, 0.9))
    # A resident dataset in [-1, 1], batches drawn uniformly with replacement.
    self.data = (torch.rand(dataset_size, 1, 32, 32) * 2 - 1).contiguous(
        memory_format=memory_format)

  def _real(self):
    return self.data[torch.randint(0, self.data.shape[0], (self.batch,))]

  def _penalty(self, real, fake):
    eps = torch.rand(real.shape[0], 1, 1, 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(self.D(x).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

  def step(self):
    for _ in range(self.n_critic):
      real = self._real()
      with torch.no_grad():
        fake = self.G(torch.randn(self.batch, self.z_dim))
      loss = (self.D(fake).mean() - self.D(real).mean()
              + self.gp_weight * self._penalty(real, fake))
      self.opt_d.zero_grad(set_to_none=True)
      loss.backward()
      self.opt_d.step()
    for p in self.D.parameters():
      p.requires_grad_(False)
    g_loss = -self.D(self.G(torch.randn(self.batch, self.z_dim))).mean()
    self.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    self.opt_g.step()
    for p in self.D.parameters():
      p.requires_grad_(True)
    with torch.no_grad():
      torch._foreach_lerp_(self.G_ema, [p.detach() for p in self.G.parameters()], 1 - 0.999)


# ---- pacgan_mlp -----------------------------------------------------------------------------

class Maxout(nn.Module):
  def __init__(self, d_in, units, pieces):
    super().__init__()
    self.units, self.pieces = units, pieces
    self.linear = nn.Linear(d_in, units * pieces)

  def forward(self, x):
    return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(-1)


class PacGANMLP:
  def __init__(self, batch=100):
    self.batch = batch
    layers, d_in = [], 2
    for _ in range(4):
      layers += [nn.Linear(d_in, 400, bias=False), nn.BatchNorm1d(400), nn.ReLU()]
      d_in = 400
    self.G = nn.Sequential(*layers, nn.Linear(400, 2))
    self.D = nn.Sequential(Maxout(2, 200, 5), Maxout(200, 200, 5), Maxout(200, 200, 5),
                           nn.Linear(200, 1))
    self.opt_g = torch.optim.Adam(self.G.parameters(), 1e-4, betas=(0.8, 0.999))
    self.opt_d = torch.optim.Adam(self.D.parameters(), 1e-4, betas=(0.8, 0.999))
    angles = torch.arange(8) * (2 * math.pi / 8)
    self.centers = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)

  def _real(self):
    return self.centers[torch.randint(0, 8, (self.batch,))] + 0.02 * torch.randn(self.batch, 2)

  def step(self):
    real = self._real()
    with torch.no_grad():
      fake = self.G(torch.randn(self.batch, 2))
    d_loss = (F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake)).mean())
    self.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    self.opt_d.step()
    for p in self.D.parameters():
      p.requires_grad_(False)
    g_loss = F.softplus(-self.D(self.G(torch.randn(self.batch, 2)))).mean()
    self.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    self.opt_g.step()
    for p in self.D.parameters():
      p.requires_grad_(True)


def build(workload: str, memory_format: str):
  """The workload's program (`workload` is one of WORKLOADS: argparse checks it)."""
  if workload == "pacgan_mlp":
    return PacGANMLP()
  return WGANGP(torch.channels_last if memory_format == "channels_last"
                else torch.contiguous_format)


def time_steps(model, n: int) -> float:
  start = time.perf_counter()
  for _ in range(n):
    model.step()
  return time.perf_counter() - start


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--workload", required=True, choices=WORKLOADS)
  p.add_argument("--steps", type=int, default=5)
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--threads", type=int, default=os.cpu_count())
  p.add_argument("--memory_format", default="channels_last",
                 choices=("channels_last", "contiguous"))
  p.add_argument("--serve", action="store_true",
                 help="print 'ready' after warm-up, then time N steps per stdin line N")
  args = p.parse_args()
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  model = build(args.workload, args.memory_format)
  time_steps(model, args.warmup)
  if not args.serve:
    s = time_steps(model, args.steps)
    print(f"{args.workload}: torch {torch.__version__}, {args.threads} threads, "
          f"{s / args.steps:.4f} s/step, {args.steps / s:.2f} steps/s")
    return
  print("ready", flush=True)
  for line in sys.stdin:
    print(f"{time_steps(model, int(line)):.6f}", flush=True)


if __name__ == "__main__":
  main()
