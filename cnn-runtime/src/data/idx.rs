//! The IDX file format of MNIST (LeCun et al.), raw or gzipped.
//!
//! All integers are big-endian. Bytes 0..2 are zero, byte 2 is the element
//! type (0x08 = unsigned byte, the only one we read), byte 3 the number of
//! dimensions; then one `u32` per dimension, then the elements, row-major.
//! So MNIST images start with the magic number 2051 (`00 00 08 03`: bytes,
//! 3 dimensions `N, rows, cols`) and labels with 2049 (`00 00 08 01`: `N`).
//!
//! A file starting with the gzip magic `1f 8b` is decompressed first,
//! whatever its name. Every way a file can be wrong is an
//! [`Error::Format`] naming the file and saying what the header promised
//! and what the file holds.

use crate::error::{Error, Result};
use std::fs;
use std::io::Read;
use std::path::Path;

/// A decoded IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    /// The dimensions from the header (`[N, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes, row-major.
    pub data: Vec<u8>,
}

/// The gzip magic number.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The IDX element type code for unsigned bytes.
const TYPE_U8: u8 = 0x08;
/// Refuse to pre-allocate more than this from a gzip trailer's size field
/// (the data is still read if it really is larger).
const MAX_PREALLOC: usize = 1 << 30;

/// Reads an IDX file of unsigned bytes with any number of dimensions.
pub fn read(path: &Path) -> Result<Idx> {
    parse(path, read_maybe_gzip(path)?, None)
}

/// Reads an IDX file of images: magic 2051, dimensions `[N, rows, cols]`.
pub fn read_images(path: &Path) -> Result<Idx> {
    parse(path, read_maybe_gzip(path)?, Some(3))
}

/// Reads an IDX file of labels: magic 2049, dimension `[N]`.
pub fn read_labels(path: &Path) -> Result<Idx> {
    parse(path, read_maybe_gzip(path)?, Some(1))
}

/// The file's bytes, decompressed if they start with the gzip magic.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = fs::read(path).map_err(|e| Error::io(path, e))?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    // The gzip trailer holds the uncompressed size modulo 2^32: a good
    // first capacity for files under 4 GB.
    let hint = match raw.len() {
        n if n >= 18 => {
            u32::from_le_bytes([raw[n - 4], raw[n - 3], raw[n - 2], raw[n - 1]]) as usize
        }
        _ => 0,
    };
    let mut out = Vec::with_capacity(hint.min(MAX_PREALLOC));
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "truncated gzip stream".to_string()
            } else {
                format!("bad gzip data ({e})")
            };
            Error::format(
                path,
                format!("{what} after {} decompressed bytes", out.len()),
            )
        })?;
    Ok(out)
}

/// What the magic number of a u8 IDX file with `dims` dimensions is, and
/// what it holds, for messages.
fn expected_magic(dims: usize) -> String {
    let what = match dims {
        1 => " (labels)",
        3 => " (images)",
        _ => "",
    };
    format!("{} = 0x{:08x}{what}", 0x800 + dims, 0x800 + dims)
}

