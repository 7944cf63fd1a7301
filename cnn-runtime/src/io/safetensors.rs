//! Checkpoints in the safetensors format (a little-endian `u64` header
//! length, a JSON header naming each tensor's dtype, shape and byte range,
//! then the raw bytes), through the `safetensors` crate. We write and read
//! `F32` tensors only; string metadata rides along in `__metadata__`.
//!
//! Errors say which file and which tensor: a file that cannot be read is
//! [`Error::Io`], bytes that are not a safetensors file (garbage,
//! truncation) are [`Error::Format`], and a file that is fine but does not
//! hold what the network expects (a tensor missing, of another shape, not
//! `F32`, or not part of the network) is [`Error::Checkpoint`] naming the
//! first such tensor.

use super::write_atomic;
use crate::error::{Error, Result};
use ::safetensors::tensor::{Dtype, Metadata, SafeTensorError, TensorInfo, View};
use ::safetensors::SafeTensors;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One tensor to write: its little-endian bytes are produced only while
/// it is written, so a save holds one tensor's bytes at a time.
struct F32View<'a> {
    shape: &'a [usize],
    data: &'a [f32],
}

impl View for &F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.data.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

fn checkpoint_error(path: &Path, tensor: &str, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        message: message.into(),
    }
}

/// The number of elements of `shape`, or `None` on overflow.
fn elements(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Writes `tensors` (name, shape, values) and `metadata` to `path`,
/// atomically: a temporary file in the same directory, synced, then
/// renamed over `path`. Every tensor is checked first (its values must fill
/// its shape; names must be unique), so a bad tensor is an
/// [`Error::Checkpoint`] before anything is written.
pub fn save(
    path: &Path,
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: &[(String, String)],
) -> Result<()> {
    let mut seen = HashSet::new();
    for (name, shape, data) in tensors {
        match elements(shape) {
            Some(n) if n == data.len() => {}
            Some(n) => {
                return Err(checkpoint_error(
                    path,
                    name,
                    format!(
                        "shape {shape:?} holds {n} values but {} were given",
                        data.len()
                    ),
                ))
            }
            None => {
                return Err(checkpoint_error(
                    path,
                    name,
                    format!("shape {shape:?} overflows"),
                ))
            }
        }
        if !seen.insert(name.as_str()) {
            return Err(checkpoint_error(path, name, "appears twice"));
        }
        if name == "__metadata__" {
            return Err(checkpoint_error(
                path,
                name,
                "is reserved by the safetensors format",
            ));
        }
    }
    let views: Vec<(&str, F32View)> = tensors
        .iter()
        .map(|(name, shape, data)| (name.as_str(), F32View { shape, data }))
        .collect();
    let info: Option<HashMap<String, String>> =
        (!metadata.is_empty()).then(|| metadata.iter().cloned().collect());
    write_atomic(path, |tmp| {
        let refs = views.iter().map(|(name, view)| (*name, view));
        ::safetensors::serialize_to_file(refs, &info, tmp).map_err(|e| match e {
            SafeTensorError::IoError(io) => Error::io(tmp, io),
            other => Error::format(tmp, format!("cannot encode the checkpoint: {other:?}")),
        })
    })
}

/// A checkpoint read into memory by [`load`].
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    bytes: Vec<u8>,
    /// Where the tensor data starts in `bytes` (after the header).
    data_start: usize,
    /// Sorted by name.
    tensors: Vec<(String, TensorInfo)>,
    metadata: HashMap<String, String>,
}

/// Reads a safetensors file. A missing or unreadable file is
/// [`Error::Io`]; bytes that do not parse (garbage, a truncated file) are
/// [`Error::Format`] saying what is wrong.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let (header_len, meta): (usize, Metadata) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::format(path, describe(&e, bytes.len())))?;
    let mut tensors: Vec<(String, TensorInfo)> = meta
        .tensors()
        .into_iter()
        .map(|(name, info)| (name, info.clone()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Checkpoint {
        path: path.to_path_buf(),
        bytes,
        data_start: 8 + header_len,
        tensors,
        metadata: meta.metadata().clone().unwrap_or_default(),
    })
}

