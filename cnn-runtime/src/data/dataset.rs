//! An in-memory image set with its targets (class labels, label maps or
//! rows of values): normalisation, padding (MNIST's 28x28 to LeNet-5's
//! 32x32), a seeded train/validation split, per-epoch shuffled order, and a
//! [`Batcher`] that gathers a batch into buffers it reuses.

use crate::error::{Error, Result};
use crate::loss::Target;
use crate::rng::{splitmix64, Rng};

/// Examples of shape `[h, w, c]` (NHWC, f32) with their targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    shape: [usize; 3],
    x: Vec<f32>,
    /// Class labels: one per example, or a label map's per example.
    y: Vec<usize>,
    classes: usize,
    /// Rows of values, `per_example` per example.
    v: Vec<f32>,
    kind: TargetKind,
}

/// What a [`Dataset`] holds for each example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// One class label.
    Classes,
    /// A class label per output position (segmentation).
    LabelMaps {
        /// Labels per example.
        per_example: usize,
    },
    /// A row of values (regression, boxes, one-hot rows, a YOLO volume).
    Values {
        /// Values per example.
        per_example: usize,
    },
}

impl Dataset {
    /// Checks that `x` holds `y.len()` examples of `shape` and that every
    /// label is below `classes`.
    pub fn new(shape: [usize; 3], x: Vec<f32>, y: Vec<usize>, classes: usize) -> Result<Self> {
        let per: usize = shape.iter().product();
        if per == 0 || classes == 0 {
            return Err(Error::InvalidArgument(format!(
                "dataset: example shape {}x{}x{} and {classes} classes must all be positive",
                shape[0], shape[1], shape[2]
            )));
        }
        if x.len() != per * y.len() {
            return Err(Error::shape(
                "dataset images",
                format!("{} labels x {per} values = {}", y.len(), per * y.len()),
                x.len(),
            ));
        }
        if let Some((index, &label)) = y.iter().enumerate().find(|(_, &l)| l >= classes) {
            return Err(Error::LabelOutOfRange {
                index,
                label,
                classes,
            });
        }
        Ok(Dataset {
            shape,
            x,
            y,
            classes,
            v: Vec::new(),
            kind: TargetKind::Classes,
        })
    }

    /// Examples with a label map each: `per_example` labels (one per
    /// output position, row-major), every label below `classes`.
    pub fn with_label_maps(
        shape: [usize; 3],
        x: Vec<f32>,
        maps: Vec<usize>,
        per_example: usize,
        classes: usize,
    ) -> Result<Self> {
        let per: usize = shape.iter().product();
        if per == 0 || per_example == 0 || classes == 0 {
            return Err(Error::InvalidArgument(format!(
                "dataset: example shape {shape:?}, {per_example} labels per example and {classes} classes must all be positive"
            )));
        }
        let n = x.len() / per;
        if x.len() != n * per || maps.len() != n * per_example {
            return Err(Error::shape(
                "dataset label maps",
                format!("{n} examples x {per_example} labels = {}", n * per_example),
                maps.len(),
            ));
        }
        if let Some((index, &label)) = maps.iter().enumerate().find(|(_, &l)| l >= classes) {
            return Err(Error::LabelOutOfRange {
                index,
                label,
                classes,
            });
        }
        Ok(Dataset {
            shape,
            x,
            y: maps,
            classes,
            v: Vec::new(),
            kind: TargetKind::LabelMaps { per_example },
        })
    }

