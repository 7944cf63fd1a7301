//! Cached features: a frozen trunk's outputs over a data set, written once
//! and read back to train a head on, so that the trunk (most of the
//! multiply-adds) runs once instead of every epoch.
//!
//! [`extract`] runs the trunk (any closure; usually the network's
//! `predict`) over a [`Dataset`] in batches and returns [`Features`];
//! [`Features::save`] writes them atomically; [`Features::load`] reads them
//! back and refuses a file made by another trunk (another name, or the same
//! name with other weights: [`weights_checksum`]); [`Features::into_dataset`]
//! makes the head's training set.
//!
//! # The file format (version 1)
//!
//! Little-endian throughout. FNV-1a is the 64-bit Fowler–Noll–Vo hash
//! (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over bytes.
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `CNNFEAT\0` |
//! | 4 | version, `u32` = 1 |
//! | 8 | examples `n`, `u64` |
//! | 4 | classes, `u32` (labels are `0..classes`) |
//! | 4 | rank `r` of one example's feature shape, `u32`, 1 to 3 |
//! | 8 `r` | the shape, `u64` each (`[d]` or `[h, w, c]`) |
//! | 4 | length `k` of the trunk's name, `u32`, at most 4096 |
//! | `k` | the trunk's name, UTF-8 |
//! | 8 | the trunk's weights checksum, `u64` ([`weights_checksum`]) |
//! | 8 | header checksum: FNV-1a of every byte above |
//! | 4 `n` | labels, `u32` |
//! | 4 `n` × shape | features, `f32`, example after example |
//! | 8 | payload checksum: FNV-1a of every byte above, header included |
//!
//! A reader checks the magic, the version, each header field, the header's
//! checksum (so a damaged count or shape is reported as damage, not as a
//! truncation), that the file is exactly as long as the header says, the
//! payload's checksum, and every label. Every failure is an `Err` naming
//! the file and what is wrong; nothing in a file can make a reader panic.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::data::Dataset;
use crate::error::{Error, Result};

/// The first eight bytes of every features file.
pub const MAGIC: [u8; 8] = *b"CNNFEAT\0";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// The longest trunk name the format stores, in bytes.
pub const MAX_NAME_LEN: usize = 4096;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, continued from `hash` over `bytes`.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    hash
}

/// A 64-bit fingerprint of a network's weights: FNV-1a over the
/// little-endian bytes of every value, in order. Pass all of the trunk's
/// parameters (`net.params()`, batch norm's moving statistics included:
/// they change its outputs too). Any change to any bit of any weight
/// changes it with near certainty; it is not a cryptographic hash.
pub fn weights_checksum(params: &[f32]) -> u64 {
    params
        .iter()
        .fold(FNV_OFFSET, |h, v| fnv1a(h, &v.to_le_bytes()))
}

/// A trunk's outputs over a data set, with the labels and the trunk's
/// identity.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// `len() * shape.product()` values, example after example.
    pub x: Vec<f32>,
    /// One example's features: `[d]` for a flat output, `[h, w, c]` for a
    /// feature map.
    pub shape: Vec<usize>,
    /// One class per example, below `classes`.
    pub labels: Vec<usize>,
    /// The number of classes of the data set.
    pub classes: usize,
    /// The trunk's name, as its maker chose it (`"mnist-trunk"`).
    pub trunk: String,
    /// [`weights_checksum`] of the trunk's parameters.
    pub checksum: u64,
}

