//! Local (elastic) warping as Simard, Steinkraus and Platt describe it
//! ("Best practices for convolutional neural networks applied to visual
//! document analysis", ICDAR 2003, section 2): draw a displacement for
//! every pixel, `dx, dy ~ U(-1, 1)` independently, smooth both fields with
//! a Gaussian of standard deviation `sigma` pixels, multiply them by
//! `alpha`, and move every pixel by its displacement (bilinear
//! interpolation). Small `sigma` gives random noise, large `sigma` nearly a
//! translation; the paper's MNIST values are `sigma = 4`, `alpha = 34`.
//!
//! The Gaussian is truncated at `ceil(3 sigma)` pixels (99.7% of its mass)
//! and normalised to sum 1; outside the image the noise counts as 0, as in
//! `scipy.ndimage.gaussian_filter(mode="constant")` that common
//! implementations call. The separable filter's two passes are two small
//! GEMMs with banded matrices on images up to 128 pixels a side (digits),
//! sums of shifted rows above that.

use super::{check_non_negative, check_probability, Frame, Transform};
use crate::error::Result;
use crate::gemm::{tiled, Mat};
use crate::rng::Rng;

/// Simard et al.'s elastic distortion with strength `alpha` (pixels) and
/// smoothness `sigma` (pixels), applied with probability `p`.
#[derive(Clone, Debug, PartialEq)]
pub struct Elastic {
    alpha: f32,
    sigma: f32,
    p: f32,
    /// The normalised Gaussian, `2r + 1` taps.
    kernel: Vec<f32>,
}

impl Elastic {
    /// Always applied; `alpha = 0` is the identity.
    pub fn new(alpha: f32, sigma: f32) -> Self {
        let r = if sigma > 0.0 && sigma.is_finite() {
            (3.0 * sigma).ceil() as usize
        } else {
            0
        };
        let mut kernel: Vec<f32> = (0..=2 * r)
            .map(|i| {
                let d = i as f32 - r as f32;
                if r == 0 {
                    1.0
                } else {
                    (-d * d / (2.0 * sigma * sigma)).exp()
                }
            })
            .collect();
        let sum: f32 = kernel.iter().sum();
        kernel.iter_mut().for_each(|k| *k /= sum);
        Elastic {
            alpha,
            sigma,
            p: 1.0,
            kernel,
        }
    }
    /// Applied with probability `p`.
    pub fn probability(mut self, p: f32) -> Self {
        self.p = p;
        self
    }
    /// The strength.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
    /// The smoothness.
    pub fn sigma(&self) -> f32 {
        self.sigma
    }
}

/// Fills `field` with `U(-1, 1)` values, two per 64 random bits. The bits
/// of up to `BATCH` pairs are drawn first and converted after, so that the
/// generator's loop carries nothing else and the conversion vectorises
/// (the values fit in 24 bits, so going through i32 changes nothing).
fn noise(field: &mut [f32], rng: &mut Rng) {
    const SCALE: f32 = 1.0 / (1u32 << 23) as f32;
    const BATCH: usize = 64;
    let mut bits = [0u64; BATCH];
    let mut chunks = field.chunks_exact_mut(2 * BATCH);
    for chunk in &mut chunks {
        bits.iter_mut().for_each(|b| *b = rng.next_u64());
        for (pair, b) in chunk.chunks_exact_mut(2).zip(bits) {
            pair[0] = (b >> 40) as i32 as f32 * SCALE - 1.0;
            pair[1] = ((b >> 16) & 0xFF_FFFF) as i32 as f32 * SCALE - 1.0;
        }
    }
    let mut pairs = chunks.into_remainder().chunks_exact_mut(2);
    for pair in &mut pairs {
        let b = rng.next_u64();
        pair[0] = (b >> 40) as i32 as f32 * SCALE - 1.0;
        pair[1] = ((b >> 16) & 0xFF_FFFF) as i32 as f32 * SCALE - 1.0;
    }
    for v in pairs.into_remainder() {
        *v = rng.uniform() * 2.0 - 1.0;
    }
}

/// Above this many rows or columns the passes are row `axpy`s; below,
/// two small GEMMs with the banded smoothing matrices, which on 32x32
/// digits is several times faster than 2 x 32 x (2r + 1) short `axpy`s.
const GEMM_MAX_SIDE: usize = 128;

thread_local! {
    // The banded matrices G_h (h x h) and G_w (w x w) of the last shape and
    // kernel seen on this thread, kept so a warm worker allocates nothing.
    static BANDS: std::cell::RefCell<Bands> = std::cell::RefCell::new(Bands::default());
}

