//! ConvNeXt-Tiny (Liu et al. 2022) as torchvision builds it: a 4x4
//! stride-4 "patchify" stem, four stages of 3, 3, 9 and 3 blocks at 96,
//! 192, 384 and 768 channels with a layer norm and a 2x2 stride-2
//! convolution between them, and a head of global pooling, layer norm and
//! one dense layer. A block (torchvision's `CNBlock`) is a depthwise 7x7
//! convolution, a layer norm over the channels, a 4x expansion, exact
//! GELU and a projection back, scaled per channel by `layer_scale` and
//! added to its input.
//!
//! Names are torchvision's (`features.3.2.block.5.weight`,
//! `features.1.0.layer_scale`). Activations here are NHWC already, so
//! torchvision's two `Permute`s in a block (`block.1`, `block.6`) are the
//! identity and left out, and its `Linear`s on the channels-last map
//! (`block.3`, `block.5`) are 1x1 convolutions (`load_pytorch` takes their
//! `[out, in]` weights); its `LayerNorm2d` is the DSL's `LayerNorm`, which
//! normalises each position over its channels. `layer_scale` is a `Scale`
//! layer, whose one tensor is named after the layer (torchvision's bare
//! `nn.Parameter`, `[c, 1, 1]` there, `[c]` here). Stochastic depth,
//! which holds no parameters and which inference skips, is left out:
//! training runs every block.

use cnn_macros::network;

network! {
    /// A ConvNeXt block on `dim` channels: `block.0` (depthwise 7x7),
    /// `block.2` (layer norm), `block.3` (expansion to `4 * dim`),
    /// `block.4` (GELU), `block.5` (projection), then `layer_scale`, added
    /// to the input. The indices are torchvision's, `Permute`s counted.
    pub block CNBlock(dim) = [
        Residual { body: [
            block: Sequential { layers: [
                "0": DepthwiseConv2d { kernel: 7, padding: 3 },
                "2": LayerNorm { epsilon: 0.000001 },
                "3": Conv2d { filters: 4 * dim, kernel: 1 },
                "4": Gelu,
                "5": Conv2d { filters: dim, kernel: 1 },
            ] },
            layer_scale: Scale { init: 0.000001 },
        ] },
    ];

    /// torchvision's `convnext_tiny`: 28,589,128 parameters at 1,000
    /// classes. Between stages (`features.2`, `.4`, `.6`): layer norm, then
    /// a 2x2 stride-2 convolution.
    pub block ConvNextTiny(classes: 1000) = [
        features: Sequential { layers: [
            Sequential { layers: [
                Conv2d { filters: 96, kernel: 4, stride: 4 },
                LayerNorm { epsilon: 0.000001 },
            ] },
            Sequential { layers: [CNBlock { dim: 96 }, CNBlock { dim: 96 }, CNBlock { dim: 96 }] },
            Sequential { layers: [LayerNorm { epsilon: 0.000001 }, Conv2d { filters: 192, kernel: 2, stride: 2 }] },
            Sequential { layers: [CNBlock { dim: 192 }, CNBlock { dim: 192 }, CNBlock { dim: 192 }] },
            Sequential { layers: [LayerNorm { epsilon: 0.000001 }, Conv2d { filters: 384, kernel: 2, stride: 2 }] },
            Sequential { layers: [
                CNBlock { dim: 384 }, CNBlock { dim: 384 }, CNBlock { dim: 384 },
                CNBlock { dim: 384 }, CNBlock { dim: 384 }, CNBlock { dim: 384 },
                CNBlock { dim: 384 }, CNBlock { dim: 384 }, CNBlock { dim: 384 },
            ] },
            Sequential { layers: [LayerNorm { epsilon: 0.000001 }, Conv2d { filters: 768, kernel: 2, stride: 2 }] },
            Sequential { layers: [CNBlock { dim: 768 }, CNBlock { dim: 768 }, CNBlock { dim: 768 }] },
        ] },
        GlobalAvgPool,
        classifier: Sequential { layers: [
            LayerNorm { epsilon: 0.000001 },
            Flatten,
            Dense { units: classes },
        ] },
        Softmax,
    ];
}
