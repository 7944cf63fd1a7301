//! A `Conv` (or `ConvTranspose`) node's geometry against our
//! (transposed) convolution's: an image's two axes or a volume's three.

use super::Res;
use crate::geom::{Conv2dGeom, ConvTranspose2dGeom};
use crate::geom3d::Conv3dGeom;
use crate::geom3d_grow::ConvTranspose3dGeom;
use crate::onnx::model::{get_int, get_ints, get_string};
use onnx_protobuf::NodeProto;

/// One spatial axis of our convolution: input and output size, kernel,
/// stride, dilation and the padding in front.
#[derive(Clone, Copy)]
pub(super) struct ConvAxis {
    n: usize,
    out: usize,
    f: usize,
    s: usize,
    d: usize,
    before: usize,
}

/// An image convolution's axes: rows, columns.
pub(super) fn axes_2d(g: &Conv2dGeom) -> Vec<ConvAxis> {
    vec![
        ConvAxis {
            n: g.in_h,
            out: g.out_h,
            f: g.fh,
            s: g.sh,
            d: g.dh,
            before: g.pad_top,
        },
        ConvAxis {
            n: g.in_w,
            out: g.out_w,
            f: g.fw,
            s: g.sw,
            d: g.dw,
            before: g.pad_left,
        },
    ]
}

/// A volume convolution's axes: depth, rows, columns.
pub(super) fn axes_3d(g: &Conv3dGeom) -> Vec<ConvAxis> {
    vec![
        ConvAxis {
            n: g.in_d,
            out: g.out_d,
            f: g.fd,
            s: g.sd,
            d: g.dd,
            before: g.pad_front,
        },
        ConvAxis {
            n: g.in_h,
            out: g.out_h,
            f: g.fh,
            s: g.sh,
            d: g.dh,
            before: g.pad_top,
        },
        ConvAxis {
            n: g.in_w,
            out: g.out_w,
            f: g.fw,
            s: g.sw,
            d: g.dw,
            before: g.pad_left,
        },
    ]
}

/// `3x3`, `1,0,1,1`: sizes as the messages write them.
fn joined(v: &[usize], sep: &str) -> String {
    v.iter().map(usize::to_string).collect::<Vec<_>>().join(sep)
}