    /// Examples with a row of `per_example` values each (laid out as the
    /// network's output is, for the loss to compare).
    pub fn with_values(
        shape: [usize; 3],
        x: Vec<f32>,
        values: Vec<f32>,
        per_example: usize,
    ) -> Result<Self> {
        let per: usize = shape.iter().product();
        if per == 0 || per_example == 0 {
            return Err(Error::InvalidArgument(format!(
                "dataset: example shape {shape:?} and {per_example} values per example must be positive"
            )));
        }
        let n = x.len() / per;
        if x.len() != n * per || values.len() != n * per_example {
            return Err(Error::shape(
                "dataset values",
                format!("{n} examples x {per_example} values = {}", n * per_example),
                values.len(),
            ));
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "dataset values: value {index} is {}; targets must be finite",
                values[index]
            )));
        }
        Ok(Dataset {
            shape,
            x,
            y: Vec::new(),
            classes: 0,
            v: values,
            kind: TargetKind::Values { per_example },
        })
    }

    /// What the examples' targets are.
    pub fn target_kind(&self) -> TargetKind {
        self.kind
    }

    /// The targets of one example.
    pub fn target(&self, i: usize) -> Target<'_> {
        match self.kind {
            TargetKind::Classes => Target::Classes(&self.y[i..i + 1]),
            TargetKind::LabelMaps { per_example: p } => {
                Target::LabelMap(&self.y[i * p..(i + 1) * p])
            }
            TargetKind::Values { per_example: p } => Target::Values(&self.v[i * p..(i + 1) * p]),
        }
    }

    /// Every value target, examples back to back (empty unless the
    /// targets are values).
    pub fn values(&self) -> &[f32] {
        &self.v
    }

    /// The examples at `indices` (their pixels `x`, already gathered) with
    /// their targets.
    fn with_targets_of(&self, x: Vec<f32>, indices: &[usize]) -> Dataset {
        let (mut y, mut v) = (Vec::new(), Vec::new());
        gather_target(self, indices, &mut y, &mut v);
        Dataset {
            shape: self.shape,
            x,
            y,
            classes: self.classes,
            v,
            kind: self.kind,
        }
    }

    /// From 8-bit pixels, scaled by `1 / max_value` into [0, 1].
    pub fn from_u8(
        shape: [usize; 3],
        pixels: &[u8],
        labels: &[u8],
        classes: usize,
        max_value: f32,
    ) -> Result<Self> {
        let x = pixels.iter().map(|&p| p as f32 / max_value).collect();
        let y = labels.iter().map(|&l| l as usize).collect();
        Dataset::new(shape, x, y, classes)
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.x.len() / self.example_len().max(1)
    }
    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
    /// One example's shape `[h, w, c]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }
    /// The number of classes (labels are `0..classes`; 0 for value
    /// targets).
    pub fn classes(&self) -> usize {
        self.classes
    }
    /// Elements of one example.
    pub fn example_len(&self) -> usize {
        self.shape.iter().product()
    }
    /// All pixels, examples back to back.
    pub fn images(&self) -> &[f32] {
        &self.x
    }
    /// The labels: one per example (a label map's per example for label
    /// maps; empty for value targets).
    pub fn labels(&self) -> &[usize] {
        &self.y
    }
    /// Example `i`'s pixels.
    pub fn image(&self, i: usize) -> &[f32] {
        let per = self.example_len();
        &self.x[i * per..(i + 1) * per]
    }
    /// Example `i` and its label (0 unless the targets are class labels:
    /// see [`Dataset::target`]).
    pub fn example(&self, i: usize) -> (&[f32], usize) {
        let label = match self.kind {
            TargetKind::Classes => self.y[i],
            _ => 0,
        };
        (self.image(i), label)
    }

    /// All images of an IDX set (MNIST, digits), scaled into [0, 1].
    pub fn from_labelled(set: &crate::data::LabelledImages) -> Result<Self> {
        Dataset::from_u8(
            set.shape(),
            &set.images,
            &set.labels,
            set.classes,
            set.max_value as f32,
        )
    }

    /// `x <- (x - mean) / std` for every value (MNIST: 0.1307, 0.3081).
    pub fn normalise(&mut self, mean: f32, std: f32) {
        let inv = 1.0 / std;
        self.x.iter_mut().for_each(|v| *v = (*v - mean) * inv);
    }

    /// Pads every example with `value`: `[top, bottom, left, right]` rows and
    /// columns. MNIST to LeNet-5's 32x32: `pad([2, 2, 2, 2], background)`.
    pub fn pad(&self, [top, bottom, left, right]: [usize; 4], value: f32) -> Dataset {
        let [h, w, c] = self.shape;
        let (nh, nw) = (h + top + bottom, w + left + right);
        let mut x = vec![value; self.len() * nh * nw * c];
        for (src, dst) in self
            .x
            .chunks_exact(h * w * c)
            .zip(x.chunks_exact_mut(nh * nw * c))
        {
            for r in 0..h {
                let d = ((r + top) * nw + left) * c;
                dst[d..d + w * c].copy_from_slice(&src[r * w * c..(r + 1) * w * c]);
            }
        }
        Dataset {
            shape: [nh, nw, c],
            x,
            ..self.clone_targets()
        }
    }

    /// An empty-image copy of the targets, for the transforms that only
    /// change the pixels.
    fn clone_targets(&self) -> Dataset {
        Dataset {
            shape: self.shape,
            x: Vec::new(),
            y: self.y.clone(),
            classes: self.classes,
            v: self.v.clone(),
            kind: self.kind,
        }
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let per = self.example_len();
        let mut x = Vec::with_capacity(indices.len() * per);
        for &i in indices {
            x.extend_from_slice(&self.x[i * per..(i + 1) * per]);
        }
        self.with_targets_of(x, indices)
    }

    /// The first `n` examples (all when `n >= len`).
    pub fn take(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&idx)
    }

    /// A seeded random split: `(train, validation)` with `validation`
    /// examples in the second part.
    pub fn split(&self, validation: usize, seed: u64) -> Result<(Dataset, Dataset)> {
        if validation >= self.len() {
            return Err(Error::InvalidArgument(format!(
                "dataset split: {validation} validation examples leave none of {} for training",
                self.len()
            )));
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::new(seed).shuffle(&mut order);
        let (train, val) = order.split_at(self.len() - validation);
        Ok((self.select(train), self.select(val)))
    }

    /// The order in which epoch `epoch` visits the examples: a permutation
    /// fixed by `(seed, epoch)` alone, so a resumed run sees the same order.
    pub fn epoch_order(&self, seed: u64, epoch: usize, out: &mut Vec<usize>) {
        out.clear();
        out.extend(0..self.len());
        Rng::new(splitmix64(seed ^ splitmix64(epoch as u64))).shuffle(out);
    }
}

