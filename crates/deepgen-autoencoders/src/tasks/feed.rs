//! The data side shared by the VAE tasks ([`VaeTask`](crate::tasks::vae_task::VaeTask),
//! [`CvaeTask`](crate::tasks::cvae_task::CvaeTask)): seeded, shuffled training mini-batches of an
//! MNIST-like split, and the test split in chunks under one fixed binarisation.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_data::{BatchPlan, Binarization, DataError, MnistSplit, images_host, images_tensor};
use deepgen_tensor::HostRng;

/// Seed of the fixed binarisation of the test split, so the test ELBO of every epoch (and of
/// every run) is measured on the same bits.
pub const TEST_BINARIZATION_SEED: u64 = 0x7E57;

/// Training batches and test chunks of a train/test split pair.
///
/// Epoch `e`'s batch order is a pure function of `(seed, e)`, so a resumed run sees the same
/// batches as an uninterrupted one. Test inputs are grey levels when training uses grey
/// levels, otherwise one fixed binarisation ([`TEST_BINARIZATION_SEED`]).
pub struct ImageFeed {
    /// The training split.
    pub train: MnistSplit,
    /// The test split.
    pub test: MnistSplit,
    /// How training images are binarised.
    pub binarization: Binarization,
    plan: BatchPlan,
    epoch: Option<(usize, Vec<Vec<usize>>)>,
}

impl ImageFeed {
    /// Shuffled mini-batches of `batch_size` (last partial batch dropped).
    ///
    /// # Errors
    /// [`DataError::InvalidArgument`] naming `batch_size` when it is 0.
    pub fn new(
        train: MnistSplit,
        test: MnistSplit,
        batch_size: usize,
        binarization: Binarization,
        seed: u64,
    ) -> Result<Self, DataError> {
        let plan = BatchPlan::new(train.len(), batch_size, true, seed, true)?;
        Ok(Self {
            train,
            test,
            binarization,
            plan,
            epoch: None,
        })
    }

    /// Mini-batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.plan.batches_per_epoch()
    }

    /// Training-split indices of batch `index` of `epoch`.
    pub fn batch(&mut self, epoch: usize, index: usize) -> Vec<usize> {
        if self.epoch.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.epoch = Some((epoch, self.plan.epoch(epoch as u64)));
        }
        self.epoch.as_ref().expect("just set").1[index].clone()
    }

    /// Batch `index` of `epoch` as model inputs: `(training indices, [B, D] inputs)`, binarised
    /// as configured with draws from `rng`.
    pub fn train_inputs(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> (Vec<usize>, Tensor<2>) {
        let idx = self.batch(epoch, index);
        let x = images_tensor(&self.train, &idx, self.binarization, rng, device);
        (idx, x)
    }

    /// How test inputs are made: grey levels if training uses grey levels, otherwise the fixed
    /// binarisation with [`TEST_BINARIZATION_SEED`].
    pub fn test_binarization(&self) -> Binarization {
        match self.binarization {
            Binarization::None => Binarization::None,
            _ => Binarization::Static {
                seed: TEST_BINARIZATION_SEED,
            },
        }
    }

    /// The first `n` test images (capped at the split size) as model inputs, in chunks of
    /// `chunk` rows: `(test indices, [rows, D] inputs)`.
    pub fn test_chunks<'a>(
        &'a self,
        n: usize,
        chunk: usize,
        device: &'a Device,
    ) -> impl Iterator<Item = (Vec<usize>, Tensor<2>)> + 'a {
        let n = n.min(self.test.len());
        let (d, bin) = (self.test.pixels(), self.test_binarization());
        // The fixed binarisation needs no randomness: the generator is never drawn from.
        let mut unused = HostRng::seed_from_u64(0);
        (0..n).step_by(chunk.max(1)).map(move |start| {
            let idx: Vec<usize> = (start..(start + chunk.max(1)).min(n)).collect();
            let x = images_host(&self.test, &idx, bin, &mut unused);
            let x = Tensor::<2>::from_data(TensorData::new(x, [idx.len(), d]), device);
            (idx, x)
        })
    }

    /// The first `n` test images as one `[n, D]` tensor.
    pub fn test_inputs(&self, n: usize, device: &Device) -> Tensor<2> {
        match self.test_chunks(n, n.max(1), device).next() {
            Some((_, x)) => x,
            None => Tensor::from_data(
                TensorData::new(Vec::<f32>::new(), [0, self.test.pixels()]),
                device,
            ),
        }
    }
}