/// A sentence for each way the safetensors crate rejects a file.
fn describe(e: &SafeTensorError, file_len: usize) -> String {
    match e {
        SafeTensorError::HeaderTooSmall => {
            format!("not a safetensors file: {file_len} bytes is too short for the 8-byte header length")
        }
        SafeTensorError::HeaderTooLarge => {
            "not a safetensors file: the header length is implausibly large".to_string()
        }
        SafeTensorError::InvalidHeaderLength => {
            format!("truncated or not a safetensors file: the header length runs past the end of the file ({file_len} bytes)")
        }
        SafeTensorError::InvalidHeader
        | SafeTensorError::InvalidHeaderStart
        | SafeTensorError::InvalidHeaderDeserialization
        | SafeTensorError::JsonError(_) => {
            "not a safetensors file: the header is not valid JSON".to_string()
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            format!(
                "truncated: the header's tensors do not end where the file ends ({file_len} bytes)"
            )
        }
        SafeTensorError::InvalidOffset(name) => {
            format!("corrupt header: tensor `{name}` has byte offsets that do not follow the previous tensor")
        }
        SafeTensorError::TensorInvalidInfo | SafeTensorError::ValidationOverflow => {
            "corrupt header: a tensor's byte range does not match its shape and dtype".to_string()
        }
        other => format!("not a valid safetensors file: {other:?}"),
    }
}

