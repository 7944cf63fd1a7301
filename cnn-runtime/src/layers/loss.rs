//! The training loss: softmax followed by categorical cross-entropy,
//! fused. Computing `-log softmax(z)[label]` as `logsumexp(z) - z[label]`
//! with the row maximum factored out never overflows or takes the log of
//! 0, however large the logits, and the gradient with respect to the
//! logits is simply `softmax(z) - onehot(label)`; the softmax layer itself
//! is never back-propagated on its own.

use crate::error::{check_len, Error, Result};
use crate::layers::activation::softmax_row;

/// Checks the shapes and labels shared by both losses; returns `batch * classes`.
/// `names` are the function and its two inputs, as errors show them
/// (literals: nothing is formatted unless there is an error).
fn check(
    names: [&str; 3],
    batch: usize,
    classes: usize,
    values: &[f32],
    labels: &[usize],
) -> Result<usize> {
    let [what, values_name, labels_name] = names;
    if batch == 0 || classes == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: batch and classes must be positive (batch = {batch}, classes = {classes})"
        )));
    }
    let len = batch
        .checked_mul(classes)
        .ok_or_else(|| Error::InvalidArgument(format!("{what}: batch * classes overflows")))?;
    check_len(values_name, values.len(), len)?;
    check_len(labels_name, labels.len(), batch)?;
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(Error::LabelOutOfRange {
            index,
            label,
            classes,
        });
    }
    Ok(len)
}

/// Mean over the batch of `-log softmax(logits)[label]`, and its gradient
/// `dlogits = scale * (softmax(logits) - onehot(label)) / batch`
/// (overwrites dlogits). `scale` weights the loss (an auxiliary head's
/// weight, or 1). Labels are checked before anything is written.
/// logits, dlogits: [batch, classes]  labels: `[batch]`, each `< classes`
pub fn softmax_cross_entropy(
    batch: usize,
    classes: usize,
    logits: &[f32],
    labels: &[usize],
    scale: f32,
    dlogits: &mut [f32],
) -> Result<f32> {
    let len = check(
        [
            "softmax_cross_entropy",
            "softmax_cross_entropy logits",
            "softmax_cross_entropy labels",
        ],
        batch,
        classes,
        logits,
        labels,
    )?;
    check_len("softmax_cross_entropy dlogits", dlogits.len(), len)?;
    // A few thousand values at most (batch x classes): one thread.
    let g = scale / batch as f32;
    let mut total = 0f64;
    for ((z, d), &label) in logits
        .chunks_exact(classes)
        .zip(dlogits.chunks_exact_mut(classes))
        .zip(labels)
    {
        // -log softmax(z)[label] = logsumexp(z) - z[label]
        //                        = ln(sum exp(z - max)) - (z[label] - max),
        // where the sum is at least 1 (the max's own term): no overflow, no ln 0.
        let (max, sum) = softmax_row(z, d);
        let nll = (sum as f64).ln() - (z[label] - max) as f64;
        total += nll;
        d.iter_mut().for_each(|v| *v *= g);
        d[label] -= g;
    }
    Ok((total / batch as f64) as f32)
}

/// Mean over the batch of `-log probs[label]`, from probabilities (the
/// output of a final softmax), as a plain definition: a probability of 0
/// gives an infinite loss. The fused [`softmax_cross_entropy`] is what
/// training uses.
/// probs: [batch, classes]  labels: `[batch]`, each `< classes`
pub fn cross_entropy_from_probs(
    batch: usize,
    classes: usize,
    probs: &[f32],
    labels: &[usize],
) -> Result<f32> {
    check(
        [
            "cross_entropy_from_probs",
            "cross_entropy_from_probs probs",
            "cross_entropy_from_probs labels",
        ],
        batch,
        classes,
        probs,
        labels,
    )?;
    let total: f64 = probs
        .chunks_exact(classes)
        .zip(labels)
        .map(|(p, &label)| -(p[label] as f64).ln())
        .sum();
    Ok((total / batch as f64) as f32)
}

