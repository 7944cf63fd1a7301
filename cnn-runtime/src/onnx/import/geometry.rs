//! A `Conv` (or `ConvTranspose`) node's geometry against our
//! (transposed) convolution's.

use super::Res;
use crate::geom::{Conv2dGeom, ConvTranspose2dGeom};
use crate::onnx::model::{get_int, get_ints, get_string};
use onnx_protobuf::NodeProto;

/// A `Conv` node's groups, kernel, strides, dilations and padding against
/// our layer's geometry: applied to our layer's input size, the node's
/// attributes must give our padding in front and our output size.
pub(super) fn check_geometry(
    n: &NodeProto,
    at: &str,
    layer: &str,
    g: &Conv2dGeom,
    groups: usize,
) -> Res<()> {
    let attr = |e: String| format!("node {at}: {e}");
    let two = |name: &str, default: [usize; 2]| -> Res<[usize; 2]> {
        match get_ints(n, name).map_err(attr)? {
            None => Ok(default),
            Some(&[a, b]) if a >= 0 && b >= 0 => Ok([a as usize, b as usize]),
            Some(v) => Err(format!(
                "node {at}: {name} {v:?} is not two sizes (height, width)"
            )),
        }
    };
    let group = get_int(n, "group", 1).map_err(attr)?;
    if group != groups as i64 {
        return Err(format!(
            "node {at}: group {group}, but {layer} has groups: {groups}"
        ));
    }
    if two("kernel_shape", [g.fh, g.fw])? != [g.fh, g.fw] {
        let k = two("kernel_shape", [g.fh, g.fw])?;
        return Err(format!(
            "node {at}: kernel_shape {}x{} does not fit {layer}'s {}x{} kernel",
            k[0], k[1], g.fh, g.fw
        ));
    }
    let [d_h, d_w] = two("dilations", [1, 1])?;
    if d_h == 0 || d_w == 0 {
        return Err(format!(
            "node {at}: dilations {d_h}x{d_w}; a dilation is at least 1"
        ));
    }
    // Along an axis of one tap the dilation changes nothing.
    let differs = |d: usize, ours: usize, f: usize| f > 1 && d != ours;
    if differs(d_h, g.dh, g.fh) || differs(d_w, g.dw, g.fw) {
        return Err(format!(
            "node {at}: dilations {d_h}x{d_w}, but {layer} has dilation {}x{}",
            g.dh, g.dw
        ));
    }
    // The window a dilated kernel spans, d (f - 1) + 1 (ours: validated).
    let span = |f: usize, d: usize| (f - 1).saturating_mul(d).saturating_add(1);
    let (fh, fw) = (span(g.fh, g.dh), span(g.fw, g.dw));
    let [sh, sw] = two("strides", [1, 1])?;
    let auto_pad = get_string(n, "auto_pad", "NOTSET").map_err(attr)?;
    let same = |n_in: usize, f: usize, s: usize, upper: bool| {
        let out = n_in.div_ceil(s.max(1));
        let total = ((out.max(1) - 1) * s + f).saturating_sub(n_in);
        let before = if upper { total / 2 } else { total - total / 2 };
        (before, total - before)
    };
    let pads: [usize; 4] = match auto_pad.as_str() {
        "NOTSET" | "" => match get_ints(n, "pads").map_err(attr)? {
            None => [0; 4],
            Some(&[a, b, c, d]) if [a, b, c, d].iter().all(|&p| p >= 0) => {
                [a as usize, b as usize, c as usize, d as usize]
            }
            Some(v) => {
                return Err(format!(
                    "node {at}: pads {v:?} are not four sizes (top, left, bottom, right)"
                ))
            }
        },
        "VALID" => [0; 4],
        "SAME_UPPER" | "SAME_LOWER" => {
            let upper = auto_pad == "SAME_UPPER";
            let (t, b) = same(g.in_h, fh, sh, upper);
            let (l, r) = same(g.in_w, fw, sw, upper);
            [t, l, b, r]
        }
        other => {
            return Err(format!(
                "node {at}: auto_pad {other:?} is not one ONNX defines"
            ))
        }
    };
    let out = |n_in: usize, before: usize, after: usize, f: usize, s: usize| {
        n_in.checked_add(before)
            .and_then(|v| v.checked_add(after))
            .and_then(|v| v.checked_sub(f))
            .and_then(|v| v.checked_div(s))
            .map(|v| v + 1)
    };
    let (oh, ow) = (
        out(g.in_h, pads[0], pads[2], fh, sh),
        out(g.in_w, pads[1], pads[3], fw, sw),
    );
    let fits = (sh, sw) == (g.sh, g.sw)
        && (pads[0], pads[1]) == (g.pad_top, g.pad_left)
        && (oh, ow) == (Some(g.out_h), Some(g.out_w));
    if !fits {
        let size = |o: Option<usize>| o.map_or("no".to_string(), |o| o.to_string());
        return Err(format!(
            "node {at}: strides {sh}x{sw} and pads {},{},{},{} (top, left, bottom, right) give {}x{} \
             outputs from {layer}'s {}x{} input, but {layer} has stride {}x{}, padding {} on top and \
             {} on the left, and {}x{} outputs",
            pads[0], pads[1], pads[2], pads[3], size(oh), size(ow), g.in_h, g.in_w,
            g.sh, g.sw, g.pad_top, g.pad_left, g.out_h, g.out_w
        ));
    }
    Ok(())
}

