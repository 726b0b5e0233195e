"""gans_jax.image_files: uint8 <-> [-1, 1], PNG round trips, folders and .npz, one-line errors."""

import os

import numpy as np
import pytest
from PIL import Image

from gans_jax import image_files as imf
from gans_jax.errors import UserError


def test_to_uint8_rounds_half_pixel_steps_and_clips():
  # (x + 1) * 127.5: -1 -> 0, 1 -> 255, 0 -> 127.5 (half to even: 128), -0.5 -> 63.75 -> 64.
  x = np.array([-1.0, 1.0, 0.0, -0.5, 0.5, -3.0, 2.0, 1 / 127.5 - 1], np.float32)
  np.testing.assert_array_equal(imf.to_uint8(x), [0, 255, 128, 64, 191, 0, 255, 1])
  assert imf.to_uint8(x).dtype == np.uint8


def test_from_uint8_inverts_to_uint8_on_the_grid_and_is_within_half_a_step_elsewhere():
  u = np.arange(256, dtype=np.uint8)
  np.testing.assert_allclose(imf.from_uint8(u), u / 127.5 - 1, atol=1e-7)
  np.testing.assert_array_equal(imf.to_uint8(imf.from_uint8(u)), u)
  x = np.random.default_rng(0).uniform(-1, 1, 1000).astype(np.float32)
  assert np.max(np.abs(imf.from_uint8(imf.to_uint8(x)) - x)) <= 0.5 / 127.5 + 1e-6


@pytest.mark.parametrize("channels", [1, 3])
def test_png_round_trip_is_exact(channels, tmp_path):
  image = np.random.default_rng(channels).integers(0, 256, (5, 7, channels), dtype=np.uint8)
  path = str(tmp_path / "a.png")
  imf.write_png(path, image)
  np.testing.assert_array_equal(imf.read_image(path), image)


def test_read_image_converts_channels_on_request(tmp_path):
  gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
  imf.write_png(str(tmp_path / "g.png"), gray)
  np.testing.assert_array_equal(imf.read_image(str(tmp_path / "g.png"), 3),
                                np.repeat(gray, 3, -1))
  imf.write_png(str(tmp_path / "rgb_gray.png"), np.repeat(gray, 3, -1))
  np.testing.assert_array_equal(imf.read_image(str(tmp_path / "rgb_gray.png"), 1), gray)
  colour = np.stack([gray[..., 0], gray[..., 0] + 1, gray[..., 0]], -1)
  imf.write_png(str(tmp_path / "colour.png"), colour)
  with pytest.raises(UserError, match=r"colour\.png: colour images"):
    imf.read_image(str(tmp_path / "colour.png"), 1)
  # RGBA drops its alpha, as PIL's convert('RGB') does.
  Image.fromarray(np.dstack([colour, np.full((3, 4), 9, np.uint8)])).save(tmp_path / "a.png")
  np.testing.assert_array_equal(imf.read_image(str(tmp_path / "a.png")), colour)


def test_folder_is_read_recursively_sorted_and_in_batches(tmp_path):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (5, 4, 4, 1), dtype=np.uint8)
  names = ["b/2.png", "a.PNG", "b/1.png", "c/d/0.png", "z.png"]
  for name, image in zip(names, images):
    os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
    imf.write_png(str(tmp_path / name), image)
  (tmp_path / "notes.txt").write_text("not an image")
  source = imf.open_images(str(tmp_path))
  assert source.num == 5 and source.size == (4, 4)
  order = [names.index(n) for n in ["a.PNG", "b/1.png", "b/2.png", "c/d/0.png", "z.png"]]
  batches = list(source.batches(2))
  assert [len(b) for b in batches] == [2, 2, 1]
  np.testing.assert_array_equal(np.concatenate(batches), images[order])


def test_npz_is_read_from_arr_0_or_its_only_array(tmp_path):
  images = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
  np.savez(tmp_path / "a.npz", images, labels=np.arange(3))
  np.savez(tmp_path / "b.npz", x=images)
  np.savez(tmp_path / "gray.npz", images[..., 0])
  np.testing.assert_array_equal(imf.read_npz_images(str(tmp_path / "a.npz")), images)
  np.testing.assert_array_equal(np.concatenate(list(imf.open_images(
      str(tmp_path / "b.npz")).batches(2))), images)
  assert imf.read_npz_images(str(tmp_path / "gray.npz")).shape == (3, 4, 4, 1)


def _broken_png_in_a_folder(d):
  os.makedirs(d / "folder")
  imf.write_png(str(d / "folder" / "a.png"), np.zeros((4, 4, 1), np.uint8))
  (d / "folder" / "broken.png").write_bytes(b"\x89PNG not really")


@pytest.mark.parametrize("make,opened,named", [
    (lambda d: None, "missing", "missing"),
    (lambda d: os.makedirs(d / "empty" / "sub"), "empty", "empty"),
    (_broken_png_in_a_folder, "folder", "folder/broken.png"),
    (lambda d: np.savez(d / "float.npz", np.zeros((2, 4, 4, 1), np.float32)), "float.npz",
     "float.npz"),
    (lambda d: np.savez(d / "two.npz", x=np.zeros((2, 4, 4, 1), np.uint8), y=np.zeros(2)),
     "two.npz", "two.npz"),
    (lambda d: (d / "bad.npz").write_bytes(b"no zip"), "bad.npz", "bad.npz"),
    (lambda d: (d / "x.txt").write_text("x"), "x.txt", "x.txt"),
])
def test_bad_paths_are_one_line_user_errors_naming_the_file(make, opened, named, tmp_path):
  make(tmp_path)
  with pytest.raises(UserError) as e:
    list(imf.open_images(str(tmp_path / opened)).batches(4))
  assert str(tmp_path / named) in str(e.value) and "\n" not in str(e.value)


def test_folder_of_mixed_sizes_names_the_odd_file(tmp_path):
  imf.write_png(str(tmp_path / "a.png"), np.zeros((4, 4, 1), np.uint8))
  imf.write_png(str(tmp_path / "b.png"), np.zeros((5, 4, 1), np.uint8))
  with pytest.raises(UserError, match=r"b\.png: 5x4 pixels, but .*a\.png has 4x4"):
    list(imf.open_images(str(tmp_path)).batches(8))