/// Gathers batches into buffers that are allocated once per batch size.
#[derive(Default, Debug)]
pub struct Batcher {
    x: Vec<f32>,
    y: Vec<usize>,
    v: Vec<f32>,
}

impl Batcher {
    /// Empty buffers; they grow on the first batch of each size.
    pub fn new() -> Self {
        Batcher::default()
    }

    /// Copies the examples at `indices` into the batch buffers.
    pub fn gather(&mut self, data: &Dataset, indices: &[usize]) -> (&[f32], &[usize]) {
        let (x, y) = self.gather_mut(data, indices);
        (x, y)
    }

    /// As [`Batcher::gather`], with the batch writable (for augmentation).
    pub fn gather_mut(&mut self, data: &Dataset, indices: &[usize]) -> (&mut [f32], &[usize]) {
        let per = data.example_len();
        self.x.resize(indices.len() * per, 0.0);
        self.y.resize(indices.len(), 0);
        for (k, &i) in indices.iter().enumerate() {
            let (ex, label) = data.example(i);
            self.x[k * per..(k + 1) * per].copy_from_slice(ex);
            self.y[k] = label;
        }
        (&mut self.x, &self.y)
    }

    /// Copies the examples at `indices` and their targets, whatever
    /// their kind.
    pub fn gather_targets(&mut self, data: &Dataset, indices: &[usize]) -> (&[f32], Target<'_>) {
        let per = data.example_len();
        self.x.resize(indices.len() * per, 0.0);
        for (k, &i) in indices.iter().enumerate() {
            self.x[k * per..(k + 1) * per].copy_from_slice(data.image(i));
        }
        let target = gather_target(data, indices, &mut self.y, &mut self.v);
        (&self.x, target)
    }
}

/// The targets of the examples at `indices`, into `y` or `v` (cleared
/// first) by the data set's kind.
pub fn gather_target<'a>(
    data: &Dataset,
    indices: &[usize],
    y: &'a mut Vec<usize>,
    v: &'a mut Vec<f32>,
) -> Target<'a> {
    y.clear();
    v.clear();
    for &i in indices {
        match data.target(i) {
            Target::Classes(l) | Target::LabelMap(l) => y.extend_from_slice(l),
            Target::Values(t) => v.extend_from_slice(t),
        }
    }
    data.kind.target(y, v)
}

