//! Training a [`GatedPixelCnn`] on maps of symbols through `deepgen-train`'s loop: the prior
//! over a VQ-VAE's code maps, or the density model of binarised MNIST (two symbols).
//!
//! - data: [`SymbolMaps`] — `N` maps of `H × W` symbols in `0..K`, optional labels (class
//!   conditioning) and optional float conditioning maps `[N, C, H, W]` (spatial conditioning,
//!   e.g. VQ-VAE-2's top codes for the bottom prior);
//! - batches: a seeded shuffle per epoch (`deepgen_data::BatchPlan`, last partial batch
//!   dropped), optionally only the first `n / B` batches of each epoch
//!   ([`SymbolMapTask::with_train_maps`]);
//! - loss: the mean over the batch of `−ln p(x | class, cond)` (nats per map); metrics `nll`
//!   (the same) and `bits_per_symbol` (`nll / (H·W·ln 2)`);
//! - evaluation: `test_nll` (nats per map over the test maps, or the first
//!   [`with_test_maps`](SymbolMapTask::with_test_maps) of them), `test_loss` (the same) and
//!   `test_bits_per_symbol`;
//! - samples: ancestral sampling at [`with_temperature`](SymbolMapTask::with_temperature) from
//!   `Stream::Samples` (the same noise every epoch); class-conditional models draw the labels
//!   `i % num_classes`, spatially conditioned ones use the conditioning maps of the first `n`
//!   test maps; then a [`MapRenderer`] turns the maps into images (default: `symbol / (K − 1)`
//!   as grey levels).

use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_data::{BatchPlan, EpochBatches};
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::{ImageSamples, Samples, StepContext, StepOutput, Task, TrainError};

use crate::VqError;
use crate::pixelcnn::GatedPixelCnn;

/// `N` maps of `H × W` symbols, optional labels (one per map) and optional float conditioning
/// maps `[N, C, H, W]`.
#[derive(Debug, Clone)]
pub struct SymbolMaps {
    /// Symbols, row-major `[N, H, W]`.
    pub symbols: Vec<u32>,
    /// `N`, the number of maps.
    pub len: usize,
    /// `H`.
    pub height: usize,
    /// `W`.
    pub width: usize,
    /// One label per map (class conditioning), if any.
    pub labels: Option<Vec<u8>>,
    /// Conditioning maps, row-major `[N, C, H, W]`, if any.
    pub cond: Option<Vec<f32>>,
    /// `C` of the conditioning maps (0 without them).
    pub cond_channels: usize,
}

impl SymbolMaps {
    /// Checks that the lengths fit `len` maps of `height × width` (symbols `< K` are checked by
    /// [`SymbolMapTask::new`], which knows `K`).
    ///
    /// # Errors
    /// [`VqError::Mismatch`] when `symbols`, `labels` or `cond` have the wrong length;
    /// [`VqError::Task`] for an empty map size, or `cond` given without channels (or channels
    /// without `cond`).
    pub fn new(
        symbols: Vec<u32>,
        len: usize,
        height: usize,
        width: usize,
        labels: Option<Vec<u8>>,
        cond: Option<Vec<f32>>,
        cond_channels: usize,
    ) -> Result<Self, VqError> {
        if height == 0 || width == 0 {
            return Err(VqError::Task {
                name: "symbol maps",
                reason: format!("height and width must be at least 1, got {height} × {width}"),
            });
        }
        let hw = height * width;
        if symbols.len() != len * hw {
            return Err(VqError::Mismatch {
                what: "symbols: values vs maps × height × width",
                left: symbols.len(),
                right: len * hw,
            });
        }
        if let Some(l) = &labels
            && l.len() != len
        {
            return Err(VqError::Mismatch {
                what: "labels vs maps",
                left: l.len(),
                right: len,
            });
        }
        match (&cond, cond_channels) {
            (Some(_), 0) => {
                return Err(VqError::Task {
                    name: "cond_channels",
                    reason: "conditioning maps were given with 0 channels".into(),
                });
            }
            (None, c) if c > 0 => {
                return Err(VqError::Task {
                    name: "cond",
                    reason: format!("{c} conditioning channels were named but no maps given"),
                });
            }
            (Some(c), cc) if c.len() != len * cc * hw => {
                return Err(VqError::Mismatch {
                    what: "conditioning values vs maps × channels × height × width",
                    left: c.len(),
                    right: len * cc * hw,
                });
            }
            _ => {}
        }
        Ok(Self {
            symbols,
            len,
            height,
            width,
            labels,
            cond,
            cond_channels,
        })
    }

