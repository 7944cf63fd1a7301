//! Recognition (the course's 1:K problem) against a gallery: one stored
//! embedding per known identity, computed once and saved, as the course
//! says a database's encodings should be. A query image's embedding is
//! compared with every stored one; the nearest identity is the answer when
//! its distance is at most the threshold, and "unknown" otherwise. A new
//! person is enrolled from one image (one-shot learning), with no
//! retraining.
//!
//! # The file
//!
//! A safetensors file (through [`crate::io`], written atomically) with one
//! tensor `embeddings` of shape `[identities, dim]` and the metadata
//! `format = cnn-gallery`, `version = 1`, `distance` (as
//! [`Distance::name`] writes it), `threshold`, `identities`, one
//! `name.<i>` per identity, and `checksum`: the 64-bit FNV-1a hash, in
//! hexadecimal, of everything else (the threshold's and every value's
//! bits, the distance, every name with its length), so that a flipped bit
//! anywhere is reported as damage. Every problem with a file is an `Err`
//! naming it; nothing in a file can make [`Gallery::load`] panic.

use std::path::Path;

use super::distance::{distance, Distance};
use crate::error::{Error, Result};

/// The `format` metadata of a gallery file.
const FORMAT: &str = "cnn-gallery";
/// The version this build writes and reads.
const VERSION: &str = "1";

/// Known identities, one embedding each, and the threshold of "unknown".
#[derive(Clone, Debug, PartialEq)]
pub struct Gallery {
    names: Vec<String>,
    /// `[names.len(), dim]`.
    embeddings: Vec<f32>,
    dim: usize,
    threshold: f32,
    distance: Distance,
}

/// Who a query is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The gallery's identity at this index.
    Known(usize),
    /// Nobody in the gallery is within the threshold.
    Unknown,
}

/// The answer of [`Gallery::nearest`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match {
    /// The nearest identity if it is within the threshold, else
    /// [`Identity::Unknown`].
    pub identity: Identity,
    /// The nearest identity's index, within the threshold or not.
    pub nearest: usize,
    /// The distance to it.
    pub distance: f32,
}

impl Gallery {
    /// An empty gallery for embeddings of `dim` values that calls a query
    /// unknown beyond `threshold` (squared Euclidean distance; see
    /// [`Gallery::with_distance`]). `dim` must be positive and the
    /// threshold a number.
    pub fn new(dim: usize, threshold: f32) -> Result<Gallery> {
        if dim == 0 || threshold.is_nan() {
            return Err(Error::InvalidArgument(format!(
                "gallery: embeddings of {dim} values with threshold {threshold}; the length must be \
                 positive and the threshold a number"
            )));
        }
        Ok(Gallery {
            names: Vec::new(),
            embeddings: Vec::new(),
            dim,
            threshold,
            distance: Distance::SquaredEuclidean,
        })
    }

    /// One embedding per identity from several: identity `l` is named
    /// `names[l]` and stored as the mean of the `embeddings` (`[n, dim]`)
    /// whose label is `l`. A label without a name, or a name without an
    /// embedding, is an `Err`.
    pub fn from_examples(
        names: &[&str],
        embeddings: &[f32],
        labels: &[usize],
        dim: usize,
        threshold: f32,
    ) -> Result<Gallery> {
        let mut g = Gallery::new(dim, threshold)?;
        let n = super::distance::batch_len("gallery", embeddings, dim)?;
        super::triplet::check_identities("gallery", labels, n)?;
        let mut sums = vec![0f64; names.len() * dim];
        let mut counts = vec![0usize; names.len()];
        for (i, (&l, e)) in labels.iter().zip(embeddings.chunks_exact(dim)).enumerate() {
            if l >= names.len() {
                return Err(Error::LabelOutOfRange {
                    index: i,
                    label: l,
                    classes: names.len(),
                });
            }
            counts[l] += 1;
            for (s, &v) in sums[l * dim..(l + 1) * dim].iter_mut().zip(e) {
                *s += v as f64;
            }
        }
        for (l, name) in names.iter().enumerate() {
            if counts[l] == 0 {
                return Err(Error::InvalidArgument(format!(
                    "gallery: identity {l} ({name}) has no embedding"
                )));
            }
            let mean: Vec<f32> = sums[l * dim..(l + 1) * dim]
                .iter()
                .map(|&s| (s / counts[l] as f64) as f32)
                .collect();
            g.enrol(name, &mean)?;
        }
        Ok(g)
    }