#[derive(Default)]
struct Bands {
    key: (usize, usize, Vec<f32>),
    /// The strength folded into `gh`.
    alpha: f32,
    gh: Vec<f32>,
    gw: Vec<f32>,
}

/// `G[i][j] = kernel[j - i + r]` where `|j - i| <= r`, else 0: one pass
/// of the filter with zeros outside, as a matrix (symmetric, since the
/// Gaussian is).
fn band(n: usize, kernel: &[f32], out: &mut Vec<f32>) {
    let r = kernel.len() / 2;
    out.clear();
    out.resize(n * n, 0.0);
    for i in 0..n {
        for j in i.saturating_sub(r)..(i + r + 1).min(n) {
            out[i * n + j] = kernel[j + r - i];
        }
    }
}

/// `field <- alpha * (G * field)` for the separable Gaussian `kernel`
/// (`2r + 1` taps), with zeros outside the `h x w` image; `tmp` is scratch
/// of the same size.
pub(crate) fn smooth(
    field: &mut [f32],
    tmp: &mut [f32],
    h: usize,
    w: usize,
    kernel: &[f32],
    alpha: f32,
) {
    if h.max(w) <= GEMM_MAX_SIDE {
        BANDS.with(|b| {
            let b = &mut *b.borrow_mut();
            if b.key.0 != h || b.key.1 != w || b.key.2 != kernel || b.alpha != alpha {
                band(h, kernel, &mut b.gh);
                b.gh.iter_mut().for_each(|g| *g *= alpha);
                band(w, kernel, &mut b.gw);
                b.key = (h, w, kernel.to_vec());
                b.alpha = alpha;
            }
            // tmp = field G_w (G_w is symmetric), then field = (alpha G_h) tmp,
            // on the register-tiled GEMM: matrixmultiply's packing (and its
            // allocation) cost more than these 32x32 products themselves.
            tiled::gemm(
                Mat::rows(field, h, w),
                Mat::rows(&b.gw, w, w),
                false,
                tmp,
                w,
            );
            tiled::gemm(
                Mat::rows(&b.gh, h, h),
                Mat::rows(tmp, h, w),
                false,
                field,
                w,
            );
        });
        return;
    }
    smooth_rows(field, tmp, h, w, kernel, alpha);
}

/// [`smooth`] as sums of shifted rows, for large images.
pub(crate) fn smooth_rows(
    field: &mut [f32],
    tmp: &mut [f32],
    h: usize,
    w: usize,
    kernel: &[f32],
    alpha: f32,
) {
    let r = kernel.len() / 2;
    // Down the columns: tmp row y = sum_k g[k] field row (y + k - r).
    tmp.fill(0.0);
    for y in 0..h {
        let out = &mut tmp[y * w..(y + 1) * w];
        let lo = r.saturating_sub(y);
        let hi = (h + r - y).min(kernel.len());
        for (k, &g) in kernel.iter().enumerate().take(hi).skip(lo) {
            let src = &field[(y + k - r) * w..(y + k - r + 1) * w];
            out.iter_mut().zip(src).for_each(|(o, s)| *o += g * s);
        }
    }
    // Along the rows: field (y, x) = alpha * sum_k g[k] tmp (y, x + k - r).
    field.fill(0.0);
    for y in 0..h {
        let (src, out) = (&tmp[y * w..(y + 1) * w], &mut field[y * w..(y + 1) * w]);
        for (k, &g) in kernel.iter().enumerate() {
            let g = g * alpha;
            // out[x] += g * src[x + k - r] for the x where x + k - r is inside.
            if k >= r {
                let d = k - r;
                if d < w {
                    out[..w - d]
                        .iter_mut()
                        .zip(&src[d..])
                        .for_each(|(o, s)| *o += g * s);
                }
            } else {
                let d = r - k;
                if d < w {
                    out[d..]
                        .iter_mut()
                        .zip(&src[..w - d])
                        .for_each(|(o, s)| *o += g * s);
                }
            }
        }
    }
}

impl Transform for Elastic {
    fn name(&self) -> &'static str {
        "elastic"
    }
    fn probability(&self) -> f32 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_probability(self.name(), self.p)?;
        check_non_negative(self.name(), "sigma", self.sigma)?;
        check_non_negative(self.name(), "alpha", self.alpha)
    }
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        self.validate()?;
        Ok(input)
    }
    fn apply(&self, frame: &mut Frame<'_>, rng: &mut Rng) {
        if self.alpha == 0.0 {
            return;
        }
        let [h, w, _] = frame.shape();
        frame.displace(|dy, dx, tmp| {
            noise(dy, rng);
            noise(dx, rng);
            smooth(dy, tmp, h, w, &self.kernel, self.alpha);
            smooth(dx, tmp, h, w, &self.kernel, self.alpha);
        });
    }
}
