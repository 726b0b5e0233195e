"""gans_jax/tensorboard_log.py: the event files a run writes parse, and hold what the JSON logs hold.

The files are read back without TensorFlow or tensorboardX's writer code: the TFRecord framing
(uint64 length, uint32 CRC, data, uint32 CRC) is walked here, and each record parsed with the
`Event` protocol buffer.
"""

import glob
import io
import json
import os
import struct

import numpy as np
from PIL import Image
from tensorboardX.proto import event_pb2

from gans_jax import trainer
from gans_jax.families import gan
from gans_jax.tensorboard_log import EventLog, sample_tag


def read_events(path: str) -> list:
  """Every `Event` of one event file, in order; asserts the framing covers the file exactly."""
  data = open(path, "rb").read()
  events, pos = [], 0
  while pos < len(data):
    (length,) = struct.unpack("<Q", data[pos:pos + 8])
    record = data[pos + 12:pos + 12 + length]
    assert len(record) == length, "truncated record"
    events.append(event_pb2.Event.FromString(record))
    pos += 12 + length + 4
  assert pos == len(data)
  return events


def run_events(logdir: str) -> list:
  """The events of every event file in `logdir`, file by file in creation order."""
  files = sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")), key=os.path.getmtime)
  return [read_events(f) for f in files]


def scalars(events) -> dict:
  """{tag: {step: value}} of the scalar summaries."""
  out = {}
  for e in events:
    for v in e.summary.value:
      if v.HasField("simple_value"):
        out.setdefault(v.tag, {})[e.step] = v.simple_value
  return out


def images(events) -> dict:
  """{tag: {step: uint8 [H, W, C]}} of the image summaries, decoded from their PNG bytes."""
  out = {}
  for e in events:
    for v in e.summary.value:
      if v.HasField("image"):
        pixels = np.asarray(Image.open(io.BytesIO(v.image.encoded_image_string)))
        assert pixels.shape == (v.image.height, v.image.width, v.image.colorspace)
        out.setdefault(v.tag, {})[e.step] = pixels
  return out


def test_scalars_and_images_read_back_exactly(tmp_path):
  log = EventLog(str(tmp_path), start=0)
  log.scalars("train", {"step": 3, "d_loss": 0.25, "g_loss": -1.5, "d_loss_per_seed": [1, 2],
                        "flag": True})
  picture = np.random.RandomState(0).randint(0, 256, (6, 10, 3)).astype(np.uint8)
  Image.fromarray(picture).save(tmp_path / "step_0000003.png")
  log.image("samples/grid", str(tmp_path / "step_0000003.png"), 3)
  log.close()
  [events] = run_events(str(tmp_path))
  assert scalars(events) == {"train/d_loss": {3: 0.25}, "train/g_loss": {3: -1.5}}
  np.testing.assert_array_equal(images(events)["samples/grid"][3], picture)
  assert sample_tag("") == "samples/grid" and sample_tag("recon_") == "samples/recon"


def ring8_run(data_dir, num_steps):
  """A tiny MLP GAN on ring8 with in-training evaluation (no classifier needed for 2-D data)."""
  config = gan.default_config()
  config.dataset.name, config.dataset.resolution, config.dataset.data_dir = "ring8", None, data_dir
  config.model.arch, config.model.z_dim = "mlp", 2
  config.model.g_hidden = config.model.d_hidden = (16,)
  config.train.num_steps, config.train.batch_size = num_steps, 32
  config.log_every = config.sample_every = config.checkpoint_every = config.eval_every = 2
  config.num_sample_points, config.eval.num_samples_train = 200, 200
  return config


def test_a_resumed_log_purges_the_steps_from_its_start_on(tmp_path):
  """TensorBoard drops events at steps >= 4 of earlier files when a file starts with
  SessionLog START at step 4: what a run resumed from step 4 writes first."""
  EventLog(str(tmp_path / "fresh"), start=0).close()
  EventLog(str(tmp_path / "resumed"), start=4).close()
  [fresh] = run_events(str(tmp_path / "fresh"))
  [resumed] = run_events(str(tmp_path / "resumed"))
  assert not any(e.HasField("session_log") for e in fresh)
  starts = [(e.session_log.status, e.step) for e in resumed if e.HasField("session_log")]
  assert starts == [(event_pb2.SessionLog.START, 4)]


def test_a_run_logs_its_metrics_eval_rows_and_sample_plots(data_dir, tmp_path):
  """A tiny MLP GAN on ring8 with in-training evaluation (2-D data needs no classifier)."""
  config = gan.default_config()
  config.dataset.name, config.dataset.resolution, config.dataset.data_dir = "ring8", None, data_dir
  config.model.arch, config.model.z_dim = "mlp", 2
  config.model.g_hidden = config.model.d_hidden = (16,)
  config.train.num_steps, config.train.batch_size = 4, 32
  config.log_every = config.sample_every = config.checkpoint_every = config.eval_every = 2
  config.num_sample_points, config.eval.num_samples_train = 200, 200
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  [events] = run_events(str(tmp_path))
  logged = scalars(events)
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  eval_rows = [json.loads(l) for l in open(tmp_path / "eval.jsonl")]
  assert [r["step"] for r in rows] == [r["step"] for r in eval_rows] == [2, 4]
  for section, table, keys in (("train", rows, ("d_loss", "g_loss", "steps_per_s")),
                               ("eval", eval_rows, ("modes", "high_quality"))):
    for row in table:
      for key in keys:
        np.testing.assert_allclose(logged[f"{section}/{key}"][row["step"]], row[key], rtol=1e-6)
  pictures = images(events)["samples/grid"]
  assert sorted(pictures) == [2, 4]
  saved = np.asarray(Image.open(tmp_path / "samples" / "step_0000004.png").convert("RGB"))
  np.testing.assert_array_equal(pictures[4], saved)