impl Features {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per example.
    pub fn example_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Checks what a file of these features would promise: a shape of rank
    /// 1 to 3 with no zero, `x` filling it for every label, labels below
    /// `classes`, a name the format can hold.
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(format!("features: {m}")));
        if self.shape.is_empty() || self.shape.len() > 3 || self.shape.contains(&0) {
            return bad(format!(
                "shape {:?} must have 1 to 3 sizes, none 0",
                self.shape
            ));
        }
        let want = self
            .shape
            .iter()
            .try_fold(self.len(), |n, &d| n.checked_mul(d));
        if want != Some(self.x.len()) {
            return Err(Error::shape(
                "features: x",
                format!("{} examples x {:?}", self.len(), self.shape),
                format!("{} values", self.x.len()),
            ));
        }
        if self.classes == 0 || u32::try_from(self.classes).is_err() {
            return bad(format!(
                "{} classes must be 1 to {}",
                self.classes,
                u32::MAX
            ));
        }
        if let Some((index, &label)) = self
            .labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l >= self.classes)
        {
            return Err(Error::LabelOutOfRange {
                index,
                label,
                classes: self.classes,
            });
        }
        if self.trunk.len() > MAX_NAME_LEN {
            return bad(format!(
                "the trunk's name is {} bytes; the format holds at most {MAX_NAME_LEN}",
                self.trunk.len()
            ));
        }
        Ok(())
    }

    /// The head's training set: the features as examples of shape `[h, w,
    /// c]`, a flat `[d]` as `[1, 1, d]` (which `Model::fit` accepts for a
    /// network declared with `input: [d]`, as it compares element counts
    /// for flat inputs), a `[a, b]` as `[1, a, b]`.
    pub fn to_dataset(&self) -> Result<Dataset> {
        self.clone().into_dataset()
    }

    /// [`Features::to_dataset`], without copying the values.
    pub fn into_dataset(self) -> Result<Dataset> {
        self.check()?;
        let shape = match self.shape[..] {
            [d] => [1, 1, d],
            [a, b] => [1, a, b],
            [h, w, c] => [h, w, c],
            _ => unreachable!("check() allows ranks 1 to 3"),
        };
        Dataset::new(shape, self.x, self.labels, self.classes)
    }

    /// Writes the features to `path` in the format above, atomically (a
    /// temporary file beside it, synced, then renamed): a failure leaves
    /// whatever was at `path` and no temporary file. Invalid features are
    /// an `Err` before anything is written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.check()?;
        crate::io::write_atomic(path, |tmp| {
            let file = File::create(tmp).map_err(|e| Error::io(tmp, e))?;
            let mut out = Hashing {
                inner: BufWriter::new(file),
                hash: FNV_OFFSET,
            };
            self.write_to(&mut out).map_err(|e| Error::io(tmp, e))
        })
    }

    fn write_to<W: Write>(&self, out: &mut Hashing<W>) -> std::io::Result<()> {
        // `check` bounded every count and size cast here.
        out.write_all(&MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&(self.len() as u64).to_le_bytes())?;
        out.write_all(&(self.classes as u32).to_le_bytes())?;
        out.write_all(&(self.shape.len() as u32).to_le_bytes())?;
        for &d in &self.shape {
            out.write_all(&(d as u64).to_le_bytes())?;
        }
        out.write_all(&(self.trunk.len() as u32).to_le_bytes())?;
        out.write_all(self.trunk.as_bytes())?;
        out.write_all(&self.checksum.to_le_bytes())?;
        out.write_all(&out.hash.to_le_bytes())?;
        for &l in &self.labels {
            out.write_all(&(l as u32).to_le_bytes())?;
        }
        // A chunk of values at a time: no second copy of a large set.
        let mut bytes = Vec::with_capacity(4 * 4096);
        for chunk in self.x.chunks(4096) {
            bytes.clear();
            bytes.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            out.write_all(&bytes)?;
        }
        out.write_all(&out.hash.to_le_bytes())?;
        out.inner.flush()
    }

    /// Reads features written by [`Features::save`] and checks that they
    /// were made by the trunk the caller expects: its name and
    /// [`weights_checksum`]. Features of another trunk are an
    /// [`Error::Mismatch`] naming both; a damaged, truncated or foreign
    /// file is an [`Error::Format`] saying what is wrong.
    pub fn load(path: impl AsRef<Path>, trunk: &str, checksum: u64) -> Result<Features> {
        let path = path.as_ref();
        let features = Features::read(path)?;
        if features.trunk != trunk || features.checksum != checksum {
            let what = if features.trunk != trunk {
                "another trunk"
            } else {
                "the same trunk with other weights"
            };
            return Err(Error::Mismatch {
                path: path.to_path_buf(),
                message: format!(
                    "features of {what}: the file's were made by `{}` with weights \
                     checksum {:016x}, the caller expects `{trunk}` with {checksum:016x}; \
                     extract the features again with this trunk",
                    features.trunk, features.checksum
                ),
            });
        }
        Ok(features)
    }

    /// Reads a features file whatever trunk made it (to inspect one), with
    /// every check of [`Features::load`] but the trunk's.
    pub fn read(path: impl AsRef<Path>) -> Result<Features> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        parse(&bytes).map_err(|message| Error::format(path, message))
    }
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hash: u64,
}

