//! Seeded epoch orders and the step from a split plus indices to Burn tensors.
//!
//! The order of epoch `e` is `HostRng::derive(seed, e).permutation(len)` (or
//! `0..len` without shuffling), cut into consecutive batches. It depends only
//! on `(seed, epoch, len)`, so a resumed run replays the same batches without
//! storing them. Tensors are assembled on the host in `f32` and uploaded once
//! per batch with `Tensor::from_data`.

use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, HostRng, Validate};

use crate::binarize::Binarization;
use crate::error::DataError;
use crate::mnist::MnistSplit;

/// How one pass over a dataset is cut into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Number of examples.
    pub len: usize,
    /// Examples per batch (the last batch may be smaller unless `drop_last`).
    pub batch_size: usize,
    /// Whether each epoch visits the examples in a fresh seeded order.
    pub shuffle: bool,
    /// Seed of the epoch permutations.
    pub seed: u64,
    /// Whether a final batch smaller than `batch_size` is left out.
    pub drop_last: bool,
}

impl Validate for BatchPlan {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("BatchPlan", "batch_size", self.batch_size)
    }
}

impl BatchPlan {
    /// A plan over `len` examples.
    ///
    /// # Errors
    /// [`DataError::Config`] naming `BatchPlan.batch_size` if `batch_size == 0`.
    pub fn new(
        len: usize,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        drop_last: bool,
    ) -> Result<BatchPlan, DataError> {
        let plan = BatchPlan {
            len,
            batch_size,
            shuffle,
            seed,
            drop_last,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// Number of batches in every epoch.
    pub fn batches_per_epoch(&self) -> usize {
        if self.drop_last {
            self.len / self.batch_size
        } else {
            self.len.div_ceil(self.batch_size)
        }
    }

    /// The index batches of epoch `epoch`: a permutation of `0..len` from
    /// `HostRng::derive(seed, epoch)` (or `0..len` in order without
    /// shuffling), cut into consecutive chunks of `batch_size`.
    pub fn epoch(&self, epoch: u64) -> Vec<Vec<usize>> {
        let order = if self.shuffle {
            HostRng::derive(self.seed, epoch).permutation(self.len)
        } else {
            (0..self.len).collect()
        };
        order
            .chunks(self.batch_size)
            .filter(|c| !self.drop_last || c.len() == self.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }
}

/// A [`BatchPlan`] as a training task walks it: the current epoch's index batches kept (drawn
/// once per epoch, not once per batch), optionally only the first `n / batch_size` batches of
/// every epoch (a shorter epoch drawn anew from each epoch's permutation).
#[derive(Debug, Clone)]
pub struct EpochBatches {
    plan: BatchPlan,
    batches_per_epoch: usize,
    current: Option<(usize, Vec<Vec<usize>>)>,
}

impl EpochBatches {
    /// Every batch of `plan`, every epoch.
    pub fn new(plan: BatchPlan) -> Self {
        Self {
            batches_per_epoch: plan.batches_per_epoch(),
            plan,
            current: None,
        }
    }

    /// Visit only `n` items per epoch (`n` capped at the plan's length).
    ///
    /// # Errors
    /// A message for the caller's flag when `n` is smaller than one batch.
    pub fn limit_to(&mut self, n: usize) -> Result<(), String> {
        let n = n.min(self.plan.len);
        if n < self.plan.batch_size {
            return Err(format!(
                "must be at least the batch size ({}), got {n}",
                self.plan.batch_size
            ));
        }
        self.batches_per_epoch = n / self.plan.batch_size;
        Ok(())
    }

    /// Batches per epoch (after [`limit_to`](Self::limit_to)).
    pub fn batches_per_epoch(&self) -> usize {
        self.batches_per_epoch
    }

    /// The items of batch `index` of `epoch`.
    pub fn indices(&mut self, epoch: usize, index: usize) -> Vec<usize> {
        if self.current.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.current = Some((epoch, self.plan.epoch(epoch as u64)));
        }
        self.current.as_ref().expect("just set").1[index].clone()
    }
}

/// The batches of one epoch; shorthand for `BatchPlan::new(..)?.epoch(epoch)`.
///
/// # Errors
/// [`DataError::Config`] naming `BatchPlan.batch_size` if `batch_size == 0`.
pub fn epoch_batches(
    len: usize,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    epoch: u64,
    drop_last: bool,
) -> Result<Vec<Vec<usize>>, DataError> {
    Ok(BatchPlan::new(len, batch_size, shuffle, seed, drop_last)?.epoch(epoch))
}

/// The model inputs of images `idx` of `split` as a host `f32` vector of
/// `idx.len() * rows * cols` values, image-major (see [`Binarization`]).
///
/// # Panics
/// If an index is `>= split.len()`, like slice indexing.
pub fn images_host(
    split: &MnistSplit,
    idx: &[usize],
    bin: Binarization,
    rng: &mut HostRng,
) -> Vec<f32> {
    let d = split.pixels();
    let mut out = vec![0f32; idx.len() * d];
    for (chunk, &i) in out.chunks_exact_mut(d.max(1)).zip(idx) {
        bin.apply(split.image(i), i, rng, chunk);
    }
    out
}

/// Images `idx` of `split` as a `[B, rows * cols]` float tensor on `device`
/// (`B = idx.len()`); `rng` is drawn from only for [`Binarization::Dynamic`].
///
/// # Panics
/// If an index is `>= split.len()`, like slice indexing.
pub fn images_tensor(
    split: &MnistSplit,
    idx: &[usize],
    bin: Binarization,
    rng: &mut HostRng,
    device: &Device,
) -> Tensor<2> {
    let data = images_host(split, idx, bin, rng);
    Tensor::<2>::from_data(TensorData::new(data, [idx.len(), split.pixels()]), device)
}

/// Images `idx` of `split` as a `[B, 1, rows, cols]` float tensor, for
/// convolutional models; same values as [`images_tensor`].
///
/// # Panics
/// If an index is `>= split.len()`, like slice indexing.
pub fn images_tensor_4d(
    split: &MnistSplit,
    idx: &[usize],
    bin: Binarization,
    rng: &mut HostRng,
    device: &Device,
) -> Tensor<4> {
    let data = images_host(split, idx, bin, rng);
    Tensor::<4>::from_data(
        TensorData::new(data, [idx.len(), 1, split.rows, split.cols]),
        device,
    )
}

/// Labels of images `idx` of `split` as a `[B]` integer tensor on `device`.
///
/// # Panics
/// If an index is `>= split.len()`, like slice indexing.
pub fn labels_tensor(split: &MnistSplit, idx: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = idx.iter().map(|&i| i64::from(split.labels[i])).collect();
    Tensor::<1, Int>::from_data(TensorData::new(labels, [idx.len()]), device)
}