/// A `ConvTranspose` node's groups, kernel, strides, dilations, padding
/// and output padding against our layer's geometry: the same kernel,
/// strides, dilations and padding in front, and the same output size
/// (so the padding at the end less the output padding is ours: PyTorch
/// writes ours as they are, our export moves an output padding at or
/// above the stride into the end's); an `output_shape` must be ours too.
/// `auto_pad` other than `NOTSET` is refused (PyTorch never writes it).
pub(super) fn check_transposed_geometry(
    n: &NodeProto,
    at: &str,
    layer: &str,
    g: &ConvTranspose2dGeom,
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
    let kernel = list("kernel_shape", 2, &[g.fh, g.fw])?;
    let strides = list("strides", 2, &[1, 1])?;
    let dilations = list("dilations", 2, &[1, 1])?;
    let pads = list("pads", 4, &[0; 4])?;
    let output_padding = list("output_padding", 2, &[0, 0])?;
    let ours = (
        [g.fh, g.fw],
        [g.sh, g.sw],
        [g.dh, g.dw],
        [g.pad_top, g.pad_left, g.pad_top, g.pad_left],
        [g.out_pad_h, g.out_pad_w],
    );
    let file = (
        [kernel[0], kernel[1]],
        [strides[0], strides[1]],
        [dilations[0], dilations[1]],
        [pads[0], pads[1], pads[2], pads[3]],
        [output_padding[0], output_padding[1]],
    );
    // ONNX's output rule: s (n - 1) + output_padding + d (f - 1) + 1 -
    // pads at both ends.
    let size = |n: usize, a: usize| {
        let full = (n.max(1) - 1)
            .checked_mul(file.1[a])?
            .checked_add(file.4[a])?
            .checked_add(kernel[a].checked_sub(1)?.checked_mul(file.2[a])?)?
            .checked_add(1)?;
        full.checked_sub(file.3[a])?.checked_sub(file.3[a + 2])
    };
    let same = file.0 == ours.0
        && file.1 == ours.1
        && file.2 == ours.2
        && [file.3[0], file.3[1]] == [g.pad_top, g.pad_left]
        && size(g.in_h, 0) == Some(g.out_h)
        && size(g.in_w, 1) == Some(g.out_w);
    if !same {
        return Err(format!(
            "node {at}: kernel {:?}, strides {:?}, dilations {:?}, pads {:?} and output_padding {:?}, \
             but {layer} has kernel {:?}, stride {:?}, dilation {:?}, padding {:?} (top, left, bottom, right) \
             and output padding {:?}",
            file.0, file.1, file.2, file.3, file.4, ours.0, ours.1, ours.2, ours.3, ours.4
        ));
    }
    if let Some(shape) = get_ints(n, "output_shape").map_err(attr)? {
        let want = [g.out_h as i64, g.out_w as i64];
        if shape.len() < 2 || shape[shape.len() - 2..] != want {
            return Err(format!(
                "node {at}: output_shape {shape:?}, but {layer} gives {}x{}",
                g.out_h, g.out_w
            ));
        }
    }
    Ok(())
}
