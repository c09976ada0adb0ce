//! Train a gated PixelCNN (van den Oord et al. 2016) as a density model of statically
//! binarised MNIST: 28 × 28 maps of two symbols, ancestral samples with temperature.
//!
//! ```sh
//! cargo run --release --example pixelcnn_mnist                 # 2 CPU cores → runs/pixelcnn_mnist/
//! cargo run --release --example pixelcnn_mnist -- --resume --epochs 6   # train further
//! cargo run --release --example pixelcnn_mnist -- --class-conditional --class 7 --temperature 0.9
//! # the paper-sized model on a GPU:
//! cargo run --release --features wgpu --example pixelcnn_mnist -- --device wgpu \
//!     --channels 64 --layers 8 --kernel-size 7 --head-channels 256 --train-images 60000 \
//!     --epochs 20 --out runs/pixelcnn_mnist_gpu
//! ```
//!
//! Model: `deepgen_vq::pixelcnn::GatedPixelCnn` with two symbols (`--channels`, `--layers`,
//! `--kernel-size`, `--head-channels`, `--class-conditional`); Adam at 1e-3. Data: the training
//! split binarised once with seed 0, the test split with seed 0x7E57 (not the Larochelle &
//! Murray set behind the paper's 81.30 nats). Defaults are sized for 2 CPU cores
//! (`--train-images 4000` per epoch, about 10 images/s, 3 epochs, 16 samples of 784 passes each).
//!
//! Every epoch logs `train_nll`, `test_nll` (nats per image) and `test_bits_per_symbol` in
//! `metrics.jsonl` and writes `samples.png`/`samples.npy` (+ `labels.npy` when
//! class-conditional); after training `eval.json` holds `test_nll`, `test_bpd` and the budget
//! (epochs, wall seconds, parameters). See `deepgen_vq::tasks::pixelcnn_mnist`.

use clap::Parser;
use deepgen::train::{CommonArgs, run_main};
use deepgen::vq::tasks::pixelcnn_mnist::{PixelCnnMnistArgs, run};

/// Train a gated PixelCNN on binarised MNIST.
#[derive(Parser, Debug)]
#[command(name = "pixelcnn_mnist", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    pixelcnn: PixelCnnMnistArgs,
}

fn main() {
    let args = Args::parse();
    run_main(|| run(&args.common, &args.pixelcnn));
}
