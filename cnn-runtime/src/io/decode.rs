//! PNG and JPEG files to 8-bit pixels, for image folders
//! ([`crate::data::folder`]): PNG through the `png` crate, JPEG through
//! `zune-jpeg`, the EXIF orientation of either applied so that a photo
//! stands as it was shown, and grey or RGB on request (grey is the
//! Rec. 709 luma, `0.2126 R + 0.7152 G + 0.0722 B`, rounded). The format comes
//! from the first bytes, never the file's name.
//!
//! These are the decoders and the conversions the `image` crate used when
//! the folders were read through it; reading them directly leaves out the
//! colour management and the formats this library never read, which were
//! a sixth of a fresh build.

use std::io::Cursor;

/// Decoded pixels: `data[(y * width + x) * channels + c]`, 0..=255.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Raster {
    pub width: usize,
    pub height: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    pub data: Vec<u8>,
}

/// Decodes a PNG or JPEG file's bytes into `channels` (1 or 3) channels,
/// with its EXIF orientation applied, or says why not (the reason is a
/// phrase for a report: `not a PNG or JPEG image`, `cannot decode: ..`).
pub(crate) fn decode(bytes: &[u8], channels: usize) -> Result<Raster, String> {
    debug_assert!(channels == 1 || channels == 3);
    let decoded = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)?
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes)?
    } else if let Some(name) = other_format(bytes) {
        return Err(format!("a {name} image: only PNG and JPEG are read"));
    } else {
        return Err("not a PNG or JPEG image".into());
    };
    let orientation = decoded.orientation;
    let raster = orient(convert(decoded, channels), orientation);
    if raster.width == 0 || raster.height == 0 {
        return Err(format!("empty image ({}x{})", raster.width, raster.height));
    }
    Ok(raster)
}

/// The formats a folder of pictures often holds besides PNG and JPEG, by
/// their signatures, so that the report can name them.
fn other_format(b: &[u8]) -> Option<&'static str> {
    let riff = b.len() >= 12 && &b[..4] == b"RIFF";
    Some(if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        "GIF"
    } else if b.starts_with(b"BM") {
        "BMP"
    } else if riff && &b[8..12] == b"WEBP" {
        "WEBP"
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        "TIFF"
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        // HEIC and AVIF: an ISO media file.
        "HEIF"
    } else if b.starts_with(b"qoif") {
        "QOI"
    } else {
        return None;
    })
}

/// Pixels as decoded, with the channels the file has (grey, grey with
/// alpha, RGB, RGBA), and the EXIF orientation (1 to 8).
struct Decoded {
    width: usize,
    height: usize,
    stride: usize,
    data: Vec<u8>,
    orientation: u8,
}

fn cannot(e: impl std::fmt::Display) -> String {
    format!("cannot decode: {}", e.to_string().trim_end())
}

fn png(bytes: &[u8]) -> Result<Decoded, String> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    // Palette -> RGB, grey below 8 bits -> 8 bits, 16 bits -> 8 bits.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(cannot)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| "cannot decode: the image is too large".to_string())?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(cannot)?;
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .map_or(1, exif_orientation);
    let stride = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("cannot decode: a palette left unexpanded".into()),
    };
    let (width, height) = (frame.width as usize, frame.height as usize);
    let mut data = Vec::with_capacity(width * height * stride);
    for row in buf.chunks_exact(frame.line_size).take(height) {
        data.extend_from_slice(&row[..width * stride]);
    }
    Ok(Decoded {
        width,
        height,
        stride,
        data,
        orientation,
    })
}