    /// `[H, W]`.
    pub fn size(&self) -> [usize; 2] {
        [self.height, self.width]
    }

    /// Symbols of maps `idx` as `[B, H, W]`.
    ///
    /// # Panics
    /// If an index is `≥ len`.
    pub fn symbols_tensor(&self, idx: &[usize], device: &Device) -> Tensor<3, Int> {
        let hw = self.height * self.width;
        let data: Vec<i64> = idx
            .iter()
            .flat_map(|&i| self.symbols[i * hw..(i + 1) * hw].iter().map(|&s| s as i64))
            .collect();
        Tensor::from_data(
            TensorData::new(data, [idx.len(), self.height, self.width]),
            device,
        )
    }

    /// Labels of maps `idx` as `[B]`, if the maps have labels.
    pub fn labels_tensor(&self, idx: &[usize], device: &Device) -> Option<Tensor<1, Int>> {
        self.labels.as_ref().map(|l| {
            let data: Vec<i64> = idx.iter().map(|&i| i64::from(l[i])).collect();
            Tensor::from_data(TensorData::new(data, [idx.len()]), device)
        })
    }

    /// Conditioning maps of maps `idx` as `[B, C, H, W]`, if the maps have them.
    pub fn cond_tensor(&self, idx: &[usize], device: &Device) -> Option<Tensor<4>> {
        let per = self.cond_channels * self.height * self.width;
        self.cond.as_ref().map(|c| {
            let data: Vec<f32> = idx
                .iter()
                .flat_map(|&i| c[i * per..(i + 1) * per].iter().copied())
                .collect();
            Tensor::from_data(
                TensorData::new(
                    data,
                    [idx.len(), self.cond_channels, self.height, self.width],
                ),
                device,
            )
        })
    }

    /// The first map (index) holding a symbol `≥ k`, with that symbol.
    fn first_out_of_range(&self, k: usize) -> Option<(usize, u32)> {
        let hw = (self.height * self.width).max(1);
        self.symbols
            .iter()
            .position(|&s| s as usize >= k)
            .map(|p| (p / hw, self.symbols[p]))
    }

    /// The largest label plus one (0 without labels).
    fn label_span(&self) -> usize {
        self.labels
            .as_ref()
            .and_then(|l| l.iter().max())
            .map_or(0, |&m| usize::from(m) + 1)
    }
}

/// Turns sampled maps `[n, H, W]` (and the labels used, if any) into images for
/// `samples.png` / `samples.npy`.
pub type MapRenderer =
    Box<dyn Fn(Tensor<3, Int>, Option<Vec<i64>>, &Device) -> Result<Samples, TrainError>>;

/// The default [`MapRenderer`] of an alphabet of `k` symbols: `symbol / (K − 1)` as grey
/// images `[n, 1, H, W]`.
pub fn grey_renderer(k: usize) -> MapRenderer {
    let scale = 1.0 / (k.max(2) - 1) as f32;
    Box::new(move |maps, labels, _device| {
        let [_, h, w] = maps.dims();
        let data: Vec<f32> = maps
            .into_data()
            .try_to_vec_as::<i64>()
            .map_err(|e| TrainError::config("samples", format!("cannot read maps: {e:?}")))?
            .into_iter()
            .map(|s| s as f32 * scale)
            .collect();
        let mut grid = ImageSamples::square_grid(data, [1, h, w]);
        grid.labels = labels;
        Ok(grid.into())
    })
}

/// One training batch of symbol maps.
#[derive(Debug, Clone)]
pub struct SymbolBatch {
    /// `[B, H, W]` symbols.
    pub x: Tensor<3, Int>,
    /// `[B]` labels, if class-conditional.
    pub class: Option<Tensor<1, Int>>,
    /// `[B, C, H, W]` conditioning maps, if spatially conditioned.
    pub cond: Option<Tensor<4>>,
}

/// Maps per evaluation chunk without [`SymbolMapTask::with_eval_batch`].
pub const DEFAULT_EVAL_BATCH: usize = 100;

/// A [`Task`] training a [`GatedPixelCnn`] on [`SymbolMaps`] (see the [module docs](self)).
pub struct SymbolMapTask {
    train: SymbolMaps,
    test: SymbolMaps,
    num_symbols: usize,
    seed: u64,
    batches: EpochBatches,
    renderer: MapRenderer,
    temperature: f64,
    eval_batch: usize,
    test_maps: usize,
    sample_class: Option<usize>,
}