impl TargetKind {
    /// Targets of this kind: `labels` for class labels and label maps,
    /// `values` for values (the other is not read).
    pub fn target<'a>(self, labels: &'a [usize], values: &'a [f32]) -> Target<'a> {
        match self {
            TargetKind::Classes => Target::Classes(labels),
            TargetKind::LabelMaps { .. } => Target::LabelMap(labels),
            TargetKind::Values { .. } => Target::Values(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // Four 2x2x1 examples whose pixels are their index.
        let x = (0..4).flat_map(|i| [i as f32; 4]).collect();
        Dataset::new([2, 2, 1], x, vec![0, 1, 2, 1], 3).unwrap()
    }

    #[test]
    fn rejects_bad_lengths_and_labels() {
        assert!(matches!(
            Dataset::new([2, 2, 1], vec![0.0; 7], vec![0, 1], 3),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Dataset::new([2, 2, 1], vec![0.0; 8], vec![0, 5], 3),
            Err(Error::LabelOutOfRange {
                index: 1,
                label: 5,
                classes: 3
            })
        ));
        assert!(Dataset::new([0, 2, 1], vec![], vec![], 3).is_err());
    }

    #[test]
    fn pad_puts_the_image_in_the_middle() {
        let d = tiny().pad([1, 1, 1, 1], -1.0);
        assert_eq!(d.shape(), [4, 4, 1]);
        let (ex, _) = d.example(2);
        #[rustfmt::skip]
        let want = [-1.0, -1.0, -1.0, -1.0,
                    -1.0,  2.0,  2.0, -1.0,
                    -1.0,  2.0,  2.0, -1.0,
                    -1.0, -1.0, -1.0, -1.0];
        assert_eq!(ex, want);
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let d = tiny();
        let (a, b) = d.split(1, 9).unwrap();
        let (a2, b2) = d.split(1, 9).unwrap();
        assert_eq!((a.len(), b.len()), (3, 1));
        assert_eq!((&a, &b), (&a2, &b2));
        let mut seen: Vec<f32> = a
            .images()
            .iter()
            .step_by(4)
            .chain(b.images().iter().step_by(4))
            .copied()
            .collect();
        seen.sort_by(f32::total_cmp);
        assert_eq!(seen, [0.0, 1.0, 2.0, 3.0]);
        assert!(d.split(4, 0).is_err());
    }

    #[test]
    fn epoch_order_depends_on_seed_and_epoch_only() {
        let d = Dataset::new([1, 1, 1], vec![0.0; 50], vec![0; 50], 1).unwrap();
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        d.epoch_order(1, 3, &mut a);
        d.epoch_order(1, 3, &mut b);
        d.epoch_order(1, 4, &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn value_and_label_map_targets_follow_their_examples() {
        let x: Vec<f32> = (0..4).flat_map(|i| [i as f32; 4]).collect();
        let v: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let d = Dataset::with_values([2, 2, 1], x.clone(), v, 2).unwrap();
        assert_eq!(d.len(), 4);
        let s = d.select(&[3, 1]);
        assert_eq!(s.values(), [6.0, 7.0, 2.0, 3.0]);
        assert_eq!(s.image(0), [3.0; 4]);
        let mut b = Batcher::new();
        let (bx, t) = b.gather_targets(&d.pad([1, 0, 0, 0], 0.0), &[2]);
        assert_eq!(bx.len(), 6);
        assert!(matches!(t, Target::Values([4.0, 5.0])));
        let maps: Vec<usize> = (0..16).map(|i| i % 3).collect();
        let m = Dataset::with_label_maps([2, 2, 1], x.clone(), maps, 4, 3).unwrap();
        let (_, t) = b.gather_targets(&m, &[1]);
        assert!(matches!(t, Target::LabelMap([1, 2, 0, 1])));
        // Wrong lengths, labels out of range and NaN targets are errors.
        assert!(Dataset::with_values([2, 2, 1], x.clone(), vec![0.0; 7], 2).is_err());
        assert!(Dataset::with_values([2, 2, 1], x.clone(), vec![f32::NAN; 8], 2).is_err());
        assert!(Dataset::with_label_maps([2, 2, 1], x.clone(), vec![3; 16], 4, 3).is_err());
        assert!(Dataset::with_label_maps([2, 2, 1], x, vec![0; 15], 4, 3).is_err());
    }

    #[test]
    fn batcher_gathers_in_order() {
        let d = tiny();
        let mut b = Batcher::new();
        let (x, y) = b.gather(&d, &[3, 0]);
        assert_eq!(x, [3.0, 3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(y, [1, 0]);
    }
}
