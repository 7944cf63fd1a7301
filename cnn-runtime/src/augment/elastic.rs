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
//! implementations call.
//!
//! **How the field is drawn.** The smoothing is a product `G_h X G_w` of
//! the noise `X` (`h x w`) with two symmetric matrices, the filter along
//! each axis (band matrices, zeros outside). A smooth filter has few
//! directions that matter: with `G = V L V^T`, the field is `V_h L_h (V_h^T
//! X V_w) L_w V_w^T`, and the eigenvalues of a Gaussian of width `sigma`
//! fall like `exp(-(sigma pi j / n)^2 / 2)`, so all but the first few `j`
//! are small (a 32x32 digit at `sigma = 6` needs 7 of 32). The middle
//! factor `Z = V_h^T X V_w` has uncorrelated entries with the noise's
//! variance (an orthogonal change of basis of i.i.d. noise), and each is a
//! sum of hundreds of the uniform values with weights of unit norm, so
//! normal to a very good approximation. [`Spectral`] draws those `k_h x
//! k_w` values directly, normal with variance 1/3, and multiplies out: the
//! field has the covariance of the smoothed noise, `(alpha^2 / 3) G_h^2 (x)
//! G_w^2`, up to the dropped directions (at most `1e-5` of each axis's
//! energy), for 2 x 49 random values and about 17k multiply-adds per 32x32
//! digit instead of 2 x 1024 and 130k. (Drawing them uniform instead would
//! change the field's shape: the first direction alone carries a third of
//! its variance, and a uniform has no tails, so the field's excess kurtosis
//! would be -0.18 instead of about 0; tested.) Where the filter keeps more
//! than half the directions (a `sigma` of a pixel or two) or a side exceeds
//! [`SPECTRAL_MAX_SIDE`], the noise is drawn per pixel and smoothed as
//! written ([`smooth`]: two small GEMMs with the band matrices up to 128
//! pixels a side, sums of shifted rows above).

use super::{check_non_negative, check_probability, Frame, Transform};
use crate::error::Result;
use crate::gemm::{tiled, Mat};
use crate::rng::Rng;
use std::sync::{Arc, Mutex};

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