/// A `Conv` node's groups, kernel, strides, dilations and padding against
/// our layer's geometry, `axes` (two for an image, three for a volume):
/// applied to our layer's input size, the node's attributes must give our
/// padding in front and our output size.
pub(super) fn check_geometry(
    n: &NodeProto,
    at: &str,
    layer: &str,
    axes: &[ConvAxis],
    groups: usize,
) -> Res<()> {
    let rank = axes.len();
    let (names, pad_names, fronts) = if rank == 3 {
        (
            "is not three sizes (depth, height, width)",
            "(front, top, left, back, bottom, right)",
            ["in front", "on top", "on the left"].as_slice(),
        )
    } else {
        (
            "is not two sizes (height, width)",
            "(top, left, bottom, right)",
            ["on top", "on the left"].as_slice(),
        )
    };
    let attr = |e: String| format!("node {at}: {e}");
    let list = |name: &str, len: usize, what: &str, default: Vec<usize>| -> Res<Vec<usize>> {
        match get_ints(n, name).map_err(attr)? {
            None => Ok(default),
            Some(v) if v.len() == len && v.iter().all(|&a| a >= 0) => {
                Ok(v.iter().map(|&a| a as usize).collect())
            }
            Some(v) => Err(format!("node {at}: {name} {v:?} {what}")),
        }
    };
    let group = get_int(n, "group", 1).map_err(attr)?;
    if group != groups as i64 {
        return Err(format!(
            "node {at}: group {group}, but {layer} has groups: {groups}"
        ));
    }
    let ours = |f: fn(&ConvAxis) -> usize| axes.iter().map(f).collect::<Vec<_>>();
    let kernel = ours(|a| a.f);
    let k = list("kernel_shape", rank, names, kernel.clone())?;
    if k != kernel {
        return Err(format!(
            "node {at}: kernel_shape {} does not fit {layer}'s {} kernel",
            joined(&k, "x"),
            joined(&kernel, "x")
        ));
    }
    let dilations = list("dilations", rank, names, vec![1; rank])?;
    if dilations.contains(&0) {
        return Err(format!(
            "node {at}: dilations {}; a dilation is at least 1",
            joined(&dilations, "x")
        ));
    }
    // Along an axis of one tap the dilation changes nothing.
    if axes
        .iter()
        .zip(&dilations)
        .any(|(a, &d)| a.f > 1 && d != a.d)
    {
        return Err(format!(
            "node {at}: dilations {}, but {layer} has dilation {}",
            joined(&dilations, "x"),
            joined(&ours(|a| a.d), "x")
        ));
    }
    // The window a dilated kernel spans, d (f - 1) + 1 (ours: validated).
    let span = |a: &ConvAxis| (a.f - 1).saturating_mul(a.d).saturating_add(1);
    let strides = list("strides", rank, names, vec![1; rank])?;
    let auto_pad = get_string(n, "auto_pad", "NOTSET").map_err(attr)?;
    let pads: Vec<usize> = match auto_pad.as_str() {
        "NOTSET" | "" => {
            let count = if rank == 3 { "six" } else { "four" };
            let what = format!("are not {count} sizes {pad_names}");
            list("pads", 2 * rank, &what, vec![0; 2 * rank])?
        }
        "VALID" => vec![0; 2 * rank],
        "SAME_UPPER" | "SAME_LOWER" => {
            let upper = auto_pad == "SAME_UPPER";
            let (mut front, mut end) = (Vec::new(), Vec::new());
            for (a, &s) in axes.iter().zip(&strides) {
                let out = a.n.div_ceil(s.max(1));
                let total = ((out.max(1) - 1) * s + span(a)).saturating_sub(a.n);
                let before = if upper { total / 2 } else { total - total / 2 };
                front.push(before);
                end.push(total - before);
            }
            front.into_iter().chain(end).collect()
        }
        other => {
            return Err(format!(
                "node {at}: auto_pad {other:?} is not one ONNX defines"
            ))
        }
    };
    let out = |k: usize| {
        let a = &axes[k];
        a.n.checked_add(pads[k])
            .and_then(|v| v.checked_add(pads[k + rank]))
            .and_then(|v| v.checked_sub(span(a)))
            .and_then(|v| v.checked_div(strides[k]))
            .map(|v| v + 1)
    };
    let outs: Vec<Option<usize>> = (0..rank).map(out).collect();
    let fits = strides == ours(|a| a.s)
        && pads[..rank] == ours(|a| a.before)[..]
        && outs.iter().zip(axes).all(|(o, a)| *o == Some(a.out));
    if !fits {
        let sizes: Vec<String> = outs
            .iter()
            .map(|o| o.map_or("no".to_string(), |o| o.to_string()))
            .collect();
        let padding: Vec<String> = axes
            .iter()
            .zip(fronts)
            .map(|(a, w)| format!("{} {w}", a.before))
            .collect();
        let padding = match padding.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => padding.join(""),
        };
        return Err(format!(
            "node {at}: strides {} and pads {} {pad_names} give {} outputs from {layer}'s {} input, \
             but {layer} has stride {}, padding {padding}, and {} outputs",
            joined(&strides, "x"),
            joined(&pads, ","),
            sizes.join("x"),
            joined(&ours(|a| a.n), "x"),
            joined(&ours(|a| a.s), "x"),
            joined(&ours(|a| a.out), "x"),
        ));
    }
    Ok(())
}

/// One spatial axis of our transposed convolution: input and output
/// size, kernel, stride, dilation, the padding cut from each end and the
/// output padding.
#[derive(Clone, Copy)]
pub(super) struct TransposedAxis {
    n: usize,
    out: usize,
    f: usize,
    s: usize,
    d: usize,
    pad: usize,
    out_pad: usize,
}

/// An image's transposed convolution's axes: rows, columns.
pub(super) fn transposed_axes_2d(g: &ConvTranspose2dGeom) -> Vec<TransposedAxis> {
    vec![
        TransposedAxis {
            n: g.in_h,
            out: g.out_h,
            f: g.fh,
            s: g.sh,
            d: g.dh,
            pad: g.pad_top,
            out_pad: g.out_pad_h,
        },
        TransposedAxis {
            n: g.in_w,
            out: g.out_w,
            f: g.fw,
            s: g.sw,
            d: g.dw,
            pad: g.pad_left,
            out_pad: g.out_pad_w,
        },
    ]
}

/// A volume's transposed convolution's axes: depth, rows, columns.
pub(super) fn transposed_axes_3d(g: &ConvTranspose3dGeom) -> Vec<TransposedAxis> {
    vec![
        TransposedAxis {
            n: g.in_d,
            out: g.out_d,
            f: g.fd,
            s: g.sd,
            d: g.dd,
            pad: g.pad_front,
            out_pad: g.out_pad_d,
        },
        TransposedAxis {
            n: g.in_h,
            out: g.out_h,
            f: g.fh,
            s: g.sh,
            d: g.dh,
            pad: g.pad_top,
            out_pad: g.out_pad_h,
        },
        TransposedAxis {
            n: g.in_w,
            out: g.out_w,
            f: g.fw,
            s: g.sw,
            d: g.dw,
            pad: g.pad_left,
            out_pad: g.out_pad_w,
        },
    ]
}