/// Slow versions for tests, in f64.
#[cfg(any(test, feature = "testing"))]
pub mod reference {
    /// The fused loss and its gradient, from the definitions:
    /// `logsumexp(z) - z[label]` and `scale * (softmax(z) - onehot) / batch`.
    pub fn softmax_cross_entropy(
        batch: usize,
        classes: usize,
        logits: &[f32],
        labels: &[usize],
        scale: f32,
    ) -> (f64, Vec<f32>) {
        let mut grad = vec![0.0; batch * classes];
        let mut total = 0.0;
        for b in 0..batch {
            let z: Vec<f64> = logits[b * classes..(b + 1) * classes]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
            total += sum.ln() + max - z[labels[b]];
            for k in 0..classes {
                let p = (z[k] - max).exp() / sum;
                let y = if k == labels[b] { 1.0 } else { 0.0 };
                grad[b * classes + k] = (scale as f64 * (p - y) / batch as f64) as f32;
            }
        }
        (total / batch as f64, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::activation;
    use crate::testing::{assert_close, gradcheck, nan_filled, random};

    fn labels(batch: usize, classes: usize, seed: u64) -> Vec<usize> {
        let mut r = crate::rng::Rng::new(seed);
        (0..batch).map(|_| r.below(classes)).collect()
    }

    #[test]
    fn matches_reference() {
        for (batch, classes, scale) in [(1, 1, 1.0), (1, 10, 1.0), (3, 7, 0.3), (64, 10, 1.0)] {
            let z: Vec<f32> = random(batch * classes, 1).iter().map(|v| v * 5.0).collect();
            let l = labels(batch, classes, 2);
            let mut d = nan_filled(z.len());
            let loss = softmax_cross_entropy(batch, classes, &z, &l, scale, &mut d).unwrap();
            let (want, grad) = reference::softmax_cross_entropy(batch, classes, &z, &l, scale);
            assert!(
                (loss as f64 - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{loss} vs {want}"
            );
            assert_close(&d, &grad, 1e-5, 1e-7);
        }
    }

    // Uniform logits: every class has probability 1/10, so the loss is
    // ln 10 = 2.302585 (the loss of an untrained 10-class network).
    #[test]
    fn uniform_logits_give_ln_classes() {
        let mut d = nan_filled(20);
        let loss = softmax_cross_entropy(2, 10, &[0.5; 20], &[3, 9], 1.0, &mut d).unwrap();
        assert!((loss - 10f32.ln()).abs() < 1e-6, "{loss}");
        assert_close(&d[..3], &[0.05; 3], 1e-6, 0.0);
        assert_close(&d[3..4], &[(0.1 - 1.0) / 2.0], 1e-6, 0.0);
    }

    #[test]
    fn huge_logits_stay_finite() {
        // Logits of 1e4: exp would overflow f32 (and f64) without the shift.
        let z = [1e4, -1e4, 0.0, 5e3, 1e4, 1e4 - 2.0, -3e4, 2e4];
        let l = [1, 0];
        let mut d = nan_filled(8);
        let loss = softmax_cross_entropy(2, 4, &z, &l, 1.0, &mut d).unwrap();
        assert!(loss.is_finite());
        // Row 0: label logit -1e4, max 1e4: loss 2e4 (+ log(1 + e^-5000...) = 0).
        // Row 1: label logit 1e4, max 2e4: loss 1e4 + log(1 + ...) = 1e4.
        assert!((loss - 1.5e4).abs() < 1.0, "{loss}");
        let (want, grad) = reference::softmax_cross_entropy(2, 4, &z, &l, 1.0);
        assert!((loss as f64 - want).abs() < 1e-3 * want, "{loss} vs {want}");
        assert_close(&d, &grad, 1e-6, 1e-7);
        // p - y per row: row 0 puts all mass on class 0 and none on its label 1.
        assert_close(&d[..4], &[0.5, -0.5, 0.0, 0.0], 0.0, 1e-7);
    }

    #[test]
    fn gradcheck_wrt_logits() {
        let (batch, classes) = (3, 5);
        let mut z = random(batch * classes, 3);
        let l = labels(batch, classes, 4);
        let mut d = nan_filled(z.len());
        softmax_cross_entropy(batch, classes, &z, &l, 0.7, &mut d).unwrap();
        let mut scratch = vec![0.0; z.len()];
        gradcheck(&mut z, &d, 1e-3, 1e-3, None, |z| {
            0.7 * softmax_cross_entropy(batch, classes, z, &l, 1.0, &mut scratch).unwrap() as f64
        });
    }

    #[test]
    fn probs_version_agrees_with_the_fused_one() {
        let (batch, classes) = (5, 4);
        let z = random(batch * classes, 5);
        let l = labels(batch, classes, 6);
        let mut p = nan_filled(z.len());
        activation::softmax(batch, classes, &z, &mut p).unwrap();
        let from_probs = cross_entropy_from_probs(batch, classes, &p, &l).unwrap();
        let fused =
            softmax_cross_entropy(batch, classes, &z, &l, 1.0, &mut vec![0.0; z.len()]).unwrap();
        assert!((from_probs - fused).abs() < 1e-6, "{from_probs} vs {fused}");
        // A probability of exactly 0 on the label is an infinite loss.
        let inf = cross_entropy_from_probs(1, 2, &[1.0, 0.0], &[1]).unwrap();
        assert!(inf.is_infinite());
    }

    #[test]
    fn bad_labels_and_shapes_are_errors() {
        let mut d = nan_filled(6);
        match softmax_cross_entropy(2, 3, &[0.0; 6], &[0, 3], 1.0, &mut d) {
            Err(Error::LabelOutOfRange {
                index: 1,
                label: 3,
                classes: 3,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(
            d.iter().all(|v| v.is_nan()),
            "nothing is written before the labels are checked"
        );
        assert!(matches!(
            cross_entropy_from_probs(1, 3, &[0.3; 3], &[7]),
            Err(Error::LabelOutOfRange { .. })
        ));
        let e = softmax_cross_entropy(2, 3, &[0.0; 5], &[0, 1], 1.0, &mut d).unwrap_err();
        assert!(e.to_string().contains("logits"), "{e}");
        let e = softmax_cross_entropy(2, 3, &[0.0; 6], &[0], 1.0, &mut d).unwrap_err();
        assert!(e.to_string().contains("labels"), "{e}");
        let e = softmax_cross_entropy(2, 3, &[0.0; 6], &[0, 1], 1.0, &mut d[..5]).unwrap_err();
        assert!(e.to_string().contains("dlogits"), "{e}");
        assert!(softmax_cross_entropy(0, 3, &[], &[], 1.0, &mut []).is_err());
        assert!(softmax_cross_entropy(2, 0, &[], &[0, 0], 1.0, &mut []).is_err());
        assert!(cross_entropy_from_probs(usize::MAX, 3, &[], &[]).is_err());
    }
}