impl Checkpoint {
    /// The file this checkpoint was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.tensors.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// A metadata value saved with the checkpoint.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The keys of the metadata saved with the checkpoint, sorted.
    pub fn metadata_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.metadata.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.tensors[i].1)
    }

    /// The safetensors dtype of a tensor (`"F32"`, `"F16"`, ...).
    pub fn dtype(&self, name: &str) -> Option<String> {
        self.info(name).map(|info| format!("{:?}", info.dtype))
    }

    /// Shape and values of the `F32` tensor `name`; `None` if there is no
    /// such tensor or it is not `F32` ([`Checkpoint::tensor`] says which).
    pub fn get(&self, name: &str) -> Option<(&[usize], Vec<f32>)> {
        self.tensor(name).ok()
    }

    /// Shape and values of the `F32` tensor `name`, or an
    /// [`Error::Checkpoint`] saying why not.
    pub fn tensor(&self, name: &str) -> Result<(&[usize], Vec<f32>)> {
        let info = self.checked_info(name)?;
        let values = self
            .raw(info)
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok((&info.shape, values))
    }

    /// The shape of tensor `name`, whatever its dtype.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.info(name).map(|info| info.shape.as_slice())
    }

    /// Whether tensor `name` is stored as a floating-point type that
    /// [`Checkpoint::tensor_f32`] converts (`F32`, `F64`, `F16`, `BF16`).
    pub fn is_float(&self, name: &str) -> bool {
        self.info(name).is_some_and(|info| {
            matches!(
                info.dtype,
                Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::BF16
            )
        })
    }

    /// Shape and values of the floating-point tensor `name`, converted to
    /// `f32`: `F32` as it is, `F64` rounded to nearest, `F16` and `BF16`
    /// widened exactly (files from PyTorch are often half precision).
    /// Another dtype, or no such tensor, is an [`Error::Checkpoint`].
    pub fn tensor_f32(&self, name: &str) -> Result<(&[usize], Vec<f32>)> {
        let info = self.info(name).ok_or_else(|| {
            checkpoint_error(
                &self.path,
                name,
                format!("missing from the file, which holds {}", self.summary()),
            )
        })?;
        let raw = self.raw(info);
        let values = match info.dtype {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            // bfloat16 is the top half of an f32.
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
            other => {
                return Err(checkpoint_error(
                    &self.path,
                    name,
                    format!("stored as {other:?}, which is not a floating-point type"),
                ))
            }
        };
        Ok((&info.shape, values))
    }

    fn checked_info(&self, name: &str) -> Result<&TensorInfo> {
        let info = self.info(name).ok_or_else(|| {
            checkpoint_error(
                &self.path,
                name,
                format!("missing from the file, which holds {}", self.summary()),
            )
        })?;
        if info.dtype != Dtype::F32 {
            return Err(checkpoint_error(
                &self.path,
                name,
                format!("stored as {:?}, expected F32", info.dtype),
            ));
        }
        Ok(info)
    }

    /// The tensor's bytes; `read_metadata` checked that the offsets are
    /// contiguous and end at the end of the file, so this slice is in range.
    fn raw(&self, info: &TensorInfo) -> &[u8] {
        let (start, end) = info.data_offsets;
        &self.bytes[self.data_start + start..self.data_start + end]
    }

    /// "3 tensors: a, b, c" (at most the first 8 names).
    fn summary(&self) -> String {
        let names = self.names();
        let shown: Vec<&str> = names.iter().copied().take(8).collect();
        let more = if names.len() > 8 { ", ..." } else { "" };
        match names.len() {
            0 => "no tensors".to_string(),
            n => format!(
                "{n} tensor{}: {}{more}",
                if n == 1 { "" } else { "s" },
                shown.join(", ")
            ),
        }
    }

    /// Copies each expected tensor (name, shape, destination) out of the
    /// checkpoint. Every tensor is checked before any destination is
    /// written, so on an `Err` nothing has changed. Tensors in the file
    /// that are not expected are ignored (see [`load_into`] for the strict
    /// version).
    pub fn copy_into(&self, expected: &mut [(String, Vec<usize>, &mut [f32])]) -> Result<()> {
        self.check(expected)?;
        self.copy_checked(expected);
        Ok(())
    }

    /// The first expected tensor that is missing, not `F32`, of another
    /// shape, or whose destination has the wrong length.
    fn check(&self, expected: &[(String, Vec<usize>, &mut [f32])]) -> Result<()> {
        for (name, shape, dest) in expected {
            let want = elements(shape).ok_or_else(|| {
                checkpoint_error(
                    &self.path,
                    name,
                    format!("expected shape {shape:?} overflows"),
                )
            })?;
            crate::error::check_len(&format!("destination of tensor `{name}`"), dest.len(), want)?;
            let info = self.checked_info(name)?;
            if info.shape != *shape {
                return Err(checkpoint_error(
                    &self.path,
                    name,
                    format!(
                        "shape {:?} in the file, expected {shape:?} (a checkpoint of another network?)",
                        info.shape
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Copies after [`Checkpoint::check`] passed.
    fn copy_checked(&self, expected: &mut [(String, Vec<usize>, &mut [f32])]) {
        for (name, _, dest) in expected.iter_mut() {
            if let Some(info) = self.info(name) {
                for (d, b) in dest.iter_mut().zip(self.raw(info).chunks_exact(4)) {
                    *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
        }
    }
}

/// IEEE half precision to single, exactly: 1 sign bit, 5 exponent bits
/// (bias 15), 10 mantissa bits. Subnormals (exponent 0) are
/// `mantissa * 2^-24`; exponent 31 is infinity or NaN.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let negative = h & 0x8000 != 0;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let magnitude = match exp {
        // mant < 2^10, so the product is exact in f32.
        0 => mant as f32 * f32::powi(2.0, -24),
        0x1f => f32::from_bits(0x7f80_0000 | (mant << 13)),
        _ => f32::from_bits(((exp + 127 - 15) << 23) | (mant << 13)),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Loads `path` into the expected tensors (name, shape, destination). The
/// file must hold exactly these tensors, as `F32` of these shapes: the
/// first one missing, mis-shaped or of another dtype (in the order given),
/// else the first present in the file but not expected, is an
/// [`Error::Checkpoint`] naming it, and nothing is written unless
/// everything fits.
pub fn load_into(path: &Path, expected: &mut [(String, Vec<usize>, &mut [f32])]) -> Result<()> {
    let checkpoint = load(path)?;
    checkpoint.check(expected)?;
    let known: HashSet<&str> = expected.iter().map(|(name, _, _)| name.as_str()).collect();
    if let Some(extra) = checkpoint.names().into_iter().find(|n| !known.contains(n)) {
        return Err(checkpoint_error(
            path,
            extra,
            format!(
                "is in the file but not part of this network, which has {} tensors (a checkpoint of another network?)",
                expected.len()
            ),
        ));
    }
    checkpoint.copy_checked(expected);
    Ok(())
}

#[cfg(test)]
#[path = "safetensors_tests.rs"]
mod tests;
