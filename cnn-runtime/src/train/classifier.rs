//! What test-time tools need from a trained network: class probabilities
//! for a batch. Every [`Network`] is a [`Classifier`], and so are the
//! wrappers that average several predictions ([`TenCrop`](super::TenCrop),
//! [`Ensemble`](super::Ensemble)), so they nest (10-crop of an ensemble,
//! an ensemble of 10-crops) and [`evaluate`] scores any of them.

use super::fit::{argmax, Evaluation};
use super::{Dataset, Network};
use crate::error::{Error, Result};

/// Something that turns a batch of inputs into class probabilities.
/// (Named apart from [`Network`]'s methods so that both traits can be in
/// scope.)
pub trait Classifier {
    /// One input's shape: `[h, w, c]` or `[n]`.
    fn input_dims(&self) -> &[usize];
    /// The number of classes.
    fn n_classes(&self) -> usize;
    /// Probabilities in inference mode: `x` is `[batch, input...]`, `out`
    /// is `[batch, classes]`.
    fn probabilities(&self, x: &[f32], out: &mut [f32]) -> Result<()>;
}

impl<N: Network> Classifier for N {
    fn input_dims(&self) -> &[usize] {
        self.input_shape()
    }
    fn n_classes(&self) -> usize {
        self.classes()
    }
    fn probabilities(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        self.predict_batch(x, out)
    }
}

/// `Err` unless examples of `shape` are what `c` takes.
pub(crate) fn check_input(
    c: &(impl Classifier + ?Sized),
    shape: [usize; 3],
    what: &str,
) -> Result<()> {
    let want = c.input_dims();
    let fits = match want.len() {
        3 => want == shape,
        _ => want.iter().product::<usize>() == shape.iter().product::<usize>(),
    };
    if !fits {
        return Err(Error::shape(
            what,
            format!("examples of shape {want:?} (the classifier's input)"),
            format!("{shape:?}"),
        ));
    }
    Ok(())
}

/// Class probabilities for every example of `data`: `[len, classes]`.
pub fn predict(
    c: &(impl Classifier + ?Sized),
    data: &Dataset,
    batch_size: usize,
) -> Result<Vec<f32>> {
    check_input(c, data.shape(), "prediction data")?;
    let (classes, per, bs) = (c.n_classes(), data.example_len(), batch_size.max(1));
    let mut out = vec![0.0; data.len() * classes];
    for (x, dst) in data
        .images()
        .chunks(bs * per)
        .zip(out.chunks_mut(bs * classes))
    {
        c.probabilities(x, dst)?;
    }
    Ok(out)
}

/// Mean cross-entropy and accuracy of `c` over `data`, as
/// `Model::evaluate` computes them for one network.
pub fn evaluate(
    c: &(impl Classifier + ?Sized),
    data: &Dataset,
    batch_size: usize,
) -> Result<Evaluation> {
    let probs = predict(c, data, batch_size)?;
    let classes = c.n_classes();
    if data.classes() > classes {
        return Err(Error::InvalidArgument(format!(
            "evaluation data has {} classes but the classifier outputs {classes}",
            data.classes()
        )));
    }
    let (mut loss, mut correct) = (0f64, 0usize);
    for (row, &label) in probs.chunks_exact(classes).zip(data.labels()) {
        loss -= (row[label].max(1e-12) as f64).ln();
        correct += usize::from(argmax(row) == label);
    }
    let n = data.len().max(1) as f64;
    Ok(Evaluation {
        loss: (loss / n) as f32,
        accuracy: (correct as f64 / n) as f32,
    })
}
