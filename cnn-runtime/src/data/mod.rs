//! Data sets: readers for the files the examples train on, with errors
//! that name the file and say what is wrong with it.
//!
//! - [`idx`]: the IDX format (raw or gzipped), MNIST's container.
//! - [`mnist`]: the four MNIST files as two [`LabelledImages`] sets.
//! - [`digits`]: scikit-learn's 8x8 digits, in the same IDX format.
//! - [`features`]: a frozen trunk's outputs over a data set, cached on disk
//!   with the trunk's identity, to train a new head on.
//! - [`folder`]: your own PNG and JPEG images, one subfolder per class,
//!   resized and cropped into a [`Dataset`]; with one subfolder per
//!   person, the identities [`crate::embed`] trains on.
//! - [`glyphs`]: letters of many alphabets, each rendered in many fonts,
//!   for one-shot learning (background and evaluation alphabets).
//! - [`ts`]: the UCR/UEA archive's `.ts` time series files, as
//!   [`ts::Series`] and a [`Dataset`] of sequences (height-1 images).
//! - [`scenes`]: seeded pictures of several MNIST digits with a box
//!   around each, for object detection.
//! - [`dataset`]: [`Dataset`], examples in memory with their targets
//!   (class labels, label maps or rows of values), and the [`Batcher`];
//!   [`augment`]: the [`Augment`] trait that transforms an example as its
//!   batch is gathered (the transforms themselves are `crate::augment`'s).
//!
//! `data` depends on nothing above it (but the loss's `Target`, which a
//! batch's targets are): `augment` builds on it, and `train` on both.
//!
//! Images stay as the bytes of the file (a quarter of the memory of `f32`);
//! [`LabelledImages::gather`] turns a batch of them into the NHWC `f32`
//! input of a network, scaled to 0..=1.

pub mod augment;
pub mod dataset;
pub mod digits;
pub mod features;
pub mod folder;
pub mod glyphs;
pub mod idx;
pub mod mnist;
pub mod scenes;
pub mod ts;

pub use augment::{Augment, RandomShift};
pub use dataset::{Batcher, Dataset};

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Grey images of one size, each with a class label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledImages {
    /// `len() * height * width` bytes, image after image, row-major.
    pub images: Vec<u8>,
    /// One class per image, below `classes`.
    pub labels: Vec<u8>,
    /// Rows of every image.
    pub height: usize,
    /// Columns of every image.
    pub width: usize,
    /// The largest pixel value the format allows (255 for MNIST, 16 for
    /// the 8x8 digits): [`LabelledImages::gather`] divides by it.
    pub max_value: u8,
    /// The number of classes (labels are `0..classes`).
    pub classes: usize,
}

impl LabelledImages {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of one image (`height * width`).
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// The `[H, W, C]` shape of one image as a network input.
    pub fn shape(&self) -> [usize; 3] {
        [self.height, self.width, 1]
    }

    /// The bytes of image `i`, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let p = self.pixels();
        self.images
            .get(i.checked_mul(p)?..i.checked_mul(p)?.checked_add(p)?)
    }

    /// Copies the images at `indices` into `x` (`[indices.len(), H, W, 1]`,
    /// pixels divided by `max_value`) and their labels into `labels`.
    pub fn gather(&self, indices: &[usize], x: &mut [f32], labels: &mut [usize]) -> Result<()> {
        let p = self.pixels();
        crate::error::check_len("gather: x", x.len(), indices.len() * p)?;
        crate::error::check_len("gather: labels", labels.len(), indices.len())?;
        let max = self.max_value.max(1) as f32;
        for (k, &i) in indices.iter().enumerate() {
            let image = self.image(i).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "gather: index {i} at position {k} is past the end of a set of {} images",
                    self.len()
                ))
            })?;
            for (dst, &src) in x[k * p..(k + 1) * p].iter_mut().zip(image) {
                *dst = src as f32 / max;
            }
            labels[k] = self.labels[i] as usize;
        }
        Ok(())
    }

    /// Images `start..end` as a set of their own (e.g. a validation split).
    pub fn slice(&self, start: usize, end: usize) -> Result<LabelledImages> {
        if start > end || end > self.len() {
            return Err(Error::InvalidArgument(format!(
                "slice {start}..{end} of a set of {} images",
                self.len()
            )));
        }
        let p = self.pixels();
        Ok(LabelledImages {
            images: self.images[start * p..end * p].to_vec(),
            labels: self.labels[start..end].to_vec(),
            height: self.height,
            width: self.width,
            max_value: self.max_value,
            classes: self.classes,
        })
    }

    /// How many images of each class (index = class).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }
}

/// `dir/name.gz` if it exists, else `dir/name` if it exists, else an
/// [`Error::Io`] (not found) naming both.
pub fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if gz.is_file() {
        return Ok(gz);
    }
    if raw.is_file() {
        return Ok(raw);
    }
    Err(Error::io(
        raw,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("not found (nor {name}.gz)"),
        ),
    ))
}

/// Reads an image file and a label file and checks that they agree: the
/// same count, labels below `classes`, pixels at most `max_value`.
pub fn load_pair(
    images_path: &Path,
    labels_path: &Path,
    classes: usize,
    max_value: u8,
) -> Result<LabelledImages> {
    let images = idx::read_images(images_path)?;
    let labels = idx::read_labels(labels_path)?;
    let (n, height, width) = (images.dims[0], images.dims[1], images.dims[2]);
    if labels.dims[0] != n {
        return Err(Error::format(
            labels_path,
            format!(
                "{} labels but {} holds {n} images; the counts must be equal",
                labels.dims[0],
                images_path.display()
            ),
        ));
    }
    if let Some((i, &l)) = labels
        .data
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= classes)
    {
        return Err(Error::format(
            labels_path,
            format!(
                "label {l} at position {i} is out of range: labels are 0..={}",
                classes - 1
            ),
        ));
    }
    if max_value < u8::MAX {
        if let Some((i, &v)) = images.data.iter().enumerate().find(|(_, &v)| v > max_value) {
            let p = (height * width).max(1);
            return Err(Error::format(
                images_path,
                format!(
                    "pixel {v} in image {} is out of range: this set's pixels are 0..={max_value}",
                    i / p
                ),
            ));
        }
    }
    Ok(LabelledImages {
        images: images.data,
        labels: labels.data,
        height,
        width,
        max_value,
        classes,
    })
}
