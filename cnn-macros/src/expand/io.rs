//! The table of parameter tensors that the generated network exposes as
//! `TENSORS` (name, layer, shape, offset, initialiser): `new` initialises
//! from it, `save` and `load` walk it, and later features (freezing layers,
//! transfer learning) look tensors up in it by name.

use proc_macro2::TokenStream;
use quote::quote;

use super::layout::{Init, Params};
use super::rt;

/// `&[TensorInfo { .. }, ..]`.
pub fn tensor_table(params: &Params) -> TokenStream {
    let rt = rt();
    let rows = params.tensors.iter().map(|t| {
        let (name, layer, shape) = (&t.name, &t.layer, &t.shape);
        let (offset, len, trainable) = (t.offset, t.len(), t.trainable);
        let init = match t.init {
            Init::HeNormal { fan_in } => quote!(#rt::net::Init::HeNormal { fan_in: #fan_in }),
            Init::GlorotUniform { fan_in, fan_out } => {
                quote!(#rt::net::Init::GlorotUniform { fan_in: #fan_in, fan_out: #fan_out })
            }
            Init::Zeros => quote!(#rt::net::Init::Zeros),
            Init::Ones => quote!(#rt::net::Init::Ones),
            // A non-finite init is a compile error already (the struct is
            // still emitted, and a literal cannot be infinite).
            Init::Constant { bits } if !f32::from_bits(bits).is_finite() => {
                quote!(#rt::net::Init::Zeros)
            }
            Init::Constant { bits } => {
                let value = proc_macro2::Literal::f32_suffixed(f32::from_bits(bits));
                quote!(#rt::net::Init::Constant { value: #value })
            }
        };
        quote! {
            #rt::net::TensorInfo {
                name: #name, layer: #layer, shape: &[#(#shape),*],
                offset: #offset, len: #len, trainable: #trainable, init: #init,
            }
        }
    });
    quote!(&[#(#rows),*])
}
