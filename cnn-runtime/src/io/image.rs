//! 8-bit PNG images in and out, through the `png` crate: enough for the
//! examples (edge detection on a photo, galleries of filters and feature
//! maps) without pulling in a general image library.
//!
//! Pixels are `f32` in `0..=1`, height x width x channels (HWC, the layout
//! of one NHWC example). Reading accepts grey and RGB PNGs of any bit depth
//! and palette images: they are expanded to 8 bits per sample, and an alpha
//! channel, if any, is dropped. Writing is atomic, like every write in
//! [`crate::io`].

use super::write_atomic;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// A decoded image: `data[(y * width + x) * channels + c]`, values in 0..=1.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// `height * width * channels` values in 0..=1.
    pub data: Vec<f32>,
}

/// Reads a PNG. A missing file is [`Error::Io`]; a file that is not a
/// complete PNG (garbage, truncated) is [`Error::Format`].
pub fn read_png(path: &Path) -> Result<Image> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    // Palette -> RGB, grey below 8 bits -> 8 bits, 16 bits -> 8 bits.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let decode_error = |e: png::DecodingError| match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::format(path, "truncated PNG: the file ends before the image does")
        }
        png::DecodingError::IoError(io) => Error::io(path, io),
        other => Error::format(path, format!("not a valid PNG: {other}")),
    };
    let mut reader = decoder.read_info().map_err(decode_error)?;
    // `None` when the size overflows `usize`: no real image is that large.
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Error::format(path, "the image is too large to decode into memory"))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(decode_error)?;
    // Read up to IEND so that a file cut anywhere is reported.
    reader.finish().map_err(decode_error)?;
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(Error::format(
            path,
            format!(
                "unsupported bit depth {:?} after expansion",
                frame.bit_depth
            ),
        ));
    }
    // Samples per pixel in the buffer, and how many of them we keep.
    let (stride, channels) = match frame.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => {
            return Err(Error::format(path, "palette image was not expanded to RGB"));
        }
    };
    let (width, height) = (frame.width as usize, frame.height as usize);
    let mut data = Vec::with_capacity(width * height * channels);
    for row in buf.chunks_exact(frame.line_size).take(height) {
        for pixel in row[..width * stride].chunks_exact(stride) {
            data.extend(pixel[..channels].iter().map(|&v| v as f32 / 255.0));
        }
    }
    Ok(Image {
        width,
        height,
        channels,
        data,
    })
}

impl Image {
    /// The same picture with three channels: a grey one repeated, an RGB
    /// one as it is.
    pub fn to_rgb(&self) -> Image {
        if self.channels == 3 {
            return self.clone();
        }
        let data = self
            .data
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, 3))
            .collect();
        Image {
            channels: 3,
            data,
            ..*self
        }
    }

    /// Scaled (triangle filter, which averages when shrinking) so that it
    /// covers `width x height`, then cropped to that around its centre:
    /// what a network of a fixed input size needs from any photograph.
    pub fn resize_to_fill(&self, width: usize, height: usize) -> Result<Image> {
        if width == 0 || height == 0 || self.width == 0 || self.height == 0 {
            return Err(Error::InvalidArgument(format!(
                "resize: {}x{} to {width}x{height}: both sizes need pixels",
                self.width, self.height
            )));
        }
        let len = self.width * self.height * self.channels;
        crate::error::check_len("resize: the pixels of the image", self.data.len(), len)?;
        let data = super::resize::resize_to_fill(
            &self.data,
            [self.height, self.width, self.channels],
            [height, width],
            1.0,
            false,
        );
        Ok(Image {
            width,
            height,
            channels: self.channels,
            data,
        })
    }
}

/// Writes a grey image (`data` is `height x width`). With `normalise`, the
/// smallest value becomes black and the largest white (all black if they
/// are equal); without, values are clamped to 0..=1. NaN is black.
pub fn write_png_gray(
    path: &Path,
    width: usize,
    height: usize,
    data: &[f32],
    normalise: bool,
) -> Result<()> {
    write_png(path, width, height, 1, data, normalise)
}

/// Writes an RGB image (`data` is `height x width x 3`); `normalise` as in
/// [`write_png_gray`], over all three channels together.
pub fn write_png_rgb(
    path: &Path,
    width: usize,
    height: usize,
    data: &[f32],
    normalise: bool,
) -> Result<()> {
    write_png(path, width, height, 3, data, normalise)
}

fn write_png(
    path: &Path,
    width: usize,
    height: usize,
    channels: usize,
    data: &[f32],
    normalise: bool,
) -> Result<()> {
    let w32 = u32::try_from(width).ok().filter(|&w| w > 0);
    let h32 = u32::try_from(height).ok().filter(|&h| h > 0);
    let (Some(w32), Some(h32)) = (w32, h32) else {
        return Err(Error::InvalidArgument(format!(
            "a PNG needs a width and height between 1 and {}, got {width}x{height}",
            u32::MAX
        )));
    };
    let len = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| {
            Error::InvalidArgument(format!("image {width}x{height}x{channels} is too large"))
        })?;
    crate::error::check_len(
        &format!("pixels of a {width}x{height}x{channels} image"),
        data.len(),
        len,
    )?;
    let bytes = to_bytes(data, normalise);
    write_atomic(path, |tmp| {
        let file = File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut encoder = png::Encoder::new(BufWriter::new(file), w32, h32);
        encoder.set_color(if channels == 1 {
            png::ColorType::Grayscale
        } else {
            png::ColorType::Rgb
        });
        encoder.set_depth(png::BitDepth::Eight);
        let encode_error = |e: png::EncodingError| match e {
            png::EncodingError::IoError(io) => Error::io(tmp, io),
            other => Error::format(tmp, format!("cannot encode PNG: {other}")),
        };
        let mut writer = encoder.write_header().map_err(encode_error)?;
        writer.write_image_data(&bytes).map_err(encode_error)?;
        writer.finish().map_err(encode_error)
    })
}

