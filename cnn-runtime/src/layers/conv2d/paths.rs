//! Which kernels may run each pass of a convolution here, the fixed
//! rule's pick first: the lists [`tune::choose`] picks from (or measures,
//! with `CNN_CONV=auto`). One set of rules for any group count: the direct
//! kernel of `depthwise.rs` exists only for several groups of one to four
//! channels, the micro-kernel and im2col paths for every group count.

use super::{implicit, microkernel, tune, Groups};
use crate::geom::Conv2dGeom;
use crate::isa::Isa;

/// Which kernel runs the forward pass or the weight gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    /// The direct loops of `depthwise.rs` on the given instruction set:
    /// several groups of one input channel, or of 2 or 4 in and out
    /// ([`direct_supported`]).
    Direct(Isa),
    /// The in-place micro-kernel, AVX-512 or AVX2 (see `implicit.rs`).
    Implicit,
    /// im2col (none for 1x1 stride 1) + a GEMM per group: any CPU, any shape.
    Gemm,
}

/// How the input gradient is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DxPath {
    /// The direct loops of `depthwise.rs` (as [`Kernel::Direct`]).
    Direct(Isa),
    /// `dcol_g = dY_g W_g^T` by the im2col path's GEMM
    /// (`gemm_path::sgemm`), then col2im: any CPU, any geometry.
    Gemm,
    /// `dcol_g = dY_g W_g^T` by the micro-kernel, then col2im: any stride.
    Scatter,
    /// The transposed convolution on the micro-kernel: stride 1 only.
    Transposed,
}

/// True when the direct kernel runs these groups: several, of one input
/// channel each (depthwise, any multiplier), or as many outputs as inputs
/// with 2 or 4 of each. There it costs a shuffle per multiply-add, on the
/// same port as half of them, against the micro-kernel's 2/16 or 4/16
/// useful lanes; at 8 per group the two break even (measured), and from
/// 16 the micro-kernel fills its vectors. One group (a dense convolution,
/// even of one input channel) is the micro-kernel's.
pub(super) fn direct_supported(gr: &Groups) -> bool {
    gr.groups > 1 && (gr.cg == 1 || (gr.cg == gr.og && matches!(gr.cg, 2 | 4)))
}

/// Up to four named candidates, held inline so that choosing allocates
/// nothing.
pub(super) struct Candidates<P> {
    list: [(&'static str, P); 4],
    len: usize,
}

impl<P: Copy> Candidates<P> {
    fn new(fill: P) -> Self {
        Candidates {
            list: [("", fill); 4],
            len: 0,
        }
    }

    fn push(&mut self, name: &'static str, p: P) {
        self.list[self.len] = (name, p);
        self.len += 1;
    }

    pub(super) fn as_slice(&self) -> &[(&'static str, P)] {
        &self.list[..self.len]
    }
}

/// The forward and weight-gradient kernels that may run `g` here: im2col
/// always (alone for a dilated convolution: the micro-kernel and the
/// direct loops read adjacent taps and know no dilation), the
/// micro-kernel where it runs on the current instruction set
/// ([`crate::isa::current`]), the direct kernel where it applies. The
/// fixed rule (`CNN_CONV` unset or `implicit`) is the direct kernel where
/// it applies, else the micro-kernel where it runs, else im2col;
/// `CNN_CONV=gemm` keeps the direct kernel where it applies and im2col
/// elsewhere (see `tune.rs`).
pub(super) fn candidates(g: &Conv2dGeom, gr: &Groups) -> Candidates<Kernel> {
    let mut c = Candidates::new(Kernel::Gemm);
    if g.is_dilated() {
        c.push("gemm", Kernel::Gemm);
        return c;
    }
    let implicit = microkernel::available();
    let direct = direct_supported(gr).then(|| Kernel::Direct(crate::isa::current()));
    let mode = tune::mode();
    match (mode, direct) {
        (tune::Mode::Auto, _) => {
            if let Some(d) = direct {
                c.push("direct", d);
            }
            if implicit {
                c.push("implicit", Kernel::Implicit);
            }
            c.push("gemm", Kernel::Gemm);
        }
        (_, Some(d)) => c.push("direct", d),
        (tune::Mode::Implicit, None) if implicit => c.push("implicit", Kernel::Implicit),
        (_, None) => c.push("gemm", Kernel::Gemm),
    }
    c
}

/// The input-gradient algorithms that may run `g` here: as
/// [`candidates`], the micro-kernel's two ways, and the transposed
/// convolution only where the micro-kernel supports it (stride 1). The
/// fixed rule takes it transposed only when `cg` fills most of 16 columns
/// (an AVX-512 vector, or the AVX2 kernel's widest block: each group's
/// product is `cg` columns wide; LeNet-5's conv2, `c_in` 6, ran its
/// backward at 46 GFLOP/s transposed, 64 scattered).
pub(super) fn dx_candidates(g: &Conv2dGeom, gr: &Groups) -> Candidates<DxPath> {
    const T: (&str, DxPath) = ("transposed", DxPath::Transposed);
    const S: (&str, DxPath) = ("scatter", DxPath::Scatter);
    let mut c = Candidates::new(DxPath::Gemm);
    if g.is_dilated() {
        c.push("gemm", DxPath::Gemm);
        return c;
    }
    let mode = tune::mode();
    let implicit = microkernel::available() && mode != tune::Mode::Gemm;
    let direct = direct_supported(gr).then(|| DxPath::Direct(crate::isa::current()));
    let transposed = implicit && implicit::dx_supported(g);
    // The fixed rule's pick first (see `tune.rs`).
    let rule = transposed && 4 * gr.cg >= 3 * gr.cg.div_ceil(16) * 16;
    match (mode, direct) {
        (tune::Mode::Auto, _) => {
            if let Some(d) = direct {
                c.push("direct", d);
            }
            if implicit {
                let order: &[_] = match (rule, transposed) {
                    (true, _) => &[T, S],
                    (false, true) => &[S, T],
                    (false, false) => &[S],
                };
                order.iter().for_each(|&(name, p)| c.push(name, p));
            }
            c.push("gemm", DxPath::Gemm);
        }
        (_, Some(d)) => c.push("direct", d),
        _ if rule => c.push(T.0, T.1),
        _ if implicit => c.push(S.0, S.1),
        _ => c.push("gemm", DxPath::Gemm),
    }
    c
}

/// The forward kernel the fixed rule picks (the first candidate).
#[cfg(test)]
pub(super) fn fixed_rule(g: &Conv2dGeom, gr: &Groups) -> Kernel {
    candidates(g, gr).as_slice()[0].1
}
