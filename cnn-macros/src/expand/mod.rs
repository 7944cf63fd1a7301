//! ir -> tokens: the back end of `network!`. From a checked [`Net`] it lays
//! out the parameter arena ([`layout`]), plans the fused training and
//! inference programs over a workspace of per-example slots ([`plan`]), and
//! emits the struct, its constants and its methods ([`api`]), whose bodies
//! are one kernel call per fused op ([`forward`], [`backward`]) with every
//! dimension and offset a literal. What is generic over networks lives in
//! `cnn_runtime::net`, so the generated code grows with the number of
//! layers and nothing else.

mod api;
mod backward;
mod fields;
mod forward;
mod graph;
mod held;
mod io;
pub(crate) mod layout;
mod parts;
mod passes;
mod plan;
mod summary;
#[cfg(test)]
mod testnets;
mod train;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::ast::Header;
use crate::ir::{Layer, LayerKind, Net, Shape};
use plan::{Act, Mode, Planner, Slot};

/// The whole generated API for a checked network without errors.
pub fn expand(header: &Header, net: &Net) -> TokenStream {
    let params = layout::params(&net.layers);
    let taps: Vec<String> = net.taps.iter().map(|(name, _)| name.clone()).collect();
    let (train, mut unsupported) = Planner::new(Mode::Train, &params)
        .taps(&taps)
        .plan(net.input, &net.layers);
    let (infer, more) = Planner::new(Mode::Infer, &params).plan(net.input, &net.layers);
    unsupported.extend(more);
    unsupported.dedup();
    if !unsupported.is_empty() {
        let errors = unsupported
            .iter()
            .map(|m| quote!(::core::compile_error!(#m);));
        let stub = expand_with_errors(header, net);
        return quote!(#stub #(#errors)*);
    }
    let parts = parts::Parts {
        params: &params,
        train: &train,
        infer: &infer,
        fused_softmax: fused_softmax(&net.layers),
    };
    api::generate(header, net, Some(parts))
}

/// What is emitted beside the compile errors: the struct, its constants
/// (from whatever the checker could work out) and the methods with bodies
/// that never run, so that user code naming them shows no follow-on errors.
pub fn expand_with_errors(header: &Header, net: &Net) -> TokenStream {
    api::generate(header, net, None)
}

/// Whether the last layer is a `Softmax` (over a vector, or per position
/// over an image's channels), which training fuses with the cross-entropy
/// (the loss reads its input, the logits).
fn fused_softmax(layers: &[Layer]) -> bool {
    matches!(layers.last(), Some(l) if matches!(l.kind, LayerKind::Softmax))
}

/// The runtime crate, as the generated code names it.
fn rt() -> TokenStream {
    quote!(::cnn::__private::rt)
}

/// A per-example slot of the batch-scaled arenas, at batch `batch`.
fn span(s: Slot) -> TokenStream {
    let rt = rt();
    let (o, l) = (s.offset, s.len);
    quote!(#rt::net::span(batch, #o, #l))
}

/// An absolute range (fixed arena, parameter arena).
fn range(s: Slot) -> TokenStream {
    let (a, b) = (s.offset, s.offset + s.len);
    quote!(#a..#b)
}

fn act(a: Act) -> TokenStream {
    let rt = rt();
    match a {
        Act::Identity => quote!(#rt::Act::Identity),
        Act::Relu => quote!(#rt::Act::Relu),
        Act::LeakyRelu(alpha) => {
            let alpha = f32_lit(alpha);
            quote!(#rt::Act::LeakyRelu(#alpha))
        }
        Act::Tanh => quote!(#rt::Act::Tanh),
        Act::Sigmoid => quote!(#rt::Act::Sigmoid),
        Act::Relu6 => quote!(#rt::Act::Relu6),
        Act::Silu => quote!(#rt::Act::Silu),
        Act::Hardswish => quote!(#rt::Act::Hardswish),
        Act::Hardsigmoid => quote!(#rt::Act::Hardsigmoid),
        Act::Gelu => quote!(#rt::Act::Gelu),
        Act::GeluTanh => quote!(#rt::Act::GeluTanh),
    }
}

fn f32_lit(v: f64) -> Literal {
    Literal::f32_suffixed(v as f32)
}

/// `[d, h, w, c]`, `[h, w, c]`, `[l, c]` or `[n]`: the shape as declared
/// (`INPUT_SHAPE`).
fn dims(s: Shape) -> Vec<usize> {
    match s {
        Shape::Image {
            w, c, seq: true, ..
        } => vec![w, c],
        Shape::Image {
            h,
            w,
            c,
            depth: Some(d),
            ..
        } => vec![d, h, w, c],
        Shape::Image { h, w, c, .. } => vec![h, w, c],
        Shape::Flat { n } => vec![n],
    }
}

/// Every layer, depth first, with its depth (blocks' layers one deeper).
fn walk(layers: &[Layer], depth: usize, out: &mut Vec<(usize, Layer)>) {
    for l in layers {
        out.push((depth, l.clone()));
        match &l.kind {
            LayerKind::Residual { body, shortcut } => {
                walk(body, depth + 1, out);
                walk(shortcut, depth + 1, out);
            }
            LayerKind::Concat { branches } => branches.iter().for_each(|b| walk(b, depth + 1, out)),
            LayerKind::AuxHead { layers, .. } | LayerKind::Sequential { layers, .. } => {
                walk(layers, depth + 1, out)
            }
            LayerKind::Gate { body } => walk(body, depth + 1, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testnets::{bn_net, lenet5};

    fn header(name: &str) -> Header {
        Header {
            attrs: vec![syn::parse_quote!(#[doc = " A test network."])],
            vis: syn::parse_quote!(pub),
            ident: syn::Ident::new(name, proc_macro2::Span::call_site()),
        }
    }

    /// The generated code parses as a Rust file.
    #[test]
    fn lenet5_expands_to_valid_rust() {
        let net = lenet5();
        let tokens = expand(&header("LeNet5"), &net);
        let file: syn::File = syn::parse2(tokens.clone()).expect("generated code parses");
        assert_eq!(
            file.items.len(),
            5,
            "struct, impl, the ONNX methods (a macro call), impl Network, impl Held"
        );
        let text = tokens.to_string();
        assert!(!text.contains("compile_error"), "{text}");
        assert!(text.contains("conv2d :: forward"));
    }

    #[test]
    fn stub_expansion_parses_and_keeps_the_consts() {
        let tokens = expand_with_errors(&header("BnNet"), &bn_net());
        syn::parse2::<syn::File>(tokens.clone()).expect("stub parses");
        let text = tokens.to_string();
        assert!(text.contains("PARAMS"));
        assert!(text.contains("unreachable"));
    }

    /// A few lines per layer: LeNet-5's whole API (13 layers) is about
    /// 66 kB of tokens, most of it `::cnn::__private::rt::` paths (the
    /// held pass and the weight-gradient-free branches of frozen layers
    /// added 23 kB to the 36 kB before; the dilation fields of every
    /// convolution geometry literal about 0.6 kB; `train_loss_shard`, the
    /// data-parallel step with any loss, 1.5 kB, once per network).
    #[test]
    fn generated_code_is_small() {
        let len = expand(&header("LeNet5"), &lenet5()).to_string().len();
        assert!(len < 67_000, "{len} bytes of tokens");
    }
}

#[cfg(test)]
mod dump {
    /// `CNN_DUMP=path cargo test -p cnn-macros dump` writes LeNet-5's
    /// expansion to `path` (for reading, after `rustfmt`).
    #[test]
    fn dump() {
        if let Ok(path) = std::env::var("CNN_DUMP") {
            let h = crate::ast::Header {
                attrs: vec![],
                vis: syn::parse_quote!(pub),
                ident: syn::Ident::new("LeNet5", proc_macro2::Span::call_site()),
            };
            let net = match std::env::var("CNN_DUMP_NET").as_deref() {
                Ok("bn") => super::testnets::bn_net(),
                _ => super::testnets::lenet5(),
            };
            std::fs::write(path, super::expand(&h, &net).to_string()).unwrap();
        }
    }
}
