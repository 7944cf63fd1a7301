//! Pictures of the augmentation pipelines: each row starts with the
//! original image and goes on with augmented versions of it.
//!
//! ```text
//! cargo run --release --example augment_grid [-- --out DIR]
//! ```
//!
//! Writes to `DIR` (default `out/augment_grid`):
//! - `augment_digits.png`: MNIST test digits (`assets/digits/`) padded to
//!   32x32, then `lenet5 --augment elastic`'s distortions (random affine,
//!   then Simard et al.'s elastic warp with alpha 34, sigma 6), shown 3x;
//! - `augment_photo.png`: a colour photo (`assets/chelsea.png`, a quarter of its size),
//!   one row per transform: mirroring + cropping + rotation, elastic warp,
//!   colour shifts, and PCA colour augmentation (principal axes of the
//!   photo's own pixels; sigma 3, thirty times AlexNet's 0.1, so that the
//!   shifts are visible).

use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "shared/cli.rs"]
mod cli;
// Only `mnist_distortions` is used here.
#[allow(dead_code)]
#[path = "shared/train_args.rs"]
mod train_args;

use cnn::augment::{Affine, Border, ColorShift, Elastic, Mirror, PcaColor, Pipeline, RandomCrop};
use cnn::io::image::{read_png, write_png_gray, write_png_rgb};
use cnn::rng::Rng;

/// Augmented versions per row (after the original): digits, photo.
const COPIES: [usize; 2] = [7, 6];
/// Pixels between cells.
const GAP: usize = 4;

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "augment_grid",
    about = "Each augmentation on MNIST digits and a photograph, as PNG grids"
)]
struct Args {
    /// Where the pictures go
    #[arg(long, value_name = "DIR", default_value = "out/augment_grid")]
    out: PathBuf,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Err(e) = run(&args.out) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Rows of cells (`[h, w, c]` each, all the same shape) laid out on a
/// white canvas, each cell scaled up `zoom` times (nearest pixel).
fn grid(rows: &[Vec<Vec<f32>>], [h, w, c]: [usize; 3], zoom: usize) -> (usize, usize, Vec<f32>) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (ch, cw) = (h * zoom, w * zoom);
    let width = cols * cw + (cols + 1) * GAP;
    let height = rows.len() * ch + (rows.len() + 1) * GAP;
    let mut canvas = vec![1.0; width * height * c];
    for (r, row) in rows.iter().enumerate() {
        for (q, cell) in row.iter().enumerate() {
            let (top, left) = (GAP + r * (ch + GAP), GAP + q * (cw + GAP));
            for y in 0..ch {
                for x in 0..cw {
                    let src = ((y / zoom) * w + x / zoom) * c;
                    let dst = ((top + y) * width + left + x) * c;
                    canvas[dst..dst + c].copy_from_slice(&cell[src..src + c]);
                }
            }
        }
    }
    (width, height, canvas)
}

/// The original, then `copies` outputs of `p` with generators 1, 2, ...
fn row(
    p: &Pipeline,
    img: &[f32],
    shape: [usize; 3],
    seed: u64,
    copies: usize,
) -> cnn::Result<Vec<Vec<f32>>> {
    let out = p.output_shape(shape)?;
    let mut cells = vec![img.to_vec()];
    for k in 0..copies {
        let mut y = vec![0.0; out.iter().product()];
        p.apply_into(img, shape, &mut y, &mut Rng::new(seed * 100 + k as u64));
        cells.push(y);
    }
    Ok(cells)
}

fn run(out: &Path) -> cnn::Result<()> {
    std::fs::create_dir_all(out).map_err(|e| cnn::Error::io(out, e))?;
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");

    // Digits: 28x28 in [0, 1] on black, padded to LeNet-5's 32x32.
    let digits = [
        "mnist_test_0000_label7.png",
        "mnist_test_0001_label2.png",
        "mnist_test_0004_label4.png",
        "mnist_test_0008_label5.png",
        "mnist_test_0061_label8.png",
    ];
    // lenet5 --augment elastic's distortions, on a background of 0.
    let distort = train_args::mnist_distortions(0.0);
    let mut rows = Vec::new();
    for (k, name) in digits.iter().enumerate() {
        let img = read_png(&assets.join("digits").join(name))?;
        let mut padded = vec![0.0; 32 * 32];
        for y in 0..28 {
            padded[(y + 2) * 32 + 2..(y + 2) * 32 + 30]
                .copy_from_slice(&img.data[y * 28..(y + 1) * 28]);
        }
        rows.push(row(
            &distort,
            &padded,
            [32, 32, 1],
            k as u64 + 1,
            COPIES[0],
        )?);
    }
    let (w, h, canvas) = grid(&rows, [32, 32, 1], 3);
    let path = out.join("augment_digits.png");
    write_png_gray(&path, w, h, &canvas, false)?;
    println!("wrote {} ({w}x{h})", path.display());

    // The photo at a quarter of its size (4x4 means) to keep the picture small.
    let photo = read_png(&assets.join("chelsea.png"))?;
    let (ph, pw) = (photo.height / 4, photo.width / 4);
    let mut small = vec![0.0; ph * pw * 3];
    for y in 0..ph {
        for x in 0..pw {
            for c in 0..3 {
                let mut sum = 0.0;
                for dy in 0..4 {
                    for dx in 0..4 {
                        sum += photo.data[((4 * y + dy) * photo.width + 4 * x + dx) * 3 + c];
                    }
                }
                small[(y * pw + x) * 3 + c] = sum / 16.0;
            }
        }
    }
    let shape = [ph, pw, 3];
    let geometric = Pipeline::new()
        .then(Mirror::horizontal(0.5))
        .then(Affine {
            rotation: 15.0,
            scale: (1.0, 1.25),
            ..Affine::default()
        })
        .then(RandomCrop::new(ph, pw, 6))
        .border(Border::Nearest);
    let elastic = Pipeline::new()
        .then(Elastic::new(30.0, 3.0))
        .border(Border::Nearest);
    let colour = Pipeline::new().then(ColorShift::new(0.1));
    let pca = PcaColor::fit(&small, shape, 3.0)?;
    println!(
        "PCA of the photo's colours: eigenvalues {:.4} {:.4} {:.4}, first axis {:.3?}",
        pca.values[0], pca.values[1], pca.values[2], pca.vectors[0]
    );
    let pca = Pipeline::new().then(pca);
    let rows = vec![
        row(&geometric, &small, shape, 1, COPIES[1])?,
        row(&elastic, &small, shape, 2, COPIES[1])?,
        row(&colour, &small, shape, 3, COPIES[1])?,
        row(&pca, &small, shape, 4, COPIES[1])?,
    ];
    let (w, h, canvas) = grid(&rows, shape, 1);
    let path = out.join("augment_photo.png");
    write_png_rgb(&path, w, h, &canvas, false)?;
    println!("wrote {} ({w}x{h})", path.display());
    Ok(())
}