    /// The same gallery measuring with `distance`.
    pub fn with_distance(mut self, distance: Distance) -> Gallery {
        self.distance = distance;
        self
    }

    /// Adds an identity from one embedding and returns its index. A name
    /// already in the gallery, an embedding of another length, or a value
    /// that is not finite is an `Err`.
    pub fn enrol(&mut self, name: &str, embedding: &[f32]) -> Result<usize> {
        self.check_query(embedding)?;
        if self.index_of(name).is_some() {
            return Err(Error::InvalidArgument(format!(
                "gallery: {name:?} is enrolled already; one embedding per identity"
            )));
        }
        self.names.push(name.to_string());
        self.embeddings.extend_from_slice(embedding);
        Ok(self.names.len() - 1)
    }

    fn check_query(&self, embedding: &[f32]) -> Result<()> {
        crate::error::check_len("gallery: embedding", embedding.len(), self.dim)?;
        match embedding.iter().position(|v| !v.is_finite()) {
            Some(k) => Err(Error::InvalidArgument(format!(
                "gallery: value {k} of the embedding is {}",
                embedding[k]
            ))),
            None => Ok(()),
        }
    }

    /// The nearest identity to `query`, or [`Identity::Unknown`] when its
    /// distance is above the threshold (ties go to the identity enrolled
    /// first). An empty gallery or a query of the wrong length is an
    /// `Err`.
    pub fn nearest(&self, query: &[f32]) -> Result<Match> {
        self.check_query(query)?;
        if self.names.is_empty() {
            return Err(Error::InvalidArgument(
                "gallery: no identity enrolled; enrol one before asking who a query is".into(),
            ));
        }
        let (nearest, d) = self
            .embeddings
            .chunks_exact(self.dim)
            .map(|e| distance(e, query, self.distance))
            .enumerate()
            .fold(
                (0, f32::INFINITY),
                |b, (i, d)| if d < b.1 { (i, d) } else { b },
            );
        let identity = if d <= self.threshold {
            Identity::Known(nearest)
        } else {
            Identity::Unknown
        };
        Ok(Match {
            identity,
            nearest,
            distance: d,
        })
    }

    /// Verification (1:1): whether `query` is within the threshold of the
    /// identity `name`. A name not in the gallery is an `Err`.
    pub fn verify(&self, query: &[f32], name: &str) -> Result<bool> {
        self.check_query(query)?;
        let i = self
            .index_of(name)
            .ok_or_else(|| Error::InvalidArgument(format!("gallery: {name:?} is not enrolled")))?;
        Ok(distance(self.embedding(i), query, self.distance) <= self.threshold)
    }

    /// The index of identity `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The name of a known identity; `None` for [`Identity::Unknown`].
    pub fn name_of(&self, identity: Identity) -> Option<&str> {
        match identity {
            Identity::Known(i) => self.names.get(i).map(String::as_str),
            Identity::Unknown => None,
        }
    }

    /// The names, in enrolment order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The stored embedding of identity `i` (panics past the end).
    pub fn embedding(&self, i: usize) -> &[f32] {
        &self.embeddings[i * self.dim..(i + 1) * self.dim]
    }

    /// Every stored embedding, `[len(), dim()]`.
    pub fn embeddings(&self) -> &[f32] {
        &self.embeddings
    }

    /// The number of identities.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no identity is enrolled.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The length of an embedding.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The largest distance still recognised.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Sets the threshold (a number).
    pub fn set_threshold(&mut self, threshold: f32) -> Result<()> {
        if threshold.is_nan() {
            return Err(Error::InvalidArgument(
                "gallery: the threshold is NaN".into(),
            ));
        }
        self.threshold = threshold;
        Ok(())
    }

