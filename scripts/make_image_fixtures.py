"""Small JPEGs (and one PNG) for cnn-runtime's image-folder tests, which
cannot write JPEGs themselves (the library only reads them).

    /root/.venvs/torch/bin/python scripts/make_image_fixtures.py

writes tests/fixtures/images/:
  blue_16x16.jpg      flat blue (0, 0, 255)
  green_12x8.jpg      flat green (0, 255, 0), 12 wide and 8 high
  gradient_32x32.jpg  pixel (x, y) = (8x, 8y, 99)
  exif6_16x8.jpg      16 wide, 8 high, left half red, right half blue,
                      with EXIF orientation 6 (shown turned a quarter
                      clockwise: 8 wide, 16 high, red on top)
  exif6_16x8.png      the same picture as a PNG with an eXIf chunk
"""
from pathlib import Path

from PIL import Image

out = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "images"
out.mkdir(parents=True, exist_ok=True)

Image.new("RGB", (16, 16), (0, 0, 255)).save(out / "blue_16x16.jpg", quality=75)
Image.new("RGB", (12, 8), (0, 255, 0)).save(out / "green_12x8.jpg", quality=75)

gradient = Image.new("RGB", (32, 32))
gradient.putdata([(8 * x, 8 * y, 99) for y in range(32) for x in range(32)])
gradient.save(out / "gradient_32x32.jpg", quality=75)

halves = Image.new("RGB", (16, 8))
halves.putdata([(255, 0, 0) if x < 8 else (0, 0, 255) for y in range(8) for x in range(16)])
exif = Image.Exif()
exif[0x0112] = 6
halves.save(out / "exif6_16x8.jpg", quality=95, exif=exif)
halves.save(out / "exif6_16x8.png", exif=exif)
