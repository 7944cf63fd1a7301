//! The image a pipeline is working on, with its geometric transforms kept
//! as a coordinate map instead of being applied one by one.
//!
//! Coordinates are pixel centres: pixel (r, q) sits at (y, x) = (r, q), so
//! an image of height h spans y in [-0.5, h - 0.5]. A geometric transform
//! is a *pull*: output pixel p reads its input at t(p). After transforms
//! t1, .., tk the output reads the source at t1(t2(..tk(p))), which the
//! frame keeps as an affine part A (2x3) after an optional dense map D
//! (source point = A(D(p))): affine steps are matrix products while there
//! is no dense map, a displacement field becomes the dense map, and a step
//! after a dense map re-reads D bilinearly at its own points. The pixels
//! are sampled once, bilinearly, when a colour transform asks for them or
//! at the end; points outside the source read the [`Border`].

use super::pipeline::Scratch;
use super::sample::{Points, Sampler};

/// What a point outside the image reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Border {
    /// A constant in every channel: the background (0 for digits in
    /// [0, 1]; `-mean / std` once normalised). The default, with 0.
    Constant(f32),
    /// The nearest pixel on the edge (photos, whose background is not flat).
    Nearest,
}

impl Default for Border {
    fn default() -> Self {
        Border::Constant(0.0)
    }
}

/// `(y, x) -> (m[0] y + m[1] x + m[2], m[3] y + m[4] x + m[5])`.
pub(crate) const IDENTITY: [f32; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

/// `a` after `m`: the map `p -> a(m(p))`.
pub(crate) fn compose(a: [f32; 6], m: [f32; 6]) -> [f32; 6] {
    [
        a[0] * m[0] + a[1] * m[3],
        a[0] * m[1] + a[1] * m[4],
        a[0] * m[2] + a[1] * m[5] + a[2],
        a[3] * m[0] + a[4] * m[3],
        a[3] * m[1] + a[4] * m[4],
        a[3] * m[2] + a[4] * m[5] + a[5],
    ]
}

/// An image being augmented: its current shape, where each of its pixels
/// reads in the source, and the source pixels.
pub struct Frame<'a> {
    input: &'a [f32],
    /// Whether the source is `scratch.img[scratch.cur]` rather than `input`.
    owned: bool,
    src_shape: [usize; 3],
    shape: [usize; 3],
    affine: [f32; 6],
    /// Whether `scratch.sy`, `scratch.sx` hold D for the current shape.
    dense: bool,
    /// Whether they hold D's displacement `D(p) - p` rather than D: a
    /// first displacement field is kept as it comes, which spares a pass
    /// over the map (`y + dy` is added where the map is read, with the
    /// same rounding as adding it here).
    relative: bool,
    border: Border,
    /// Whether a label map moves with the pixels (`scratch.lab[lab_cur]`,
    /// on the source's grid), and the class a constant border gives it.
    labels: bool,
    label_fill: Option<usize>,
    s: &'a mut Scratch,
}

impl<'a> Frame<'a> {
    pub(crate) fn new(
        input: &'a [f32],
        shape: [usize; 3],
        border: Border,
        s: &'a mut Scratch,
    ) -> Self {
        Frame {
            input,
            owned: false,
            src_shape: shape,
            shape,
            affine: IDENTITY,
            dense: false,
            relative: false,
            border,
            labels: false,
            label_fill: None,
            s,
        }
    }

    /// Moves `labels` (one class per pixel of the source, row-major) with
    /// the pixels: every geometric step pulls them by the nearest pixel
    /// instead of bilinearly, and a point outside the image takes the
    /// nearest edge's class (`Border::Nearest`) or `fill` (a constant
    /// border; `None` there is the caller's mistake: the pipeline checks
    /// it before the first image).
    pub(crate) fn with_labels(mut self, labels: &[usize], fill: Option<usize>) -> Self {
        let s = &mut *self.s;
        s.lab_cur = 0;
        s.lab[0].clear();
        s.lab[0].extend_from_slice(labels);
        self.labels = true;
        self.label_fill = fill;
        self
    }

