//! Edge detection with the course's hand-made filters, run through the
//! library's own convolution kernel on a real photograph.
//!
//! ```text
//! cargo run --release --example edge_detection [-- --image PATH --out DIR]
//! ```
//!
//! Reads a PNG (default `assets/camera.png`, a CC0 photo; RGB images are
//! turned grey with BT.601 weights), convolves it with the vertical,
//! horizontal, Sobel x/y and Scharr x/y filters in one call of
//! `conv2d::forward` (six output channels, `valid` padding, so a 512x512
//! image gives 510x510 responses), computes the Sobel gradient magnitude
//! `sqrt(gx^2 + gy^2)`, and writes one PNG per result to `DIR` (default
//! `out/edges`).
//!
//! The responses are signed (bright-to-dark is positive, dark-to-bright
//! negative). Each PNG shows the absolute value, scaled so that the 99.5th
//! percentile of that image is white (the brightest 0.5% are clipped):
//! scaling by the maximum instead lets a handful of pixels turn the rest
//! black.

use cnn::filters::{self, Plane};
use cnn::Padding;
use cnn_runtime::io::image::{read_png, write_png_gray};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The fraction of pixels below the white point of each output image.
const WHITE_QUANTILE: f64 = 0.995;

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "edge_detection",
    about = "The course's edge filters (Sobel, Scharr, ..) through the convolution kernel"
)]
struct Args {
    /// 8-bit grey or RGB PNG to filter [default: assets/camera.png]
    #[arg(long, value_name = "PATH", default_value_os_t = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join("camera.png"), hide_default_value = true)]
    image: PathBuf,
    /// Directory for the result PNGs, created if needed
    #[arg(long, value_name = "DIR", default_value = "out/edges")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), cnn::Error> {
    let image = read_png(&args.image)?;
    let (h, w) = (image.height, image.width);
    let grey = match image.channels {
        3 => filters::grey_from_rgb(&image.data, h, w)?,
        _ => image.data,
    };
    println!(
        "read {} ({w}x{h}, {} channel(s))",
        args.image.display(),
        image.channels
    );
    std::fs::create_dir_all(&args.out).map_err(|e| cnn::Error::io(&args.out, e))?;

    let grey_path = args.out.join("grey.png");
    write_png_gray(&grey_path, w, h, &grey, false)?;
    println!("wrote {} (the input, grey)", grey_path.display());

    let bank = filters::NAMED.map(|(_, f)| f);
    let planes = filters::apply_many(&grey, h, w, &bank, Padding::Valid)?;
    println!(
        "convolved with {} filters in one conv2d call: {}x{}x1 -> {}x{}x{}",
        bank.len(),
        h,
        w,
        planes[0].height,
        planes[0].width,
        bank.len()
    );

    for ((name, _), plane) in filters::NAMED.iter().zip(&planes) {
        save_abs(&args.out, name, plane)?;
    }
    // NAMED[2] and NAMED[3] are Sobel x and y.
    let magnitude = Plane {
        height: planes[2].height,
        width: planes[2].width,
        data: filters::gradient_magnitude(&planes[2].data, &planes[3].data)?,
    };
    save_abs(&args.out, "sobel_magnitude", &magnitude)?;
    Ok(())
}

/// Writes `|plane|` scaled so that its [`WHITE_QUANTILE`] is white.
fn save_abs(dir: &Path, name: &str, plane: &Plane) -> Result<(), cnn::Error> {
    let abs: Vec<f32> = plane.data.iter().map(|v| v.abs()).collect();
    let white = quantile(&abs, WHITE_QUANTILE).max(f32::MIN_POSITIVE);
    let scaled: Vec<f32> = abs.iter().map(|v| v / white).collect();
    let path = dir.join(format!("{name}.png"));
    write_png_gray(&path, plane.width, plane.height, &scaled, false)?;
    let max = abs.iter().fold(0.0f32, |m, &v| m.max(v));
    println!(
        "wrote {} ({}x{}, |response| up to {max:.2}, white at {white:.2})",
        path.display(),
        plane.width,
        plane.height
    );
    Ok(())
}

/// The `q` quantile (0..=1) of `values` (not empty), by selection.
fn quantile(values: &[f32], q: f64) -> f32 {
    let mut v = values.to_vec();
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    *v.select_nth_unstable_by(k, f32::total_cmp).1
}
