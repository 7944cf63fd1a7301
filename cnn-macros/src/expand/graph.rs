//! The `GRAPH` constant: `predict`'s program (the inference plan, fused as
//! it runs) as a graph of kernel calls over numbered values with their
//! shapes, naming the parameter tensors each call reads. The plan reuses
//! slots and runs activations in place; here every node writes a value of
//! its own (SSA), and the parts of a concatenation are one node.

use proc_macro2::TokenStream;
use quote::quote;

use super::forward::{
    conv3d_geom, conv_geom, pool3d_geom, pool_geom, transpose3d_geom, transpose_geom, upsample_geom,
};
use super::layout::Params;
use super::plan::{Bn, OpKind, Program, Slot};
use super::{act, f32_lit, rt};
use crate::ir::Shape;

/// The `Graph` literal for an inference program.
pub fn graph(prog: &Program, params: &Params) -> TokenStream {
    let rt = rt();
    let mut shapes: Vec<Shape> = Vec::new();
    // The graph value each plan value holds now.
    let mut current: Vec<Option<usize>> = vec![None; prog.values.len()];
    let fresh = |shape: Shape, shapes: &mut Vec<Shape>| {
        shapes.push(shape);
        shapes.len() - 1
    };
    current[prog.input] = Some(fresh(prog.shapes[prog.input], &mut shapes));
    let name = |s: Slot| -> String {
        params
            .tensors
            .iter()
            .find(|t| t.offset == s.offset && t.len() == s.len)
            .map(|t| t.name.clone())
            .expect("every parameter slot is a tensor")
    };
    let bn_lit = |bn: &Bn| {
        let (gamma, beta, mean, var) = (name(bn.gamma), name(bn.beta), name(bn.mean), name(bn.var));
        let eps = f32_lit(bn.eps);
        quote!(#rt::net::graph::BatchNormTensors { gamma: #gamma, beta: #beta, mean: #mean, var: #var, epsilon: #eps })
    };
    let opt = |n: Option<String>| match n {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    };
    let mut nodes = Vec::new();
    let mut parts: Vec<usize> = Vec::new();
    for op in &prog.ops {
        let x = current[op.x].expect("a value is written before it is read");
        let node = match &op.kind {
            OpKind::ConcatPart {
                offset,
                c_part,
                c_total,
                ..
            } => {
                parts.push(x);
                if offset + c_part < *c_total {
                    continue;
                }
                let y = fresh(prog.shapes[op.y], &mut shapes);
                current[op.y] = Some(y);
                let inputs = std::mem::take(&mut parts);
                nodes
                    .push(quote!(#rt::net::graph::Node::Concat { inputs: &[#(#inputs),*], y: #y }));
                continue;
            }
            _ => {
                let y = fresh(prog.shapes[op.y], &mut shapes);
                let b_other = match op.kind {
                    OpKind::Add { other } | OpKind::Gate { other, .. } => current[other],
                    _ => None,
                };
                current[op.y] = Some(y);
                (y, b_other)
            }
        };
        let (y, other) = node;
        nodes.push(match &op.kind {
            OpKind::MaxPool { g, .. } if g.depth.is_some() => {
                let geom = pool3d_geom(g);
                quote!(#rt::net::graph::Node::MaxPool3d { x: #x, y: #y, geom: #geom })
            }
            OpKind::AvgPool { g } if g.depth.is_some() => {
                let geom = pool3d_geom(g);
                quote!(#rt::net::graph::Node::AvgPool3d { x: #x, y: #y, geom: #geom })
            }
            OpKind::Conv {
                g,
                groups,
                transposed,
                w_tensor: _,
                w,
                b,
                fold,
                act: a,
            } => {
                let (weight, bias) = (name(*w), opt(b.map(name)));
                let bn = match fold {
                    Some((bn, _, _)) => {
                        let lit = bn_lit(bn);
                        quote!(Some(#lit))
                    }
                    None => quote!(None),
                };
                let a = act(*a);
                match transposed {
                    None if g.depth.is_some() => {
                        let geom = conv3d_geom(g, *groups);
                        quote!(#rt::net::graph::Node::Conv3d { x: #x, y: #y, geom: #geom, weight: #weight, bias: #bias, batch_norm: #bn, act: #a })
                    }
                    Some(out_pad) if g.depth.is_some() => {
                        let geom = transpose3d_geom(g, *out_pad, *groups);
                        quote!(#rt::net::graph::Node::ConvTranspose3d { x: #x, y: #y, geom: #geom, weight: #weight, bias: #bias, batch_norm: #bn, act: #a })
                    }
                    Some(out_pad) => {
                        let geom = transpose_geom(g, *out_pad);
                        quote!(#rt::net::graph::Node::ConvTranspose { x: #x, y: #y, geom: #geom, groups: #groups, weight: #weight, bias: #bias, batch_norm: #bn, act: #a })
                    }
                    None => {
                        let geom = conv_geom(g);
                        quote!(#rt::net::graph::Node::Conv { x: #x, y: #y, geom: #geom, groups: #groups, weight: #weight, bias: #bias, batch_norm: #bn, act: #a })
                    }
                }
            }
            OpKind::Upsample { depth, .. } => {
                let (_, geom, _) = upsample_geom(&op.kind);
                if depth.is_some() {
                    quote!(#rt::net::graph::Node::Upsample3d { x: #x, y: #y, geom: #geom })
                } else {
                    quote!(#rt::net::graph::Node::Upsample { x: #x, y: #y, geom: #geom })
                }
            }
            OpKind::Dense { w, b, act: a, .. } => {
                let (weight, bias, a) = (name(*w), opt(b.map(name)), act(*a));
                quote!(#rt::net::graph::Node::Dense { x: #x, y: #y, weight: #weight, bias: #bias, act: #a })
            }
            OpKind::BatchNorm { bn, act: a, .. } => {
                let (tensors, a) = (bn_lit(bn), act(*a));
                quote!(#rt::net::graph::Node::BatchNorm { x: #x, y: #y, tensors: #tensors, act: #a })
            }
            OpKind::Norm {
                layer_norm,
                groups,
                gamma,
                beta,
                eps,
                ..
            } => {
                let (gamma, beta, eps) = (name(*gamma), name(*beta), f32_lit(*eps));
                if *layer_norm {
                    quote!(#rt::net::graph::Node::LayerNorm { x: #x, y: #y, gamma: #gamma, beta: #beta, epsilon: #eps })
                } else {
                    quote!(#rt::net::graph::Node::GroupNorm { x: #x, y: #y, groups: #groups, gamma: #gamma, beta: #beta, epsilon: #eps })
                }
            }
            OpKind::Scale { s, .. } => {
                let scale = name(*s);
                quote!(#rt::net::graph::Node::Scale { x: #x, y: #y, scale: #scale })
            }
            OpKind::Gate { .. } => {
                let g = other.expect("the body's output is written before the gate");
                quote!(#rt::net::graph::Node::Gate { x: #x, g: #g, y: #y })
            }
            OpKind::Activation { act: a } => {
                let a = act(*a);
                quote!(#rt::net::graph::Node::Activation { x: #x, y: #y, act: #a })
            }
            OpKind::Softmax { .. } => quote!(#rt::net::graph::Node::Softmax { x: #x, y: #y }),
            OpKind::L2Normalize { .. } => {
                quote!(#rt::net::graph::Node::L2Normalize { x: #x, y: #y })
            }
            OpKind::MaxPool { g, .. } => {
                let geom = pool_geom(g);
                quote!(#rt::net::graph::Node::MaxPool { x: #x, y: #y, geom: #geom })
            }
            OpKind::AvgPool { g } => {
                let geom = pool_geom(g);
                quote!(#rt::net::graph::Node::AvgPool { x: #x, y: #y, geom: #geom })
            }
            OpKind::GlobalAvgPool { .. } => quote!(#rt::net::graph::Node::GlobalAvgPool { x: #x, y: #y }),
            OpKind::Add { .. } => {
                let b = other.expect("both operands are written before the addition");
                quote!(#rt::net::graph::Node::Add { a: #x, b: #b, y: #y })
            }
            OpKind::Dropout { .. } | OpKind::ConcatPart { .. } => {
                unreachable!("inference has no dropout; parts are handled above")
            }
        });
    }
    let output = current[prog.output].expect("the output is written");
    let values = shapes.iter().map(|s| match *s {
        Shape::Image {
            h,
            w,
            c,
            depth: Some(d),
            ..
        } => quote!(#rt::net::graph::ValueShape::Volume([#d, #h, #w, #c])),
        Shape::Image { h, w, c, .. } => quote!(#rt::net::graph::ValueShape::Image([#h, #w, #c])),
        Shape::Flat { n } => quote!(#rt::net::graph::ValueShape::Flat(#n)),
    });
    let input = 0usize;
    quote! {
        #rt::net::graph::Graph {
            values: &[#(#values),*],
            nodes: &[#(#nodes),*],
            input: #input,
            output: #output,
        }
    }
}