/// Decodes IDX bytes (already decompressed); `path` only names the file in
/// errors. `want_dims` checks the number of dimensions when given.
pub fn parse(path: &Path, mut bytes: Vec<u8>, want_dims: Option<usize>) -> Result<Idx> {
    let fail = |message: String| Err(Error::format(path, message));
    if bytes.len() < 4 {
        return fail(format!(
            "truncated header: an IDX file starts with a 4-byte magic number, the file has {} bytes",
            bytes.len()
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let (type_code, n_dims) = (bytes[2], bytes[3] as usize);
    let want = want_dims.unwrap_or(n_dims.max(1));
    if bytes[0] != 0 || bytes[1] != 0 || n_dims == 0 {
        return fail(format!(
            "not an IDX file: magic number {magic} (0x{magic:08x}), expected {}",
            expected_magic(want)
        ));
    }
    if type_code != TYPE_U8 {
        return fail(format!(
            "magic number 0x{magic:08x}: element type 0x{type_code:02x} is not supported, only unsigned bytes (0x08); expected {}",
            expected_magic(want)
        ));
    }
    if n_dims != want {
        return fail(format!(
            "magic number {magic} (0x{magic:08x}) says {n_dims} dimensions, expected {}",
            expected_magic(want)
        ));
    }
    let header = 4 + 4 * n_dims;
    if bytes.len() < header {
        return fail(format!(
            "truncated header: {n_dims} dimensions need {header} header bytes, the file has {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let got = bytes.len() - header;
    let expected = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if expected != Some(got) {
        let promised = describe_dims(&dims, expected);
        let verdict = if expected.is_some_and(|e| e < got) {
            "trailing bytes"
        } else {
            "truncated"
        };
        return fail(format!("{verdict}: header says {promised}, file has {got}"));
    }
    bytes.drain(..header);
    Ok(Idx { dims, data: bytes })
}

/// "60000 images of 28x28 = 47040000 bytes", "60000 labels = 60000 bytes".
fn describe_dims(dims: &[usize], total: Option<usize>) -> String {
    let total = match total {
        Some(t) => format!("{t} bytes"),
        None => "more bytes than fit in memory".to_string(),
    };
    match dims {
        [n] => format!("{n} labels = {total}"),
        [n, rows, cols] => format!("{n} images of {rows}x{cols} = {total}"),
        _ => {
            let shape: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("dimensions {} = {total}", shape.join("x"))
        }
    }
}

/// IDX bytes for `dims` and `data` (uncompressed), for tests and tools.
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, TYPE_U8, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_dir;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn format_message(r: Result<Idx>) -> String {
        match r {
            Err(Error::Format { message, .. }) => message,
            Err(other) => panic!("expected Error::Format, got {other:?}"),
            Ok(idx) => panic!("expected an error, got dims {:?}", idx.dims),
        }
    }

    #[test]
    fn raw_and_gzipped_files_read_the_same() {
        let dir = test_dir("idx-read");
        let bytes = encode(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        fs::write(dir.join("raw"), &bytes).unwrap();
        fs::write(dir.join("zipped"), gzip(&bytes)).unwrap();
        let raw = read_images(&dir.join("raw")).unwrap();
        assert_eq!(raw.dims, vec![2, 2, 3]);
        assert_eq!(raw.data, (1..=12).collect::<Vec<u8>>());
        assert_eq!(read(&dir.join("zipped")).unwrap(), raw);
        fs::write(dir.join("labels"), encode(&[3], &[7, 0, 9])).unwrap();
        assert_eq!(
            read_labels(&dir.join("labels")).unwrap().data,
            vec![7, 0, 9]
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wrong_magic_numbers() {
        let p = Path::new("labels.idx");
        // An image file where labels are expected.
        let msg = format_message(parse(p, encode(&[1, 1, 1], &[0]), Some(1)));
        assert!(
            msg.contains("says 3 dimensions, expected 2049 = 0x00000801 (labels)"),
            "{msg}"
        );
        // Not IDX at all (a PNG signature).
        let msg = format_message(parse(p, b"\x89PNG\r\n\x1a\n....".to_vec(), Some(3)));
        assert!(
            msg.contains("not an IDX file") && msg.contains("2051"),
            "{msg}"
        );
        // Element type f32 (0x0d).
        let mut floats = encode(&[1], &[0, 0, 0, 0]);
        floats[2] = 0x0d;
        let msg = format_message(parse(p, floats, Some(1)));
        assert!(msg.contains("element type 0x0d is not supported"), "{msg}");
    }

    #[test]
    fn truncated_headers_and_data() {
        let p = Path::new("images.idx");
        let msg = format_message(parse(p, vec![0, 0, 8], Some(3)));
        assert!(
            msg.contains("truncated header") && msg.contains("3 bytes"),
            "{msg}"
        );
        let full = encode(&[60000, 28, 28], &[]);
        let msg = format_message(parse(p, full[..10].to_vec(), Some(3)));
        assert!(
            msg.contains("need 16 header bytes, the file has 10"),
            "{msg}"
        );
        let mut short = full.clone();
        short.extend(std::iter::repeat_n(0u8, 1000));
        let msg = format_message(parse(p, short, Some(3)));
        assert_eq!(
            msg,
            "truncated: header says 60000 images of 28x28 = 47040000 bytes, file has 1000"
        );
        let msg = format_message(parse(p, encode(&[2], &[1, 2, 3]), Some(1)));
        assert_eq!(
            msg,
            "trailing bytes: header says 2 labels = 2 bytes, file has 3"
        );
        let msg = format_message(parse(p, encode(&[u32::MAX as usize; 3], &[]), Some(3)));
        assert!(msg.contains("more bytes than fit"), "{msg}");
    }

    #[test]
    fn bad_gzip_is_a_format_error_naming_the_file() {
        let dir = test_dir("idx-gzip");
        let zipped = gzip(&encode(&[4], &[1, 2, 3, 4]));
        let cut = dir.join("cut.gz");
        fs::write(&cut, &zipped[..zipped.len() / 2]).unwrap();
        let err = read_labels(&cut).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{err:?}");
        assert!(
            err.to_string().contains("cut.gz") && err.to_string().contains("truncated gzip"),
            "{err}"
        );
        let mut corrupt = zipped.clone();
        for b in &mut corrupt[10..zipped.len() - 8] {
            *b = 0xff;
        }
        let bad = dir.join("bad.gz");
        fs::write(&bad, &corrupt).unwrap();
        let msg = format_message(read_labels(&bad));
        assert!(msg.contains("gzip"), "{msg}");
        let err = read(&dir.join("absent")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        fs::remove_dir_all(dir).unwrap();
    }
}
