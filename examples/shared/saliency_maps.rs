//! Saliency maps of MNIST digits (Simonyan et al. 2014), shared by
//! `saliency` and `visualize`: the gradient of a class's score (its logit,
//! before the softmax) with respect to the picture, SmoothGrad's mean of it
//! over noisy copies (Smilkov et al. 2017), and the picture that shows both
//! beside each digit. The network is whatever `input_grad` runs: a held
//! pass, `forward(x, Mode::Infer)`, then `backward` from the one-hot
//! logits' gradient it is given with `Grads::input()` (the generated
//! `forward` is a method of each network, not of a trait).

// Each example that includes this file uses part of it.
#![allow(dead_code)]

use cnn::ndarray::{Array2, Array4, Axis};

/// Copies per digit, and the noise's deviation as a fraction of the
/// digit's range (Smilkov et al. 2017 find 10-20% best).
pub const SAMPLES: usize = 32;
pub const NOISE: f32 = 0.15;

/// `(x, d loss / d logits) -> d loss / d x`: one held pass.
pub type InputGrad<'a> =
    dyn FnMut(&Array4<f32>, &Array2<f32>) -> Result<Array4<f32>, cnn::Error> + 'a;

/// One-hot rows: `classes[i]` of `n_classes`.
pub fn one_hot(classes: &[usize], n_classes: usize) -> Array2<f32> {
    let mut rows = Array2::<f32>::zeros((classes.len(), n_classes));
    for (i, &k) in classes.iter().enumerate() {
        rows[[i, k]] = 1.0;
    }
    rows
}

/// The gradient of each digit's `classes[i]` score with respect to it.
pub fn gradient(
    input_grad: &mut InputGrad<'_>,
    x: &Array4<f32>,
    classes: &[usize],
    n_classes: usize,
) -> Result<Array4<f32>, cnn::Error> {
    input_grad(x, &one_hot(classes, n_classes))
}

/// The mean over `SAMPLES` noisy copies of each digit of the gradient of
/// its class in `classes`, in one held pass over all the copies.
pub fn smooth_grad(
    input_grad: &mut InputGrad<'_>,
    x: &Array4<f32>,
    classes: &[usize],
    n_classes: usize,
) -> Result<Array4<f32>, cnn::Error> {
    let n = classes.len();
    let (_, h, w, c) = x.dim();
    let mut rng = cnn::rng::Rng::new(7);
    let mut noisy = Array4::<f32>::zeros((n * SAMPLES, h, w, c));
    let mut copies = Vec::with_capacity(n * SAMPLES);
    for (i, &class) in classes.iter().enumerate() {
        let img = x.index_axis(Axis(0), i);
        let (lo, hi) = img
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let sigma = NOISE * (hi - lo);
        for s in 0..SAMPLES {
            let mut dst = noisy.index_axis_mut(Axis(0), i * SAMPLES + s);
            dst.zip_mut_with(&img, |d, &v| *d = v + sigma * rng.normal());
            copies.push(class);
        }
    }
    let g = input_grad(&noisy, &one_hot(&copies, n_classes))?;
    let mut mean = Array4::<f32>::zeros(x.raw_dim());
    for i in 0..n {
        let mut dst = mean.index_axis_mut(Axis(0), i);
        for s in 0..SAMPLES {
            dst.zip_mut_with(&g.index_axis(Axis(0), i * SAMPLES + s), |d, &v| {
                *d += v / SAMPLES as f32
            });
        }
    }
    Ok(mean)
}

/// `|gradient|` of example `i` (one channel), scaled to 0..1 at its 99th
/// percentile (so that a few large values do not leave the rest black).
pub fn magnitude(grad: &Array4<f32>, i: usize) -> Vec<f32> {
    let g: Vec<f32> = grad
        .index_axis(Axis(0), i)
        .iter()
        .map(|v| v.abs())
        .collect();
    let mut sorted = g.clone();
    sorted.sort_by(f32::total_cmp);
    let top = sorted[sorted.len() * 99 / 100].max(1e-12);
    g.iter().map(|v| (v / top).min(1.0)).collect()
}

/// Writes the picture to `path`: per digit of `x` (one channel), the digit
/// and each map of `maps` (`magnitude`s) side by side, scaled 3x, a bar
/// under them, green when `predicted` is `labels`, red when not; six
/// digits a row. Returns how many were predicted right.
pub fn draw(
    path: &std::path::Path,
    x: &Array4<f32>,
    maps: &[&Array4<f32>],
    predicted: &[usize],
    labels: &[usize],
) -> Result<usize, cnn::Error> {
    let (n, h, w_img, _) = x.dim();
    let (cols, z) = (6usize, 3usize);
    let panels = 1 + maps.len();
    let (cell_w, cell_h) = (panels * w_img * z + (panels + 1) * 4, h * z + 14);
    let rows = n.div_ceil(cols);
    let (w, ht) = (cols * cell_w, rows * cell_h);
    let mut rgb = vec![0.15f32; w * ht * 3];
    let mut right = 0;
    for (i, &guess) in predicted.iter().enumerate().take(n) {
        let (x0, y0) = ((i % cols) * cell_w + 4, (i / cols) * cell_h + 4);
        let img: Vec<f32> = x.index_axis(Axis(0), i).iter().copied().collect();
        let (lo, hi) = img
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let scaled: Vec<Vec<f32>> = maps.iter().map(|m| magnitude(m, i)).collect();
        for py in 0..h * z {
            for px in 0..w_img * z {
                let k = (py / z) * w_img + px / z;
                let v = (img[k] - lo) / (hi - lo).max(1e-6);
                let a = ((y0 + py) * w + x0 + px) * 3;
                rgb[a..a + 3].fill(v);
                for (m, map) in scaled.iter().enumerate() {
                    let s = map[k];
                    let b = ((y0 + py) * w + x0 + (m + 1) * (w_img * z + 4) + px) * 3;
                    rgb[b..b + 3].copy_from_slice(&[s, s * 0.8, s * 0.3]);
                }
            }
        }
        let ok = guess == labels[i];
        right += usize::from(ok);
        let colour = if ok { [0.2, 0.8, 0.2] } else { [0.9, 0.1, 0.1] };
        for py in h * z + 3..h * z + 8 {
            for px in 0..panels * w_img * z + (panels - 1) * 4 {
                let a = ((y0 + py) * w + x0 + px) * 3;
                rgb[a..a + 3].copy_from_slice(&colour);
            }
        }
    }
    cnn::io::image::write_png_rgb(path, w, ht, &rgb, false)?;
    Ok(right)
}