    /// The image's shape now, `[h, w, c]`, after the transforms so far.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Composes a geometric pull: pixel (y, x) of the output, which has
    /// shape `out` (the channels stay), reads the current image at
    /// `(m[0] y + m[1] x + m[2], m[3] y + m[4] x + m[5])`.
    pub fn affine(&mut self, m: [f32; 6], out: [usize; 3]) {
        if !self.dense {
            self.affine = compose(self.affine, m);
        } else {
            // D_new(p) = D(m(p)) on the new grid.
            self.make_absolute();
            let [oh, ow, _] = out;
            let s = &mut *self.s;
            s.ty.clear();
            s.tx.clear();
            for y in 0..oh {
                for x in 0..ow {
                    let (yf, xf) = (y as f32, x as f32);
                    let qy = m[0] * yf + m[1] * xf + m[2];
                    let qx = m[3] * yf + m[4] * xf + m[5];
                    let (dy, dx) = read_map(&s.sy, &s.sx, self.shape, qy, qx);
                    s.ty.push(dy);
                    s.tx.push(dx);
                }
            }
            std::mem::swap(&mut s.sy, &mut s.ty);
            std::mem::swap(&mut s.sx, &mut s.tx);
        }
        self.shape = [out[0], out[1], self.shape[2]];
    }

    /// Composes a displacement field: `f(dy, dx, tmp)` gets three zeroed
    /// buffers of `h * w` values (row-major) for the current shape, fills
    /// `dy` and `dx` (`tmp` is scratch), and pixel (y, x) then reads the
    /// current image at `(y + dy, x + dx)`.
    pub fn displace(&mut self, f: impl FnOnce(&mut [f32], &mut [f32], &mut [f32])) {
        let [h, w, _] = self.shape;
        let n = h * w;
        let s = &mut *self.s;
        for b in [&mut s.dy, &mut s.dx, &mut s.tmp] {
            b.clear();
            b.resize(n, 0.0);
        }
        f(&mut s.dy, &mut s.dx, &mut s.tmp);
        if !self.dense {
            // D(p) = p + d(p), kept as d.
            std::mem::swap(&mut s.sy, &mut s.dy);
            std::mem::swap(&mut s.sx, &mut s.dx);
            self.dense = true;
            self.relative = true;
        } else {
            // D_new(p) = D(p + d(p)).
            self.make_absolute();
            let s = &mut *self.s;
            s.ty.clear();
            s.tx.clear();
            for y in 0..h {
                for x in 0..w {
                    let i = y * w + x;
                    let (qy, qx) = (y as f32 + s.dy[i], x as f32 + s.dx[i]);
                    let (dy, dx) = read_map(&s.sy, &s.sx, self.shape, qy, qx);
                    s.ty.push(dy);
                    s.tx.push(dx);
                }
            }
            std::mem::swap(&mut s.sy, &mut s.ty);
            std::mem::swap(&mut s.sx, &mut s.tx);
        }
    }

    /// The pixels of the current image (`h * w * c`, HWC), sampled now if
    /// geometric transforms are pending; a colour transform changes them
    /// in place.
    pub fn pixels(&mut self) -> &mut [f32] {
        if !self.owned || self.pending() {
            let next = if self.owned {
                1 - self.s.cur
            } else {
                self.s.cur
            };
            let n: usize = self.shape.iter().product();
            let mut buf = std::mem::take(&mut self.s.img[next]);
            buf.clear();
            buf.resize(n, 0.0);
            self.resolve_into(&mut buf);
            self.s.img[next] = buf;
            if self.labels {
                let mut out = std::mem::take(&mut self.s.lab[1 - self.s.lab_cur]);
                out.clear();
                out.resize(self.shape[0] * self.shape[1], 0);
                self.resolve_labels(&mut out);
                self.s.lab_cur = 1 - self.s.lab_cur;
                self.s.lab[self.s.lab_cur] = out;
            }
            self.s.cur = next;
            self.owned = true;
            self.src_shape = self.shape;
            self.affine = IDENTITY;
            self.dense = false;
            self.relative = false;
        }
        &mut self.s.img[self.s.cur]
    }

    /// Writes the final image into `dst` (`h * w * c` of the current shape).
    pub(crate) fn finish(self, dst: &mut [f32]) {
        self.resolve_into(dst);
    }

    /// [`Frame::finish`], and the label map moved with the pixels into
    /// `labels` (`h * w` of the current shape).
    pub(crate) fn finish_with_labels(self, dst: &mut [f32], labels: &mut [usize]) {
        self.resolve_into(dst);
        self.resolve_labels(labels);
    }

