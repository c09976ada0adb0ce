//! The [`kernel`](super::kernel) convolutions (plain and transposed) as a Burn backend extension:
//! implemented for `Flex` (forward) and `Autodiff<Flex>` (forward plus a hand-written backward
//! step that computes the input, weight and bias gradients).
//!
//! Only [`super::conv2d`] and [`super::conv_transpose2d`] call this, and only for `f32` tensors on
//! a flex device with `groups = 1`; every other case goes to Burn's own `conv2d`, so no other backend is routed here.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::DType;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

use super::kernel::{self, Geometry};
use crate::flex_kernels::{contiguous, flex_tensor, values};

/// The deepgen CPU convolution as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuConv2d: Backend {
    /// `x ⋆ weight + bias`, NCHW, `groups = 1`.
    fn deepgen_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// `x ⋆ weight`, NCHW, `groups = 1`.
    fn deepgen_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// The transposed convolution of `x` with `weight [C_in, C_out, kh, kw]`, plus `bias`.
    fn deepgen_conv_transpose2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self>;

    /// The transposed convolution of `x` with `weight [C_in, C_out, kh, kw]`.
    fn deepgen_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self>;
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    [s[0], s[1], s[2], s[3]]
}

/// Which operation a tensor pair goes through: a convolution or a transposed convolution.
#[derive(Clone, Debug)]
enum Op {
    Conv(ConvOptions<2>),
    Transpose(ConvTransposeOptions<2>),
}

impl Op {
    /// The geometry (of the convolution itself, or of the one a transposed convolution is the
    /// input gradient of) for input `x` and `weight`.
    fn geometry(&self, x: [usize; 4], weight: [usize; 4]) -> Geometry {
        match self {
            Op::Conv(options) => Geometry::new(x, weight, options),
            Op::Transpose(options) => Geometry::transposed(x, weight, options)
                .expect("deepgen conv_transpose2d: the caller checks the geometry"),
        }
    }
}

fn flex_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    op: &Op,
) -> FlexTensor {
    let (x, weight) = (contiguous(x), contiguous(weight));
    let bias = bias.map(contiguous);
    let g = op.geometry(dims4(&x), dims4(&weight));
    let (xs, ws, bs) = (values(&x), values(&weight), bias.as_ref().map(values));
    match op {
        Op::Conv(_) => flex_tensor(
            kernel::forward(&g, xs, ws, bs),
            [g.batch, g.c_out, g.oh, g.ow],
        ),
        Op::Transpose(_) => flex_tensor(
            kernel::transpose_forward(&g, xs, ws, bs),
            [g.batch, g.c_in, g.h, g.w],
        ),
    }
}

impl CpuConv2d for Flex {
    fn deepgen_conv2d_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        flex_forward(x, weight, Some(bias), &Op::Conv(options))
    }

    fn deepgen_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        flex_forward(x, weight, None, &Op::Conv(options))
    }

    fn deepgen_conv_transpose2d_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        flex_forward(x, weight, Some(bias), &Op::Transpose(options))
    }

    fn deepgen_conv_transpose2d(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        flex_forward(x, weight, None, &Op::Transpose(options))
    }
}

/// The backward step: `x` and `weight` are checkpointed, the bias is not needed.
#[derive(Debug)]
struct Conv2dBackward;

type State = (NodeId, NodeId, Op);

/// `(start, image stride)` of a 4-D `f32` tensor whose images are each contiguous (row-major
/// over `[C, H, W]`) but not adjacent — a channel slice of a larger tensor — or `None`.
fn image_strided(t: &FlexTensor) -> Option<(usize, usize)> {
    let layout = t.layout();
    let dims: &[usize] = layout.shape();
    let strides = layout.strides();
    if t.dtype() != DType::F32 || dims.len() != 4 || t.is_contiguous() {
        return None;
    }
    let inner = (dims[2] * dims[3]) as isize;
    let image = dims[1] * dims[2] * dims[3];
    let images_apart = strides[0] >= 0 && strides[0] as usize >= image;
    let rows = strides[3] == 1 && strides[2] == dims[3] as isize && strides[1] == inner;
    (rows && images_apart).then(|| (layout.start_offset(), strides[0] as usize))
}