/// Fills `out` with `scale` times nearly standard normal values: each
/// the sum of twelve uniforms (Irwin-Hall), 16-bit fields of three random
/// words, centred. Mean 0, variance 1 (to 1e-9), kurtosis -0.1 and
/// bounded at 6 (a normal passes 6 once in 5e8); a fraction of the cost
/// of Box-Muller's logarithm and cosine.
pub(crate) fn near_normal(out: &mut [f32], scale: f32, rng: &mut Rng) {
    const LANES: u64 = 0x0000_FFFF_0000_FFFF;
    // (u + 1/2) / 65536 for u in 0..65536 is uniform on (0, 1) with mean
    // 1/2 and variance (1 - 2^-32) / 12.
    let unit = scale / 65536.0;
    for v in out {
        let mut sum = 0u64;
        for _ in 0..3 {
            let b = rng.next_u64();
            // Four 16-bit fields, added pairwise in two 32-bit lanes.
            sum += (b & LANES) + ((b >> 16) & LANES);
        }
        let total = (sum & 0xFFFF_FFFF) + (sum >> 32);
        *v = (total as f32 + 6.0 - 6.0 * 65536.0) * unit;
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

/// Up to this many pixels a side the smoothing's eigenvectors are
/// computed (Jacobi, `O(n^3)`: 50-100 ms at 128, 1 ms at 32, once per
/// process and shape) and the field drawn in their basis.
pub(crate) const SPECTRAL_MAX_SIDE: usize = 128;

/// The part of an axis's smoothing `G = V L V^T` that is kept: the
/// `k` eigenvectors with the largest `|l|`, scaled by their eigenvalues.
#[derive(Clone, Debug)]
struct Axis {
    k: usize,
    /// `n x k`, row-major: column j is `l_j v_j`.
    scaled: Vec<f32>,
}

impl Axis {
    /// `None` when more than half the directions are needed.
    fn new(n: usize, kernel: &[f32]) -> Option<Axis> {
        let r = kernel.len() / 2;
        let mut g = vec![0f64; n * n];
        for i in 0..n {
            for j in i.saturating_sub(r)..(i + r + 1).min(n) {
                g[i * n + j] = kernel[j + r - i] as f64;
            }
        }
        let (values, vectors) = super::eigen::symmetric_eigen(g, n);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
        // Keep directions until what is left holds at most 1e-5 of the
        // energy sum l^2 (the variance it would add to the field). Below
        // that lies the floor that truncating the Gaussian at 3 sigma
        // leaves (eigenvalues of about 5e-4, 2e-6 of the energy in all).
        let total: f64 = values.iter().map(|l| l * l).sum();
        let mut left = total;
        let mut k = 0;
        while k < n && left > 1e-5 * total {
            left -= values[order[k]].powi(2);
            k += 1;
        }
        if 2 * k > n {
            return None;
        }
        let mut scaled = vec![0f32; n * k];
        for (j, &o) in order[..k].iter().enumerate() {
            for i in 0..n {
                scaled[i * k + j] = (values[o] * vectors[o][i]) as f32;
            }
        }
        Some(Axis { k, scaled })
    }
}

/// The smoothing of an `h x w` field in its eigenbasis (see the module
/// doc): `A = V_h L_h` (`h x k_h`) and `B = L_w V_w^T` (`k_w x w`), the
/// field being `alpha A Z B` for `Z` normal with variance 1/3.
#[derive(Debug)]
pub(crate) struct Spectral {
    h: usize,
    w: usize,
    a: Axis,
    /// `k_w x w`, row-major (`B`).
    b: Vec<f32>,
    kw: usize,
}

/// A field shape and kernel, with its basis, or `None` where that field is
/// drawn per pixel (kept too, so that it is not diagonalised again).
type Entry = (usize, usize, Vec<f32>, Option<Arc<Spectral>>);

/// The shapes already seen (a pipeline sees one or two).
static SPECTRAL: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

thread_local! {
    // The last entry this thread used, so that a worker does not take the
    // lock for every image.
    static LAST: std::cell::RefCell<Option<Entry>> = const { std::cell::RefCell::new(None) };
}

impl Spectral {
    /// The basis for `h x w` fields and this kernel, computed on first use;
    /// `None` where the field is better drawn per pixel.
    pub(crate) fn of(h: usize, w: usize, kernel: &[f32]) -> Option<Arc<Spectral>> {
        if h.max(w) > SPECTRAL_MAX_SIDE {
            return None;
        }
        let hit = |e: &&Entry| e.0 == h && e.1 == w && e.2 == kernel;
        if let Some(s) = LAST.with(|l| l.borrow().as_ref().filter(hit).map(|e| e.3.clone())) {
            return s;
        }
        let mut cache = SPECTRAL.lock().unwrap_or_else(|e| e.into_inner());
        let entry = match cache.iter().find(hit) {
            Some(e) => e.clone(),
            None => {
                let e = (
                    h,
                    w,
                    kernel.to_vec(),
                    Spectral::new(h, w, kernel).map(Arc::new),
                );
                if cache.len() >= 16 {
                    cache.remove(0);
                }
                cache.push(e.clone());
                e
            }
        };
        drop(cache);
        let s = entry.3.clone();
        LAST.with(|l| *l.borrow_mut() = Some(entry));
        s
    }

    fn new(h: usize, w: usize, kernel: &[f32]) -> Option<Spectral> {
        let a = Axis::new(h, kernel)?;
        let wa = if w == h {
            a.clone()
        } else {
            Axis::new(w, kernel)?
        };
        // B = (W's scaled vectors)^T.
        let kw = wa.k;
        let mut b = vec![0f32; kw * w];
        for x in 0..w {
            for j in 0..kw {
                b[j * w + x] = wa.scaled[x * kw + j];
            }
        }
        Some(Spectral { h, w, a, b, kw })
    }

    /// The directions kept along the height and the width.
    #[cfg(test)]
    pub(crate) fn ranks(&self) -> (usize, usize) {
        (self.a.k, self.kw)
    }

    /// `A A^T` (`height`) or `B^T B`, in f64: what the basis makes of
    /// `G^2` along that axis.
    #[cfg(test)]
    pub(crate) fn axis_covariance(&self, height: bool) -> Vec<f64> {
        let (n, k) = if height {
            (self.h, self.a.k)
        } else {
            (self.w, self.kw)
        };
        let at = |i: usize, j: usize| {
            if height {
                self.a.scaled[i * k + j] as f64
            } else {
                self.b[j * self.w + i] as f64
            }
        };
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for m in 0..n {
                out[i * n + m] = (0..k).map(|j| at(i, j) * at(m, j)).sum();
            }
        }
        out
    }

    /// Fills `dy` and `dx` (`h x w` each) with two independent fields of
    /// strength `alpha`; `tmp` (as large) is scratch.
    pub(crate) fn draw(
        &self,
        dy: &mut [f32],
        dx: &mut [f32],
        tmp: &mut [f32],
        alpha: f32,
        rng: &mut Rng,
    ) {
        let (h, w, kh, kw) = (self.h, self.w, self.a.k, self.kw);
        // Z for both fields (2 k_h x k_w, at most hw / 2 values), held in
        // dy until the last product overwrites it.
        let z = &mut dy[..2 * kh * kw];
        near_normal(z, alpha * (1.0f32 / 3.0).sqrt(), rng);
        // T = Z B for both (2 k_h x w, in tmp), then each field = A T.
        tiled::gemm(
            Mat::rows(z, 2 * kh, kw),
            Mat::rows(&self.b, kw, w),
            false,
            tmp,
            w,
        );
        let (ty, tx) = tmp[..2 * kh * w].split_at(kh * w);
        let a = Mat::rows(&self.a.scaled, h, kh);
        tiled::gemm(a, Mat::rows(ty, kh, w), false, dy, w);
        tiled::gemm(a, Mat::rows(tx, kh, w), false, dx, w);
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
        let spectral = Spectral::of(h, w, &self.kernel);
        frame.displace(|dy, dx, tmp| match spectral {
            Some(s) => s.draw(dy, dx, tmp, self.alpha, rng),
            None => {
                noise(dy, rng);
                noise(dx, rng);
                smooth(dy, tmp, h, w, &self.kernel, self.alpha);
                smooth(dx, tmp, h, w, &self.kernel, self.alpha);
            }
        });
    }
}