fn jpeg(bytes: &[u8]) -> Result<Decoded, String> {
    use zune_core::colorspace::ColorSpace;
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(bytes),
        options,
    );
    decoder.decode_headers().map_err(cannot)?;
    let input = decoder.input_colorspace();
    // Grey stays grey; CMYK, YCCK and the rest come out as RGB.
    let (out, stride) = match input {
        Some(ColorSpace::Luma) => (ColorSpace::Luma, 1),
        Some(ColorSpace::LumaA) => (ColorSpace::LumaA, 2),
        Some(ColorSpace::RGBA) => (ColorSpace::RGBA, 4),
        _ => (ColorSpace::RGB, 3),
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let orientation = decoder.exif().map_or(1, |e| exif_orientation(e));
    let data = decoder.decode().map_err(cannot)?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| "cannot decode: no frame header".to_string())?;
    if data.len() != width * height * stride {
        return Err(format!(
            "cannot decode: {} bytes where {width}x{height}x{stride} were expected",
            data.len()
        ));
    }
    Ok(Decoded {
        width,
        height,
        stride,
        data,
        orientation,
    })
}

/// The EXIF orientation tag (0x0112, 1 to 8) of a TIFF-structured EXIF
/// block, or 1 (as stored) when it is missing or malformed: a broken EXIF
/// block is no reason to drop the pixels.
fn exif_orientation(exif: &[u8]) -> u8 {
    // JPEG's APP1 carries "Exif\0\0" before the TIFF header; PNG's eXIf
    // chunk does not.
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let little = match tiff.get(..4) {
        Some([0x49, 0x49, 42, 0]) => true,
        Some([0x4D, 0x4D, 0, 42]) => false,
        _ => return 1,
    };
    let u16_at = |i: usize| {
        let b: [u8; 2] = tiff.get(i..i + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |i: usize| {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let find = || -> Option<u8> {
        let ifd = u32_at(4)? as usize;
        let entries = u16_at(ifd)? as usize;
        for k in 0..entries {
            let entry = ifd + 2 + 12 * k;
            // Tag, type SHORT (3), count 1, the value in the first 2 bytes.
            if u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3 && u32_at(entry + 4)? == 1 {
                let v = u16_at(entry + 8)?;
                return (1..=8).contains(&v).then_some(v as u8);
            }
        }
        None
    };
    find().unwrap_or(1)
}

/// Grey or RGB, alpha dropped.
fn convert(d: Decoded, channels: usize) -> Raster {
    let pixels = d.data.chunks_exact(d.stride);
    let data: Vec<u8> = match (d.stride, channels) {
        (1 | 2, 1) => pixels.map(|p| p[0]).collect(),
        (1 | 2, _) => pixels.flat_map(|p| [p[0]; 3]).collect(),
        (_, 1) => pixels
            .map(|p| {
                let l =
                    0.2126 * f32::from(p[0]) + 0.7152 * f32::from(p[1]) + 0.0722 * f32::from(p[2]);
                // `as` saturates: 255.0001 is 255.
                l.round() as u8
            })
            .collect(),
        _ => pixels.flat_map(|p| [p[0], p[1], p[2]]).collect(),
    };
    Raster {
        width: d.width,
        height: d.height,
        channels,
        data,
    }
}

/// The picture as it is meant to be seen, from its EXIF orientation: 2
/// mirrored, 3 turned half way, 4 flipped, 5 turned a quarter clockwise and
/// mirrored, 6 a quarter clockwise, 7 three quarters and mirrored, 8 three
/// quarters (a quarter anticlockwise).
fn orient(r: Raster, orientation: u8) -> Raster {
    if !(2..=8).contains(&orientation) {
        return r;
    }
    let (w, h, c) = (r.width, r.height, r.channels);
    let turned = matches!(orientation, 5..=8);
    let (nw, nh) = if turned { (h, w) } else { (w, h) };
    let mut data = vec![0u8; r.data.len()];
    for y in 0..h {
        for x in 0..w {
            // Where source pixel (x, y) lands.
            let (nx, ny) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (h - 1 - y, x),
                7 => (h - 1 - y, w - 1 - x),
                _ => (y, w - 1 - x),
            };
            let from = (y * w + x) * c;
            let to = (ny * nw + nx) * c;
            data[to..to + c].copy_from_slice(&r.data[from..from + c]);
        }
    }
    Raster {
        width: nw,
        height: nh,
        channels: c,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raster(width: usize, height: usize, data: Vec<u8>) -> Raster {
        Raster {
            width,
            height,
            channels: 1,
            data,
        }
    }

    #[test]
    fn orientations_turn_and_mirror_as_exif_says() {
        // 3 wide, 2 high:  1 2 3
        //                  4 5 6
        let r = raster(3, 2, vec![1, 2, 3, 4, 5, 6]);
        let seen = |o| {
            let t = orient(r.clone(), o);
            (t.width, t.height, t.data)
        };
        assert_eq!(seen(1), (3, 2, vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(seen(2), (3, 2, vec![3, 2, 1, 6, 5, 4]));
        assert_eq!(seen(3), (3, 2, vec![6, 5, 4, 3, 2, 1]));
        assert_eq!(seen(4), (3, 2, vec![4, 5, 6, 1, 2, 3]));
        // A quarter clockwise: the left column becomes the top row, read
        // from the bottom.
        assert_eq!(seen(6), (2, 3, vec![4, 1, 5, 2, 6, 3]));
        assert_eq!(seen(8), (2, 3, vec![3, 6, 2, 5, 1, 4]));
        // 5: a quarter clockwise, then mirrored (the transpose).
        assert_eq!(seen(5), (2, 3, vec![1, 4, 2, 5, 3, 6]));
        assert_eq!(seen(7), (2, 3, vec![6, 3, 5, 2, 4, 1]));
    }

    #[test]
    fn exif_orientation_is_read_in_both_byte_orders() {
        // TIFF header, IFD at 8 with one entry: tag 0x0112, SHORT, 1, value.
        let little = [
            b"II*\0".as_slice(),
            &[8, 0, 0, 0, 1, 0],
            &[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0],
        ]
        .concat();
        assert_eq!(exif_orientation(&little), 6);
        assert_eq!(
            exif_orientation(&[b"Exif\0\0".as_slice(), &little].concat()),
            6
        );
        let big = [
            b"MM\0*".as_slice(),
            &[0, 0, 0, 8, 0, 1],
            &[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0],
        ]
        .concat();
        assert_eq!(exif_orientation(&big), 8);
        // Cut short, unknown values, or no EXIF at all: as stored.
        // Cut before the value ends.
        for cut in 0..20 {
            assert_eq!(exif_orientation(&little[..cut]), 1);
        }
        let mut nine = little.clone();
        nine[18] = 9;
        assert_eq!(exif_orientation(&nine), 1);
        assert_eq!(exif_orientation(b"junk"), 1);
    }

    #[test]
    fn grey_is_the_rec709_luma_and_alpha_is_dropped() {
        let rgba = Decoded {
            width: 2,
            height: 1,
            stride: 4,
            data: vec![255, 0, 0, 9, 10, 200, 30, 9],
            orientation: 1,
        };
        // 0.2126 * 255 = 54.2; 0.2126 * 10 + 0.7152 * 200 + 0.0722 * 30 = 147.3.
        assert_eq!(convert(rgba, 1).data, [54, 147]);
        let grey_alpha = Decoded {
            width: 1,
            height: 1,
            stride: 2,
            data: vec![77, 0],
            orientation: 1,
        };
        assert_eq!(convert(grey_alpha, 3).data, [77, 77, 77]);
    }

    #[test]
    fn other_formats_are_named() {
        let reason = |b: &[u8]| decode(b, 3).unwrap_err();
        assert_eq!(
            reason(b"GIF89a\x01\x00"),
            "a GIF image: only PNG and JPEG are read"
        );
        assert_eq!(
            reason(b"RIFF\0\0\0\0WEBPVP8 "),
            "a WEBP image: only PNG and JPEG are read"
        );
        assert_eq!(reason(b"hello"), "not a PNG or JPEG image");
        assert!(reason(b"\xff\xd8\xff\xe0 junk").starts_with("cannot decode"));
    }
}