/// A `ConvTranspose` node's groups, kernel, strides, dilations, padding
/// and output padding against our layer's geometry (`axes`: an image's
/// two or a volume's three): the same kernel, strides, dilations and
/// padding in front, and the same output size (so the padding at the end
/// less the output padding is ours: PyTorch writes ours as they are, our
/// export moves an output padding at or above the stride into the
/// end's); an `output_shape` must be ours too. `auto_pad` other than
/// `NOTSET` is refused (PyTorch never writes it).
pub(super) fn check_transposed_geometry(
    n: &NodeProto,
    at: &str,
    layer: &str,
    axes: &[TransposedAxis],
    groups: usize,
) -> Res<()> {
    let attr = |e: String| format!("node {at}: {e}");
    let list = |name: &str, len: usize, default: &[usize]| -> Res<Vec<usize>> {
        match get_ints(n, name).map_err(attr)? {
            None => Ok(default.to_vec()),
            Some(v) if v.len() == len && v.iter().all(|&a| a >= 0) => {
                Ok(v.iter().map(|&a| a as usize).collect())
            }
            Some(v) => Err(format!("node {at}: {name} {v:?} is not {len} sizes")),
        }
    };
    let group = get_int(n, "group", 1).map_err(attr)?;
    if group != groups as i64 {
        return Err(format!(
            "node {at}: group {group}, but {layer} has groups: {groups}"
        ));
    }
    let auto_pad = get_string(n, "auto_pad", "NOTSET").map_err(attr)?;
    if !matches!(auto_pad.as_str(), "NOTSET" | "") {
        return Err(format!(
            "node {at}: auto_pad {auto_pad:?}: the import reads a ConvTranspose's explicit pads only"
        ));
    }
    let k = axes.len();
    let ours = |f: fn(&TransposedAxis) -> usize| axes.iter().map(f).collect::<Vec<_>>();
    let kernel = list("kernel_shape", k, &ours(|a| a.f))?;
    let strides = list("strides", k, &vec![1; k])?;
    let dilations = list("dilations", k, &vec![1; k])?;
    let pads = list("pads", 2 * k, &vec![0; 2 * k])?;
    let output_padding = list("output_padding", k, &vec![0; k])?;
    // ONNX's output rule: s (n - 1) + output_padding + d (f - 1) + 1 -
    // pads at both ends.
    let size = |n: usize, a: usize| {
        let full = (n.max(1) - 1)
            .checked_mul(strides[a])?
            .checked_add(output_padding[a])?
            .checked_add(kernel[a].checked_sub(1)?.checked_mul(dilations[a])?)?
            .checked_add(1)?;
        full.checked_sub(pads[a])?.checked_sub(pads[a + k])
    };
    let same = kernel == ours(|a| a.f)
        && strides == ours(|a| a.s)
        && dilations == ours(|a| a.d)
        && pads[..k] == ours(|a| a.pad)[..]
        && axes
            .iter()
            .enumerate()
            .all(|(i, a)| size(a.n, i) == Some(a.out));
    if !same {
        let order = if k == 3 {
            "front, top, left, back, bottom, right"
        } else {
            "top, left, bottom, right"
        };
        let our_pads = [ours(|a| a.pad), ours(|a| a.pad)].concat();
        return Err(format!(
            "node {at}: kernel {kernel:?}, strides {strides:?}, dilations {dilations:?}, pads {pads:?} and output_padding {output_padding:?}, \
             but {layer} has kernel {:?}, stride {:?}, dilation {:?}, padding {our_pads:?} ({order}) \
             and output padding {:?}",
            ours(|a| a.f),
            ours(|a| a.s),
            ours(|a| a.d),
            ours(|a| a.out_pad)
        ));
    }
    if let Some(shape) = get_ints(n, "output_shape").map_err(attr)? {
        let want: Vec<i64> = axes.iter().map(|a| a.out as i64).collect();
        if shape.len() < k || shape[shape.len() - k..] != want[..] {
            let outs: Vec<String> = axes.iter().map(|a| a.out.to_string()).collect();
            return Err(format!(
                "node {at}: output_shape {shape:?}, but {layer} gives {}",
                outs.join("x")
            ));
        }
    }
    Ok(())
}