impl std::fmt::Debug for SymbolMapTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymbolMapTask")
            .field("train_maps", &self.train.len)
            .field("test_maps", &self.test_maps)
            .field("size", &self.train.size())
            .field("num_symbols", &self.num_symbols)
            .field("temperature", &self.temperature)
            .finish_non_exhaustive()
    }
}

impl SymbolMapTask {
    /// A task over `train` and `test` maps of an alphabet of `num_symbols` symbols, with
    /// shuffled batches of `batch_size` (seeded by `seed`; the last partial batch is dropped).
    ///
    /// # Errors
    /// [`VqError::Task`] when `num_symbols < 2`, `batch_size` is 0 or larger than the training
    /// set, the test set is empty, a symbol is `≥ num_symbols`, or one split has labels or
    /// conditioning maps and the other not; [`VqError::Mismatch`] when the splits' map sizes
    /// or conditioning channels differ.
    pub fn new(
        train: SymbolMaps,
        test: SymbolMaps,
        num_symbols: usize,
        batch_size: usize,
        seed: u64,
    ) -> Result<Self, VqError> {
        if num_symbols < 2 {
            return Err(VqError::Task {
                name: "num_symbols",
                reason: format!("must be at least 2, got {num_symbols}"),
            });
        }
        if batch_size == 0 || batch_size > train.len {
            return Err(VqError::Task {
                name: "batch_size",
                reason: format!(
                    "must be in 1..={} (the training maps), got {batch_size}",
                    train.len
                ),
            });
        }
        if test.len == 0 {
            return Err(VqError::Task {
                name: "test maps",
                reason: "the test set is empty".into(),
            });
        }
        for (what, l, r) in [
            ("map height: train vs test", train.height, test.height),
            ("map width: train vs test", train.width, test.width),
            (
                "conditioning channels: train vs test",
                train.cond_channels,
                test.cond_channels,
            ),
        ] {
            if l != r {
                return Err(VqError::Mismatch {
                    what,
                    left: l,
                    right: r,
                });
            }
        }
        if train.labels.is_some() != test.labels.is_some() {
            return Err(VqError::Task {
                name: "labels",
                reason: "one split has labels and the other not".into(),
            });
        }
        for (name, maps) in [("train", &train), ("test", &test)] {
            if let Some((i, s)) = maps.first_out_of_range(num_symbols) {
                return Err(VqError::Task {
                    name: "symbols",
                    reason: format!(
                        "{name} map {i} holds symbol {s}, outside the alphabet 0..{num_symbols}"
                    ),
                });
            }
        }
        let plan =
            BatchPlan::new(train.len, batch_size, true, seed, true).map_err(|e| VqError::Task {
                name: "batch_size",
                reason: e.to_string(),
            })?;
        Ok(Self {
            test_maps: test.len,
            train,
            test,
            num_symbols,
            seed,
            batches: EpochBatches::new(plan),
            renderer: grey_renderer(num_symbols),
            temperature: 1.0,
            eval_batch: DEFAULT_EVAL_BATCH,
            sample_class: None,
        })
    }

    /// Replaces the renderer of [`Task::sample`] (default: [`grey_renderer`]).
    pub fn with_renderer(mut self, r: MapRenderer) -> Self {
        self.renderer = r;
        self
    }

    /// The sampling temperature of the per-epoch samples (default 1).
    ///
    /// # Panics
    /// If `t` is not finite and positive.
    pub fn with_temperature(mut self, t: f64) -> Self {
        assert!(
            t.is_finite() && t > 0.0,
            "SymbolMapTask: temperature must be finite and positive, got {t}"
        );
        self.temperature = t;
        self
    }

    /// Class-conditional samples all of class `class` (default: the labels `i % num_classes`).
    pub fn with_sample_class(mut self, class: Option<usize>) -> Self {
        self.sample_class = class;
        self
    }

    /// Visits only `n` training maps per epoch (the first `n / batch_size` batches of each
    /// epoch's permutation): shorter epochs, more frequent evaluations and checkpoints.
    ///
    /// # Errors
    /// [`VqError::Task`] when `n` is smaller than one batch.
    pub fn with_train_maps(mut self, n: usize) -> Result<Self, VqError> {
        self.batches.limit_to(n).map_err(|reason| VqError::Task {
            name: "train maps",
            reason,
        })?;
        Ok(self)
    }

