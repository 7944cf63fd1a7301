//! The course's sliding windows, convolutionally (week 3; Sermanet et al.
//! 2014): trains the `14x14x3` crop classifier of `examples/shared/
//! sliding.rs` on coloured MNIST crops (zero, one, two, or background:
//! another digit or nothing), loads its weights with one call into its
//! convolutional twins (`load_dense_as_conv`: the dense weights are the
//! convolutions' weights as they are), runs them unchanged on a `16x16x3`
//! picture (`2x2x4`) and a `28x28x3` one (`8x8x4`), checks every cell
//! against the classifier on its crop, and times the convolutional pass
//! on a `96x96x3` picture (1,764 windows) against crop-by-crop evaluation.
//!
//!     cargo run --release --example sliding_windows -- [--out DIR] [--threads N]

#[path = "shared/sliding.rs"]
mod sliding;

#[path = "shared/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::time::Instant;

use cnn::ndarray::Array4;
use cnn::prelude::*;
use cnn::rng::Rng;
use sliding::{
    all_crops, crop, ConvOn16, ConvOn28, ConvOn96, CropClassifier, CLASSES, CROP, STRIDE,
};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "sliding_windows",
    about = "Sliding windows, convolutionally: one pass of a classifier's convolutional twin \
             against every crop"
)]
struct Args {
    /// Where the classifier and the pictures go
    #[arg(long, value_name = "DIR", default_value = "out/sliding_windows")]
    out: PathBuf,
    /// Kernel threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Args { out, threads } = <Args as clap::Parser>::parse();
    if let Some(t) = threads {
        cnn::parallel::set_threads(t);
    }
    std::fs::create_dir_all(&out)?;
    println!("{}", CropClassifier::summary());

