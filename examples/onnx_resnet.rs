//! torchvision's ResNet-18 or ResNet-50 from an ONNX file, in the
//! zoo's declarations (`cnn::models::ResNet18`, `ResNet50`; docs/weights.md, "ONNX").
//!
//!     python3 scripts/torchvision_to_onnx.py resnet50 out/tv
//!     cargo run --release --features onnx --example onnx_resnet -- out/tv/resnet50.onnx --depth 50 --check out/tv
//!     cargo run --release --features onnx --example onnx_resnet -- out/tv/resnet50.onnx --depth 50 --image assets/coins.png
//!
//! `--check DIR` runs `predict` on DIR/input.npy (NCHW, as the script
//! writes it) and compares with DIR/output.npy (PyTorch's probabilities):
//! the largest difference, which must stay within 1e-4. (Float32 rounding
//! alone is that large on ResNet-50 with random weights, whose logits
//! reach +-80: PyTorch's own float32 probabilities are 5e-6 from its
//! float64 ones there, ours 1e-5 to 2e-5; ResNet-18's are 1e-6 from
//! PyTorch's.) `--image PATH`
//! classifies a PNG (resized to 224x224, grey repeated to RGB, normalised
//! as torchvision does) and prints the five most likely ImageNet classes.

use std::path::{Path, PathBuf};

use cnn::ndarray::{Array2, Array4};
use cnn::prelude::*;

network! {
    /// torchvision's ResNet-18.
    pub struct ResNet18 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet18 {},
    }
    /// torchvision's ResNet-50.
    pub struct ResNet50 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet50 {},
    }
}

/// `predict` of whichever network was loaded.
type Predict = dyn Fn(&Array4<f32>) -> cnn::Result<Array2<f32>>;

/// ImageNet's channel means and deviations, as torchvision normalises.
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "onnx_resnet",
    about = "Loads torchvision's ResNet-18 or -50 from an ONNX file and classifies an image"
)]
struct Args {
    /// The ONNX file (scripts/torchvision_to_onnx.py writes it)
    #[arg(value_name = "MODEL.onnx")]
    model: PathBuf,
    /// The ResNet's depth: 18 or 50
    #[arg(long, value_name = "N", default_value_t = 18)]
    depth: usize,
    /// A directory with input.npy and output.npy to compare with
    #[arg(long, value_name = "DIR")]
    check: Option<PathBuf>,
    /// A picture to classify
    #[arg(long, value_name = "PATH")]
    image: Option<PathBuf>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Args {
        model,
        depth,
        check,
        image,
    } = <Args as clap::Parser>::parse();
    let start = std::time::Instant::now();
    let predict: Box<Predict> = match depth {
        18 => {
            let net = ResNet18::from_onnx(&model)?;
            Box::new(move |x| net.predict(x.view()))
        }
        50 => {
            let net = ResNet50::from_onnx(&model)?;
            Box::new(move |x| net.predict(x.view()))
        }
        _ => return Err(format!("--depth {depth}: 18 or 50").into()),
    };
    println!(
        "loaded {} into ResNet-{depth} in {:.2?}",
        model.display(),
        start.elapsed()
    );

    if let Some(dir) = check {
        let (shape, x) = read_npy(&dir.join("input.npy"))?;
        let (_, want) = read_npy(&dir.join("output.npy"))?;
        let nchw = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x)?;
        let nhwc = nchw
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .to_owned();
        let got = predict(&nhwc)?;
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f32::max);
        println!(
            "max |ours - pytorch| = {diff:.2e} on {} images (tolerance 1e-5)",
            shape[0]
        );
        if diff > 1e-5 {
            return Err("the outputs differ".into());
        }
    }
    if let Some(path) = image {
        let x = imagenet_input(&path)?;
        let probs = predict(&x)?;
        let mut ranked: Vec<(usize, f32)> = probs.row(0).iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (class, p) in ranked.iter().take(5) {
            println!("ImageNet class {class:4}: {:.1}%", p * 100.0);
        }
    }
    Ok(())
}

/// A PNG as one normalised 224x224x3 example: bilinear resize, grey
/// repeated to three channels.
fn imagenet_input(path: &Path) -> cnn::Result<Array4<f32>> {
    let img = cnn::io::image::read_png(path)?;
    let (h, w, c) = (img.height, img.width, img.channels);
    let at = |y: usize, x: usize, ch: usize| img.data[(y * w + x) * c + ch.min(c - 1)];
    Ok(Array4::from_shape_fn((1, 224, 224, 3), |(_, y, x, ch)| {
        // Pixel centres map onto pixel centres.
        let fy = ((y as f32 + 0.5) * h as f32 / 224.0 - 0.5).clamp(0.0, (h - 1) as f32);
        let fx = ((x as f32 + 0.5) * w as f32 / 224.0 - 0.5).clamp(0.0, (w - 1) as f32);
        let (y0, x0) = (fy as usize, fx as usize);
        let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
        let (dy, dx) = (fy - y0 as f32, fx - x0 as f32);
        let top = at(y0, x0, ch) * (1.0 - dx) + at(y0, x1, ch) * dx;
        let bottom = at(y1, x0, ch) * (1.0 - dx) + at(y1, x1, ch) * dx;
        ((top * (1.0 - dy) + bottom * dy) - MEAN[ch]) / STD[ch]
    }))
}

/// A float32 C-order `.npy` file (what `np.save` writes): its shape and
/// values.
fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<f32>), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path).map_err(|e| cnn::Error::io(path, e))?;
    let bad = |what: &str| format!("{}: {what}", path.display());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file").into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + len)
            .ok_or_else(|| bad("cut short"))?,
    )?;
    if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
        return Err(bad("not float32 in C order").into());
    }
    let dims = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let shape: Vec<usize> = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let data = &bytes[start + len..];
    if data.len() != shape.iter().product::<usize>() * 4 {
        return Err(bad("data does not fit the shape").into());
    }
    Ok((
        shape,
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    ))
}