    /// Evaluates on the first `n` test maps only (capped at the test set; default: all).
    ///
    /// # Errors
    /// [`VqError::Task`] when `n` is 0.
    pub fn with_test_maps(mut self, n: usize) -> Result<Self, VqError> {
        if n == 0 {
            return Err(VqError::Task {
                name: "test maps",
                reason: "must be at least 1".into(),
            });
        }
        self.test_maps = n.min(self.test.len);
        Ok(self)
    }

    /// Maps per evaluation chunk (default [`DEFAULT_EVAL_BATCH`]).
    ///
    /// # Errors
    /// [`VqError::Task`] when `n` is 0.
    pub fn with_eval_batch(mut self, n: usize) -> Result<Self, VqError> {
        if n == 0 {
            return Err(VqError::Task {
                name: "eval batch",
                reason: "must be at least 1".into(),
            });
        }
        self.eval_batch = n;
        Ok(self)
    }

    /// The training maps.
    pub fn train_maps(&self) -> &SymbolMaps {
        &self.train
    }

    /// The test maps.
    pub fn test_maps(&self) -> &SymbolMaps {
        &self.test
    }

    /// Test maps behind [`test_nll`](Self::test_nll).
    pub fn num_test_maps(&self) -> usize {
        self.test_maps
    }

    /// `K`.
    pub fn num_symbols(&self) -> usize {
        self.num_symbols
    }

    /// Symbols per map, `H·W`.
    pub fn symbols_per_map(&self) -> usize {
        self.train.height * self.train.width
    }

