//! ir -> tokens. (Placeholder until the back end lands: emits the struct
//! and its constants only.)

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Header;
use crate::ir::{Layer, LayerKind, Net};

/// The whole generated API for a checked network without errors.
pub fn expand(header: &Header, net: &Net) -> TokenStream {
    expand_with_errors(header, net)
}

/// What is emitted beside the compile errors: the struct and its constants
/// (from whatever the checker could work out), so that user code naming
/// them shows no follow-on errors.
pub fn expand_with_errors(header: &Header, net: &Net) -> TokenStream {
    let Header { attrs, vis, ident } = header;
    let (params, trainable, macs) = totals(&net.layers);
    let input: Vec<usize> = match net.input {
        crate::ir::Shape::Image { h, w, c } => vec![h, w, c],
        crate::ir::Shape::Flat { n } => vec![n],
    };
    let rank = input.len();
    let output = net
        .layers
        .last()
        .and_then(|l| l.output)
        .map_or(0, |s| s.len());
    quote! {
        #(#attrs)*
        #vis struct #ident {
            params: ::std::vec::Vec<f32>,
        }
        impl #ident {
            pub const INPUT_SHAPE: [usize; #rank] = [#(#input),*];
            pub const OUTPUT_SIZE: usize = #output;
            pub const PARAMS: usize = #params;
            pub const TRAINABLE_PARAMS: usize = #trainable;
            pub const MACS: u64 = #macs;
        }
    }
}

fn totals(layers: &[Layer]) -> (usize, usize, u64) {
    let mut t = (0usize, 0usize, 0u64);
    for l in layers {
        t.0 += l.params;
        t.1 += l.trainable;
        t.2 += l.macs;
        let children: Vec<&[Layer]> = match &l.kind {
            LayerKind::Residual { body, shortcut } => vec![body, shortcut],
            LayerKind::Concat { branches } => branches.iter().map(|b| b.as_slice()).collect(),
            LayerKind::AuxHead { layers, .. } => vec![layers],
            _ => vec![],
        };
        for c in children {
            let (p, tr, m) = totals(c);
            t.0 += p;
            t.1 += tr;
            t.2 += m;
        }
    }
    t
}