impl<W: Write> Hashing<W> {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash = fnv1a(self.hash, bytes);
        self.inner.write_all(bytes)
    }
}

/// Reads fields from the front of a byte slice; running out is an `Err`
/// saying which field the file ended in.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        match self.at.checked_add(n) {
            Some(end) if end <= self.bytes.len() => {
                let s = &self.bytes[self.at..end];
                self.at = end;
                Ok(s)
            }
            _ => Err(format!(
                "truncated or corrupt header: the file ({} bytes) ends inside {what} \
                 ({n} bytes at offset {})",
                self.bytes.len(),
                self.at
            )),
        }
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Parses and checks a whole file; `Err` is the message for
/// [`Error::Format`].
fn parse(bytes: &[u8]) -> Result<Features, String> {
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(format!(
            "not a features file: it does not start with the magic bytes `CNNFEAT\\0` \
             ({} bytes: {})",
            bytes.len(),
            bytes
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    let mut f = Fields {
        bytes,
        at: MAGIC.len(),
    };
    let version = f.u32("the version")?;
    if version != VERSION {
        return Err(format!(
            "format version {version}: this build reads version {VERSION} \
             (a newer cnn wrote the file, or it is corrupt)"
        ));
    }
    let count = f.u64("the example count")?;
    let classes = f.u32("the class count")?;
    let rank = f.u32("the shape's rank")?;
    if !(1..=3).contains(&rank) {
        return Err(format!(
            "corrupt header: the feature shape's rank is {rank}, not 1 to 3"
        ));
    }
    let mut shape = Vec::with_capacity(rank as usize);
    for _ in 0..rank {
        shape.push(f.u64("the feature shape")?);
    }
    let name_len = f.u32("the trunk name's length")?;
    if name_len as usize > MAX_NAME_LEN {
        return Err(format!(
            "corrupt header: the trunk's name is {name_len} bytes long, \
             more than the {MAX_NAME_LEN} the format allows"
        ));
    }
    let name = f.take(name_len as usize, "the trunk's name")?;
    let checksum = f.u64("the trunk's weights checksum")?;
    let header_end = f.at;
    let stored = f.u64("the header checksum")?;
    let computed = fnv1a(FNV_OFFSET, &bytes[..header_end]);
    if stored != computed {
        return Err(format!(
            "corrupt header: its checksum is {computed:016x} but the file says {stored:016x}"
        ));
    }
    // The header is intact: a length that disagrees with it is a truncation
    // (or bytes appended), not damage to the counts.
    let trunk = std::str::from_utf8(name)
        .map_err(|_| "corrupt header: the trunk's name is not UTF-8".to_string())?
        .to_string();
    if classes == 0 || shape.contains(&0) {
        return Err(format!(
            "corrupt header: {classes} classes and feature shape {shape:?} must all be positive"
        ));
    }
    let per = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
    let too_large =
        || format!("corrupt header: {count} examples of shape {shape:?} do not fit in memory");
    let values = per
        .and_then(|p| p.checked_mul(count))
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(too_large)?;
    let n = usize::try_from(count).map_err(|_| too_large())?;
    let expected = n
        .checked_mul(4)
        .and_then(|l| values.checked_mul(4)?.checked_add(l))
        .and_then(|body| body.checked_add(f.at + 8))
        .ok_or_else(too_large)?;
    if bytes.len() != expected {
        let shape_text = shape
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("x");
        let how = if bytes.len() < expected {
            "truncated"
        } else {
            "too long"
        };
        return Err(format!(
            "{how}: the header promises {count} examples of {shape_text} features, \
             {expected} bytes in all, but the file has {}",
            bytes.len()
        ));
    }
    let payload_end = bytes.len() - 8;
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&bytes[payload_end..]);
    let stored = u64::from_le_bytes(tail);
    let computed = fnv1a(FNV_OFFSET, &bytes[..payload_end]);
    if stored != computed {
        return Err(format!(
            "corrupt data: the checksum of the labels and features is {computed:016x} \
             but the file says {stored:016x}"
        ));
    }
    let label_bytes = &bytes[f.at..f.at + 4 * n];
    let feature_bytes = &bytes[f.at + 4 * n..payload_end];
    let mut labels = Vec::with_capacity(n);
    for (i, b) in label_bytes.chunks_exact(4).enumerate() {
        let label = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if label >= classes {
            return Err(format!(
                "label {label} of example {i} is not below the {classes} classes"
            ));
        }
        labels.push(label as usize);
    }
    let x = feature_bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Features {
        x,
        // Each size fits in usize: their product does.
        shape: shape.iter().map(|&d| d as usize).collect(),
        labels,
        classes: classes as usize,
        trunk,
        checksum,
    })
}