    /// The per-epoch sampling temperature.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Checks that `model` fits the data: its alphabet is `K`, it is class-conditional exactly
    /// when the maps have labels (with enough classes for them), and spatially conditioned
    /// exactly when they have conditioning maps (with the same channels).
    ///
    /// # Errors
    /// [`VqError::Mismatch`] for a different alphabet, too few classes or other conditioning
    /// channels; [`VqError::Task`] when the conditioning is on one side only.
    pub fn check_model(&self, model: &GatedPixelCnn) -> Result<(), VqError> {
        if model.num_symbols() != self.num_symbols {
            return Err(VqError::Mismatch {
                what: "alphabet: model symbols vs data symbols",
                left: model.num_symbols(),
                right: self.num_symbols,
            });
        }
        let span = self.train.label_span().max(self.test.label_span());
        match (model.num_classes(), self.train.labels.is_some()) {
            (0, true) => {
                return Err(VqError::Task {
                    name: "labels",
                    reason: "the maps have labels but the model is not class-conditional".into(),
                });
            }
            (k, false) if k > 0 => {
                return Err(VqError::Task {
                    name: "labels",
                    reason: format!(
                        "the model is class-conditional ({k} classes) but the maps have no labels"
                    ),
                });
            }
            (k, true) if span > k => {
                return Err(VqError::Mismatch {
                    what: "classes: model classes vs largest data label + 1",
                    left: k,
                    right: span,
                });
            }
            _ => {}
        }
        let data_cond = (self.train.cond.is_some()).then_some(self.train.cond_channels);
        match (model.cond_channels(), data_cond) {
            (Some(m), Some(d)) if m != d => Err(VqError::Mismatch {
                what: "conditioning channels: model vs data",
                left: m,
                right: d,
            }),
            (Some(m), None) => Err(VqError::Task {
                name: "cond",
                reason: format!(
                    "the model is spatially conditioned ({m} channels) but the maps have no \
                     conditioning maps"
                ),
            }),
            (None, Some(d)) => Err(VqError::Task {
                name: "cond",
                reason: format!(
                    "the maps have conditioning maps ({d} channels) but the model is not \
                     spatially conditioned"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Mean `−ln p(x | class, cond)` in nats per map over the test maps (see
    /// [`with_test_maps`](Self::with_test_maps)), summed in f64 over chunks.
    ///
    /// # Errors
    /// [`check_model`](Self::check_model)'s errors; [`VqError::Task`] if the values cannot be
    /// read back.
    pub fn test_nll(&self, model: &GatedPixelCnn, device: &Device) -> Result<f64, VqError> {
        self.check_model(model)?;
        let n = self.test_maps;
        let mut total = 0.0f64;
        for start in (0..n).step_by(self.eval_batch) {
            let idx: Vec<usize> = (start..(start + self.eval_batch).min(n)).collect();
            let lp = model.log_prob(
                self.test.symbols_tensor(&idx, device),
                self.test.labels_tensor(&idx, device),
                self.test.cond_tensor(&idx, device),
            );
            let values: Vec<f32> =
                lp.into_data()
                    .try_to_vec_as::<f32>()
                    .map_err(|e| VqError::Task {
                        name: "test_nll",
                        reason: format!("cannot read log-probabilities: {e:?}"),
                    })?;
            total -= values.iter().map(|&v| f64::from(v)).sum::<f64>();
        }
        Ok(total / n as f64)
    }

    /// Draws `n` maps with the task's temperature from `rng` (labels `i % num_classes`, or the
    /// [`with_sample_class`](Self::with_sample_class), for a class-conditional model, the first `n` test maps' conditioning for a spatially
    /// conditioned one); returns the maps and the labels used.
    ///
    /// # Errors
    /// [`check_model`](Self::check_model)'s errors; [`VqError::Task`] when a spatially
    /// conditioned model asks for more samples than there are test maps, or the sample class
    /// is not one of the model's.
    pub fn sample_maps(
        &self,
        model: &GatedPixelCnn,
        n: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Result<(Tensor<3, Int>, Option<Vec<i64>>), VqError> {
        self.check_model(model)?;
        let k = model.num_classes();
        if let Some(c) = self.sample_class
            && k > 0
            && c >= k
        {
            return Err(VqError::Task {
                name: "class",
                reason: format!("must be in 0..{k} (the model's classes), got {c}"),
            });
        }
        let labels: Option<Vec<usize>> =
            (k > 0).then(|| (0..n).map(|i| self.sample_class.unwrap_or(i % k)).collect());
        let cond = if self.test.cond.is_some() {
            if n > self.test.len {
                return Err(VqError::Task {
                    name: "num_samples",
                    reason: format!(
                        "a spatially conditioned prior samples with the test maps' conditioning; \
                         at most {} samples, got {n}",
                        self.test.len
                    ),
                });
            }
            let idx: Vec<usize> = (0..n).collect();
            self.test.cond_tensor(&idx, device)
        } else {
            None
        };
        let maps = model.sample(
            n,
            self.test.size(),
            labels.as_deref(),
            cond,
            self.temperature,
            rng,
            device,
        );
        Ok((
            maps,
            labels.map(|l| l.into_iter().map(|v| v as i64).collect()),
        ))
    }
}

/// A [`VqError`] as the loop's error, naming the field or flag.
pub fn train_error(e: VqError) -> TrainError {
    match e {
        VqError::Config(c) => c.into(),
        VqError::Mismatch { what, left, right } => {
            TrainError::config(what, format!("{left} vs {right}"))
        }
        VqError::Task { name, reason } => TrainError::config(name, reason),
    }
}

impl Task for SymbolMapTask {
    type Model = GatedPixelCnn;
    type Batch = SymbolBatch;

    fn num_train_batches(&self) -> usize {
        self.batches.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        _rng: &mut HostRng,
        device: &Device,
    ) -> SymbolBatch {
        let idx = self.batches.indices(epoch, index);
        SymbolBatch {
            x: self.train.symbols_tensor(&idx, device),
            class: self.train.labels_tensor(&idx, device),
            cond: self.train.cond_tensor(&idx, device),
        }
    }

    fn batch_len(&self, batch: &SymbolBatch) -> usize {
        batch.x.dims()[0]
    }

    fn loss(&self, model: &GatedPixelCnn, batch: SymbolBatch, _ctx: &StepContext) -> StepOutput {
        let nll = model
            .log_prob(batch.x, batch.class, batch.cond)
            .mean()
            .neg();
        let bits = nll.clone() / (self.symbols_per_map() as f64 * std::f64::consts::LN_2);
        StepOutput::new(nll.clone())
            .with_metric("nll", nll.detach())
            .with_metric("bits_per_symbol", bits.detach())
    }

    fn before_first_step(
        &mut self,
        model: GatedPixelCnn,
        _batch: &SymbolBatch,
    ) -> Result<GatedPixelCnn, TrainError> {
        self.check_model(&model).map_err(train_error)?;
        Ok(model)
    }

    fn evaluate(
        &mut self,
        model: &GatedPixelCnn,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let nll = self.test_nll(model, device).map_err(train_error)?;
        Ok(vec![
            ("test_nll".into(), nll),
            ("test_loss".into(), nll),
            (
                "test_bits_per_symbol".into(),
                nll / (self.symbols_per_map() as f64 * std::f64::consts::LN_2),
            ),
        ])
    }

    fn sample(
        &mut self,
        model: &GatedPixelCnn,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let mut rng = HostRng::stream(self.seed, Stream::Samples);
        let (maps, labels) = self
            .sample_maps(model, n, &mut rng, device)
            .map_err(train_error)?;
        (self.renderer)(maps, labels, device).map(Some)
    }
}
