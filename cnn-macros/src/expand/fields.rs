//! `RECEPTIVE_FIELDS` and `receptive_field(name)`: the receptive fields
//! `crate::field` works out, one per row of `summary()`, as constants of
//! the generated struct (`cnn::net::ReceptiveField`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::rt;
use crate::field::fields;
use crate::ir::{Net, Shape};

/// The constant and the lookup, with the struct's other constants. Layers
/// whose field is unknown (beside compile errors) are left out.
pub fn consts(net: &Net) -> TokenStream {
    let rt = rt();
    // Unsuffixed numbers and a short alias: a row per layer, so its length
    // counts (ResNet-152 has hundreds).
    let n = |v: usize| Literal::usize_unsuffixed(v);
    let i = |v: isize| Literal::isize_unsuffixed(v);
    let (seq, volume) = match net.input {
        Shape::Image { seq, depth, .. } => (seq, depth.is_some()),
        Shape::Flat { .. } => (false, false),
    };
    let rows = fields(net).into_iter().filter_map(|(name, field)| {
        let f = field?;
        let ([fd, sh, sw], [jd, jh, jw]) = (f.size.map(n), f.jump.map(n));
        let [td, th, tw] = f.start.map(i);
        let mut row = quote!(F::new(#name, [#sh, #sw], [#jh, #jw], [#th, #tw]));
        if volume {
            row = quote!(#row.with_frames(#fd, #jd, #td));
        }
        if seq {
            row = quote!(#row.on_sequence());
        }
        Some(row)
    });
    quote! {
        /// Each layer's receptive field in input pixels, one per row of
        /// `summary()` and in its order (empty for a flat input): the full
        /// name, the pixels one output position sees (`size`, `[rows, cols]`),
        /// how far apart neighbouring positions' fields are (`jump`, the
        /// effective stride), and the first row and column of position
        /// `(0, 0)`'s field (`start`, negative into the padding); on a
        /// volume the same along the frames (`frames`), on a sequence one
        /// row (`sequence`). Layers on a flat vector see the whole input.
        pub const RECEPTIVE_FIELDS: &'static [#rt::net::ReceptiveField] = {
            use #rt::net::ReceptiveField as F;
            &[#(#rows),*]
        };

        /// The receptive field of the layer with this full name (`"conv2"`,
        /// `"layer3.1.conv2"`), from [`Self::RECEPTIVE_FIELDS`]; its
        /// `patch(i, j, ..)` is the input rectangle that output position
        /// `(i, j)` sees.
        pub const fn receptive_field(name: &str) -> ::core::option::Option<&'static #rt::net::ReceptiveField> {
            #rt::net::ReceptiveField::find(Self::RECEPTIVE_FIELDS, name)
        }
    }
}