    /// The label map at A(D(p)) for every output pixel p, by the nearest
    /// source pixel (pixel centres are integers, so rounding is nearest).
    fn resolve_labels(&self, out: &mut [usize]) {
        let s = &*self.s;
        let src = &s.lab[s.lab_cur];
        let [sh, sw, _] = self.src_shape;
        let [oh, ow, _] = self.shape;
        let a = self.affine;
        for y in 0..oh {
            for x in 0..ow {
                let i = y * ow + x;
                let (dy, dx) = match (self.dense, self.relative) {
                    (false, _) => (y as f32, x as f32),
                    (true, true) => (y as f32 + s.sy[i], x as f32 + s.sx[i]),
                    (true, false) => (s.sy[i], s.sx[i]),
                };
                let qy = (a[0] * dy + a[1] * dx + a[2]).round();
                let qx = (a[3] * dy + a[4] * dx + a[5]).round();
                let inside = qy >= 0.0 && qx >= 0.0 && qy < sh as f32 && qx < sw as f32;
                out[i] = match (inside, self.border, self.label_fill) {
                    (true, ..) => src[qy as usize * sw + qx as usize],
                    (false, Border::Constant(_), Some(fill)) => fill,
                    // Nearest, or a constant border without a class for it
                    // (refused before any image by the pipeline).
                    (false, ..) => {
                        let r = qy.clamp(0.0, (sh - 1) as f32) as usize;
                        let c = qx.clamp(0.0, (sw - 1) as f32) as usize;
                        src[r * sw + c]
                    }
                };
            }
        }
    }

    /// Turns a map held as a displacement into the map itself.
    fn make_absolute(&mut self) {
        if self.relative {
            let [_, w, _] = self.shape;
            let s = &mut *self.s;
            for (y, (sy, sx)) in
                s.sy.chunks_exact_mut(w)
                    .zip(s.sx.chunks_exact_mut(w))
                    .enumerate()
            {
                sy.iter_mut().for_each(|d| *d += y as f32);
                sx.iter_mut().enumerate().for_each(|(x, d)| *d += x as f32);
            }
            self.relative = false;
        }
    }

    fn pending(&self) -> bool {
        self.dense || self.affine != IDENTITY || self.shape != self.src_shape
    }

    fn source(&self) -> &[f32] {
        if self.owned {
            &self.s.img[self.s.cur]
        } else {
            self.input
        }
    }

    /// Samples the source at A(D(p)) for every output pixel p, a row at
    /// a time (`sample.rs`).
    fn resolve_into(&self, dst: &mut [f32]) {
        let src = self.source();
        if !self.pending() {
            dst.copy_from_slice(src);
            return;
        }
        let (a, s, isa) = (self.affine, &*self.s, crate::isa::current());
        let [oh, ow, c] = self.shape;
        PADDED.with(|p| {
            let buf = &mut *p.borrow_mut();
            let sampler = Sampler::new(isa, src, self.src_shape, self.border, buf);
            for (y, out) in dst.chunks_exact_mut(ow * c).take(oh).enumerate() {
                let row = y * ow..(y + 1) * ow;
                let points = match (self.dense, self.relative) {
                    (false, _) => Points::Grid,
                    (true, true) => Points::Displaced(&s.sy[row.clone()], &s.sx[row]),
                    (true, false) => Points::Mapped(&s.sy[row.clone()], &s.sx[row]),
                };
                sampler.row(a, y, 0, points, out);
            }
        });
    }
}

thread_local! {
    // The padded source of the last resolve on this thread, for the
    // sampling paths that read one (grow-only).
    static PADDED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The dense map D (values `sy`, `sx` on a grid of `shape`) at (qy, qx),
/// bilinearly; outside the grid, the edge value moved by the distance to
/// the edge (D continued as a translation).
fn read_map(sy: &[f32], sx: &[f32], [h, w, _]: [usize; 3], qy: f32, qx: f32) -> (f32, f32) {
    let cy = qy.clamp(0.0, (h - 1) as f32);
    let cx = qx.clamp(0.0, (w - 1) as f32);
    let (y0, x0) = (cy as usize, cx as usize); // cy, cx >= 0: truncation is the floor
    let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
    let (fy, fx) = (cy - y0 as f32, cx - x0 as f32);
    let lerp2 = |m: &[f32]| {
        let top = m[y0 * w + x0] * (1.0 - fx) + m[y0 * w + x1] * fx;
        let bottom = m[y1 * w + x0] * (1.0 - fx) + m[y1 * w + x1] * fx;
        top * (1.0 - fy) + bottom * fy
    };
    (lerp2(sy) + (qy - cy), lerp2(sx) + (qx - cx))
}

/// Bilinear sample of `src` (`[h, w, c]`) at (y, x) into `out` (`c`
/// values). With a constant border each of the four neighbours outside
/// the image reads the constant, so an edge fades into the background;
/// with `Nearest` the point is first clamped into the image. (Tests only;
/// the frame samples whole rows.)
#[cfg(test)]
pub(crate) fn bilinear(
    src: &[f32],
    shape: [usize; 3],
    y: f32,
    x: f32,
    border: Border,
    out: &mut [f32],
) {
    let mut buf = Vec::new();
    let sampler = Sampler::new(crate::isa::current(), src, shape, border, &mut buf);
    sampler.row(IDENTITY, 0, 0, Points::Mapped(&[y], &[x]), out);
}