    /// The distance it measures with.
    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// FNV-1a over everything the file holds but the checksum itself.
    fn checksum(&self) -> u64 {
        let mut h = fnv1a(
            0xcbf2_9ce4_8422_2325,
            &self.threshold.to_bits().to_le_bytes(),
        );
        h = fnv1a(h, self.distance.name().as_bytes());
        h = fnv1a(h, &(self.dim as u64).to_le_bytes());
        for name in &self.names {
            h = fnv1a(h, &(name.len() as u64).to_le_bytes());
            h = fnv1a(h, name.as_bytes());
        }
        for v in &self.embeddings {
            h = fnv1a(h, &v.to_bits().to_le_bytes());
        }
        h
    }

    /// Writes the gallery to `path` (see the module's docs), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut meta = vec![
            ("format".to_string(), FORMAT.to_string()),
            ("version".to_string(), VERSION.to_string()),
            ("distance".to_string(), self.distance.name().to_string()),
            ("threshold".to_string(), self.threshold.to_string()),
            ("identities".to_string(), self.names.len().to_string()),
            ("checksum".to_string(), format!("{:016x}", self.checksum())),
        ];
        for (i, name) in self.names.iter().enumerate() {
            meta.push((format!("name.{i}"), name.clone()));
        }
        let shape = vec![self.names.len(), self.dim];
        crate::io::save(
            path,
            &[("embeddings".into(), shape, &self.embeddings)],
            &meta,
        )
    }

    /// Reads a gallery [`Gallery::save`] wrote. A missing file is
    /// [`Error::Io`]; anything else wrong (not safetensors, not a gallery,
    /// another version, a missing name, a shape that disagrees, a value
    /// that is not finite, a checksum that does not match) is
    /// [`Error::Format`] saying what.
    pub fn load(path: &Path) -> Result<Gallery> {
        let file = crate::io::load(path)?;
        let bad = |message: String| Error::format(path, message);
        let meta = |key: &str| {
            file.metadata(key)
                .ok_or_else(|| bad(format!("not a gallery: no `{key}` in the metadata")))
        };
        if meta("format")? != FORMAT {
            return Err(bad(format!(
                "not a gallery: format {:?}, expected {FORMAT:?}",
                meta("format")?
            )));
        }
        if meta("version")? != VERSION {
            return Err(bad(format!(
                "gallery version {:?}; this build reads version {VERSION}",
                meta("version")?
            )));
        }
        let distance = Distance::from_name(meta("distance")?).ok_or_else(|| {
            bad(format!(
                "unknown distance {:?}",
                meta("distance").unwrap_or("")
            ))
        })?;
        let threshold: f32 = meta("threshold")?
            .parse()
            .map_err(|_| bad("the threshold is not a number".into()))?;
        let count: usize = meta("identities")?
            .parse()
            .map_err(|_| bad("the identity count is not a number".into()))?;
        let (shape, embeddings) = file
            .tensor("embeddings")
            .map_err(|e| bad(format!("the embeddings: {e}")))?;
        let &[rows, dim] = shape else {
            return Err(bad(format!(
                "embeddings of shape {shape:?}, expected [identities, dim]"
            )));
        };
        if rows != count || dim == 0 {
            return Err(bad(format!(
                "embeddings of shape [{rows}, {dim}] for {count} identities; expected [{count}, dim > 0]"
            )));
        }
        let names = (0..count)
            .map(|i| meta(&format!("name.{i}")).map(str::to_string))
            .collect::<Result<Vec<String>>>()?;
        let g = Gallery {
            names,
            embeddings,
            dim,
            threshold,
            distance,
        };
        let want = meta("checksum")?;
        let got = format!("{:016x}", g.checksum());
        if want != got {
            return Err(bad(format!(
                "damaged: checksum {got} does not match the stored {want}"
            )));
        }
        if let Some(i) = (1..count).find(|&i| g.names[..i].contains(&g.names[i])) {
            return Err(bad(format!(
                "identity {i}, {:?}, appears twice",
                g.names[i]
            )));
        }
        if threshold.is_nan() || g.embeddings.iter().any(|v| !v.is_finite()) {
            return Err(bad("a stored value is not finite".into()));
        }
        Ok(g)
    }
}

/// 64-bit FNV-1a over `bytes`, continuing from `hash`.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