/// 0..=1 (or min..=max when normalising) to 0..=255, rounded.
fn to_bytes(data: &[f32], normalise: bool) -> Vec<u8> {
    let (lo, scale) = if normalise {
        let finite = data.iter().copied().filter(|v| v.is_finite());
        let lo = finite.clone().fold(f32::INFINITY, f32::min);
        let hi = finite.fold(f32::NEG_INFINITY, f32::max);
        if hi > lo {
            (lo, 1.0 / (hi - lo))
        } else {
            (0.0, 0.0)
        }
    } else {
        (0.0, 1.0)
    };
    data.iter()
        .map(|&v| {
            let unit = ((v - lo) * scale).clamp(0.0, 1.0);
            // NaN survives clamp; `as u8` maps it to 0.
            (unit * 255.0).round() as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_dir;
    use std::fs;

    #[test]
    fn resize_to_fill_covers_and_crops_around_the_centre() {
        // 4 wide, 2 high, grey: left half 0, right half 1. Filling 2x2
        // scales by 1 (the height already fits) and keeps columns 1..3.
        let img = Image {
            width: 4,
            height: 2,
            channels: 1,
            data: vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0],
        };
        let out = img.resize_to_fill(2, 2).unwrap();
        assert_eq!((out.width, out.height, out.channels), (2, 2, 1));
        assert_eq!(out.data, [0.0, 1.0, 0.0, 1.0]);
        let rgb = img.to_rgb();
        assert_eq!(rgb.channels, 3);
        assert_eq!(&rgb.data[6..12], &[1.0; 6]);
        // Halving averages neighbours.
        let half = rgb.resize_to_fill(2, 1).unwrap();
        assert_eq!(half.data.len(), 6);
        assert!(half.data[..3].iter().all(|v| *v < 0.5) && half.data[3..].iter().all(|v| *v > 0.5));
    }

    #[test]
    fn grey_round_trip() {
        let dir = test_dir("png-grey");
        let path = dir.join("g.png");
        // 3 wide, 2 high; values are multiples of 1/255 so they come back exactly.
        let data: Vec<f32> = [0u8, 51, 102, 153, 204, 255]
            .iter()
            .map(|&v| v as f32 / 255.0)
            .collect();
        write_png_gray(&path, 3, 2, &data, false).unwrap();
        let img = read_png(&path).unwrap();
        assert_eq!((img.width, img.height, img.channels), (3, 2, 1));
        assert_eq!(img.data, data);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rgb_round_trip_keeps_hwc_order() {
        let dir = test_dir("png-rgb");
        let path = dir.join("c.png");
        // 2x2: red, green / blue, white.
        let data = [1., 0., 0., 0., 1., 0., 0., 0., 1., 1., 1., 1.];
        write_png_rgb(&path, 2, 2, &data, false).unwrap();
        let img = read_png(&path).unwrap();
        assert_eq!((img.width, img.height, img.channels), (2, 2, 3));
        assert_eq!(img.data, data);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn normalise_maps_min_to_black_and_max_to_white() {
        // -30, 0, 30 -> 0, 127.5 -> 128, 255; clamping instead sends -30 to 0 and 30 to 1.
        assert_eq!(to_bytes(&[-30.0, 0.0, 30.0], true), vec![0, 128, 255]);
        assert_eq!(
            to_bytes(&[-30.0, 0.5, 30.0, f32::NAN], false),
            vec![0, 128, 255, 0]
        );
        assert_eq!(to_bytes(&[4.0, 4.0], true), vec![0, 0]);
    }

    #[test]
    fn truncated_and_garbage_pngs_are_format_errors() {
        let dir = test_dir("png-bad");
        let path = dir.join("g.png");
        let data: Vec<f32> = (0..64 * 64).map(|i| (i % 7) as f32 / 7.0).collect();
        write_png_gray(&path, 64, 64, &data, false).unwrap();
        let bytes = fs::read(&path).unwrap();
        for (tag, cut) in [
            ("header", 20),
            ("data", bytes.len() / 2),
            ("end", bytes.len() - 4),
        ] {
            let bad = dir.join(format!("{tag}.png"));
            fs::write(&bad, &bytes[..cut]).unwrap();
            match read_png(&bad) {
                Err(Error::Format { message, .. }) => assert!(message.contains("PNG"), "{message}"),
                Err(other) => panic!("{tag}: expected Error::Format, got {other:?}"),
                Ok(_) => panic!("{tag}: a PNG cut at byte {cut} of {} was read", bytes.len()),
            }
        }
        let junk = dir.join("junk.png");
        fs::write(&junk, b"GIF89a, not a png").unwrap();
        assert!(matches!(read_png(&junk), Err(Error::Format { .. })));
        let err = read_png(&dir.join("absent.png")).unwrap_err();
        assert!(
            matches!(err, Error::Io { .. }) && err.to_string().contains("absent.png"),
            "{err}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_sizes_are_errors_and_write_nothing() {
        let dir = test_dir("png-size");
        let path = dir.join("x.png");
        let err = write_png_gray(&path, 3, 2, &[0.0; 5], false).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err:?}");
        let err = write_png_rgb(&path, 0, 2, &[], false).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }
}