    // The classifier, trained on closely cropped objects.
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir())?;
    let train = sliding::crops(&mnist.train, 24_000, 1)?;
    let test = sliding::crops(&mnist.test, 4_000, 2)?;
    let mut model = Model::compile(CropClassifier::new(1), Adam::new(1e-3)).seed(1);
    model.fit(&train, Fit::epochs(3).batch_size(64).verbose(false))?;
    let eval = model.evaluate(&test, 500)?;
    println!(
        "crop classifier ({}): {:.2}% of {} test crops right after 3 epochs on {}",
        CLASSES.join(", "),
        100.0 * eval.accuracy,
        test.len(),
        train.len()
    );
    let classifier = model.into_network();
    let path = out.join("crop_classifier.safetensors");
    classifier.save(&path)?;

    // Its twins: one call each, the file as it is.
    let mut on16 = ConvOn16::new(0);
    let report = on16.load_dense_as_conv(&path)?;
    println!("ConvOn16.load_dense_as_conv({}): {report}", path.display());
    let mut on28 = ConvOn28::new(0);
    on28.load_dense_as_conv(&path)?;
    let mut on96 = ConvOn96::new(0);
    on96.load_dense_as_conv(&path)?;

    let mut rng = Rng::new(3);
    let digit = |label: u8, rng: &mut Rng| {
        let i = (0..mnist.test.len())
            .map(|_| rng.below(mnist.test.len()))
            .find(|&i| mnist.test.labels[i] == label)
            .unwrap_or(0);
        sliding::half_digit(&mnist.test, i)
    };
    // 16x16: a one in the bottom-right window.
    let mut p16 = sliding::background(16, &mut rng);
    let c = sliding::colour(&mut rng);
    sliding::paint(&mut p16, 16, &digit(1, &mut rng), 2, 2, c);
    let y16 = on16.predict(Array4::from_shape_vec((1, 16, 16, 3), p16.clone())?.view())?;
    println!("\n16x16x3 picture, a one at (2, 2): output 2x2x4, the class of each window");
    print_map(y16.as_slice().unwrap_or(&[]), 2);
    let worst16 = worst_cell(&classifier, &p16, 16, y16.as_slice().unwrap_or(&[]))?;

    // 28x28: a zero at the top left, a two at the bottom right.
    let mut p28 = sliding::background(28, &mut rng);
    let c = sliding::colour(&mut rng);
    sliding::paint(&mut p28, 28, &digit(0, &mut rng), 0, 0, c);
    let c = sliding::colour(&mut rng);
    sliding::paint(&mut p28, 28, &digit(2, &mut rng), 14, 12, c);
    let y28 = on28.predict(Array4::from_shape_vec((1, 28, 28, 3), p28.clone())?.view())?;
    println!("\n28x28x3 picture, a zero at (0, 0), a two at (14, 12): output 8x8x4");
    print_map(y28.as_slice().unwrap_or(&[]), 8);
    let worst28 = worst_cell(&classifier, &p28, 28, y28.as_slice().unwrap_or(&[]))?;
    println!(
        "\nlargest |cell - classifier on its crop|: {worst16:.1e} (16x16), {worst28:.1e} (28x28)"
    );

    // Timing on 96x96 with six digits: 42x42 = 1,764 windows.
    let mut p96 = sliding::background(96, &mut rng);
    for k in 0..6u8 {
        let c = sliding::colour(&mut rng);
        let (y, x) = (2 * rng.below(42), 2 * rng.below(42));
        sliding::paint(&mut p96, 96, &digit(k % 4, &mut rng), y, x, c);
    }
    let x96 = Array4::from_shape_vec((1, 96, 96, 3), p96.clone())?;
    let k = (96 - CROP) / STRIDE + 1;
    let windows = k * k;
    let conv_s = best_of(5, || on96.predict(x96.view()).map(|_| ()))?;
    let crops = all_crops(&p96, 96);
    let batch = Array4::from_shape_vec((windows, CROP, CROP, 3), crops.clone())?;
    let batched_s = best_of(3, || classifier.predict(batch.view()).map(|_| ()))?;
    let one_by_one_s = best_of(2, || {
        for c in crops.chunks_exact(CROP * CROP * 3) {
            let x = cnn::ndarray::ArrayView4::from_shape((1, CROP, CROP, 3), c)
                .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
            classifier.predict(x)?;
        }
        Ok(())
    })?;
    println!(
        "\n96x96x3 picture, {windows} windows of 14x14 at stride 2 ({} threads, best of a few runs):",
        cnn::parallel::threads()
    );
    println!(
        "  convolutional (ConvOn96, one pass):  {:8.2} ms",
        1e3 * conv_s
    );
    println!(
        "  crop by crop, all {windows} in one batch: {:8.2} ms ({:.1}x the convolutional pass)",
        1e3 * batched_s,
        batched_s / conv_s
    );
    println!(
        "  crop by crop, one at a time:         {:8.2} ms ({:.1}x)",
        1e3 * one_by_one_s,
        one_by_one_s / conv_s
    );
    println!(
        "  multiply-adds: {:.0} M convolutional, {:.0} M crop by crop",
        ConvOn96::MACS as f64 / 1e6,
        (windows as u64 * CropClassifier::MACS) as f64 / 1e6
    );
    Ok(())
}

/// The class of each cell of a `k x k x 4` output, with its probability.
fn print_map(y: &[f32], k: usize) {
    for i in 0..k {
        let row: Vec<String> = (0..k)
            .map(|j| {
                let p = &y[(i * k + j) * 4..][..4];
                let c = (0..4).fold(0, |b, i| if p[i] > p[b] { i } else { b });
                let name = ["0", "1", "2", "."][c];
                format!("{name} {:.2}", p[c])
            })
            .collect();
        println!("  {}", row.join("  "));
    }
}

/// The largest difference between a twin's cell and the classifier on
/// the cell's crop.
fn worst_cell(
    classifier: &CropClassifier,
    picture: &[f32],
    side: usize,
    y: &[f32],
) -> Result<f32, Box<dyn std::error::Error>> {
    let k = (side - CROP) / STRIDE + 1;
    let mut worst = 0.0f32;
    for i in 0..k {
        for j in 0..k {
            let c = crop(picture, side, STRIDE * i, STRIDE * j);
            let want = classifier.predict(Array4::from_shape_vec((1, CROP, CROP, 3), c)?.view())?;
            for (g, w) in y[(i * k + j) * 4..][..4].iter().zip(want.iter()) {
                worst = worst.max((g - w).abs());
            }
        }
    }
    Ok(worst)
}

/// The shortest of `runs` timed runs of `f`, after one untimed.
fn best_of(runs: usize, mut f: impl FnMut() -> Result<(), cnn::Error>) -> Result<f64, cnn::Error> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}