/// How often a progress line goes to a log (not a terminal).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Runs a frozen trunk over `data` in batches of `batch_size` and returns
/// its outputs as [`Features`] named `trunk` with the weights checksum
/// `checksum`, with the data set's labels and classes.
///
/// `run(images, n)` gets `n` consecutive examples (`[n, h, w, c]`, as the
/// data set stores them) and returns the trunk's outputs, `n` times
/// `output_shape` values (usually the network's `predict`, with
/// `output_shape` its `OUTPUT_SHAPE`). Progress goes to standard error: a
/// line rewritten in place on a terminal, a line every ten seconds in a
/// log, and a summary at the end.
///
/// `Err` when `run` does, when it returns another number of values, or
/// when an output is NaN or infinite (named by example), so that a broken
/// trunk is not cached.
pub fn extract(
    data: &Dataset,
    trunk: &str,
    checksum: u64,
    output_shape: &[usize],
    batch_size: usize,
    mut run: impl FnMut(&[f32], usize) -> Result<Vec<f32>>,
) -> Result<Features> {
    if batch_size == 0 {
        return Err(Error::InvalidArgument(
            "extract: the batch size must be at least 1".into(),
        ));
    }
    let per_out: usize = output_shape.iter().product();
    let per_in = data.example_len();
    let mut x = Vec::with_capacity(data.len().saturating_mul(per_out));
    let progress = Progress::new(trunk, data.len());
    for start in (0..data.len()).step_by(batch_size) {
        let end = (start + batch_size).min(data.len());
        let n = end - start;
        let out = run(&data.images()[start * per_in..end * per_in], n)?;
        if out.len() != n * per_out {
            return Err(Error::shape(
                format!("extract: `{trunk}`'s output for examples {start}..{end}"),
                format!("{n} x {output_shape:?} = {} values", n * per_out),
                format!("{} values", out.len()),
            ));
        }
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "extract: `{trunk}`'s output for example {} holds {} (value {} of {per_out}); \
                 features are not cached from a trunk that overflows",
                start + i / per_out.max(1),
                out[i],
                i % per_out.max(1)
            )));
        }
        x.extend_from_slice(&out);
        progress.update(end);
    }
    progress.finish();
    let features = Features {
        x,
        shape: output_shape.to_vec(),
        labels: data.labels().to_vec(),
        classes: data.classes(),
        trunk: trunk.to_string(),
        checksum,
    };
    features.check()?;
    Ok(features)
}

/// `features: 1200/5000 images (24%), 850 images/s` on standard error.
struct Progress {
    trunk: String,
    total: usize,
    start: Instant,
    terminal: bool,
    last: std::cell::Cell<Instant>,
}

impl Progress {
    fn new(trunk: &str, total: usize) -> Self {
        use std::io::IsTerminal;
        let now = Instant::now();
        Progress {
            trunk: trunk.to_string(),
            total,
            start: now,
            terminal: std::io::stderr().is_terminal(),
            last: std::cell::Cell::new(now),
        }
    }

    fn line(&self, done: usize) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        format!(
            "features of `{}`: {done}/{} images ({:.0}%), {:.0} images/s",
            self.trunk,
            self.total,
            100.0 * done as f64 / self.total.max(1) as f64,
            done as f64 / secs
        )
    }

    fn update(&self, done: usize) {
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            LOG_EVERY
        };
        if self.last.get().elapsed() < every || done == self.total {
            return;
        }
        self.last.set(Instant::now());
        if self.terminal {
            eprint!("\r{}\x1b[K", self.line(done));
        } else {
            eprintln!("{}", self.line(done));
        }
    }

    fn finish(&self) {
        // On a terminal, over the progress line, clearing what it left.
        let (start, clear) = if self.terminal {
            ("\r", "\x1b[K")
        } else {
            ("", "")
        };
        eprintln!(
            "{start}{} in {:.1} s{clear}",
            self.line(self.total),
            self.start.elapsed().as_secs_f64()
        );
    }
}

#[cfg(test)]
#[path = "features_tests.rs"]
mod tests;