/// Computes the gradients the graph asks for (`parents`: x, weight, bias) and registers them.
fn run_backward<const N: usize>(
    ops: Ops<State, N>,
    grads: &mut Gradients,
    checkpointer: &mut Checkpointer,
) {
    let dy = grads.consume::<Flex>(&ops.node);
    let (x_id, w_id, op) = ops.state;
    // A convolution's output gradient that is a channel slice (from `cat`'s backward) is read
    // in place, images `stride` apart; anything else is made contiguous.
    let in_place = match op {
        Op::Conv(_) => image_strided(&dy),
        Op::Transpose(_) => None,
    };
    let dy = if in_place.is_some() {
        dy
    } else {
        contiguous(dy)
    };
    let x = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(x_id));
    let weight = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(w_id));
    let (x_dims, w_dims) = (dims4(&x), dims4(&weight));
    let g = op.geometry(x_dims, w_dims);
    let parents = ops.parents;
    let want = [0, 1, 2].map(|i| parents.get(i).is_some_and(Option::is_some));
    let (xs, ws) = (values(&x), values(&weight));
    let (dys, dy_stride) = match in_place {
        Some((start, stride)) => (&dy.storage::<f32>()[start..], stride),
        None => (values(&dy), g.c_out * g.n()),
    };
    let (out, channels_out) = match op {
        Op::Conv(_) => (
            kernel::backward_strided(&g, xs, ws, dys, dy_stride, want),
            g.c_out,
        ),
        Op::Transpose(_) => (kernel::transpose_backward(&g, xs, ws, dys, want), g.c_in),
    };
    let shapes = [x_dims.to_vec(), w_dims.to_vec(), vec![channels_out]];
    let results = [out.x, out.weight, out.bias];
    for ((parent, grad), shape) in parents.into_iter().zip(results).zip(shapes) {
        if let (Some(node), Some(grad)) = (parent, grad) {
            grads.register::<Flex>(node.id, flex_tensor(grad, shape));
        }
    }
}

impl Backward<Flex, 3> for Conv2dBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        run_backward(ops, grads, checkpointer);
    }
}

impl Backward<Flex, 2> for Conv2dBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        run_backward(ops, grads, checkpointer);
    }
}

/// The autodiff step of one operation: record the backward step (x and the weight checkpointed)
/// when any input is tracked, and run the flex forward.
fn autodiff_forward<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    bias: Option<FloatTensor<Autodiff<Flex, C>>>,
    op: Op,
) -> FloatTensor<Autodiff<Flex, C>> {
    match bias {
        Some(bias) => match <Conv2dBackward as Backward<Flex, 3>>::prepare::<C>(
            Conv2dBackward,
            [x.node(), weight.node(), bias.node()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), op.clone());
                let y = flex_forward(
                    x.into_primitive(),
                    weight.into_primitive(),
                    Some(bias.into_primitive()),
                    &op,
                );
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                weight.into_primitive(),
                Some(bias.into_primitive()),
                &op,
            )),
        },
        None => match <Conv2dBackward as Backward<Flex, 2>>::prepare::<C>(
            Conv2dBackward,
            [x.node(), weight.node()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), op.clone());
                let y = flex_forward(x.into_primitive(), weight.into_primitive(), None, &op);
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                weight.into_primitive(),
                None,
                &op,
            )),
        },
    }
}

impl<C: CheckpointStrategy> CpuConv2d for Autodiff<Flex, C> {
    fn deepgen_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        autodiff_forward::<C>(x, weight, Some(bias), Op::Conv(options))
    }

    fn deepgen_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        autodiff_forward::<C>(x, weight, None, Op::Conv(options))
    }

    fn deepgen_conv_transpose2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        autodiff_forward::<C>(x, weight, Some(bias), Op::Transpose(options))
    }

    fn deepgen_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        autodiff_forward::<C>(x, weight, None, Op::Transpose(options))
    }
}
