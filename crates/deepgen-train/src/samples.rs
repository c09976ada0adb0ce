//! What a sampling hook returns, and how the loop writes it.
//!
//! Image models return [`ImageSamples`] (`[N, C, H, W]` in [0, 1]); models of low-dimensional
//! data — flows and diffusion on 2-D toy densities — return [`PointSamples`] (`[N, D]` rows).
//! The loop writes either kind into the output directory after each evaluation point:
//!
//! | kind | files |
//! | --- | --- |
//! | images | `samples.png` (grid), `samples/epoch-NNNN.png`, `samples.npy` `[N, C, H, W]` f32 |
//! | points | `samples.png` (scatter of the two coordinates, `D = 2` only), `samples/epoch-NNNN.png`, `samples.npy` `[N, D]` f32 |
//!
//! plus `labels.npy` (`[N]` int64) when labels are given. Samples drawn in the middle of an
//! epoch ([`Trainer::sample_every_steps`](crate::Trainer::sample_every_steps)) go to
//! `samples/step-NNNNNNN.png` instead of `samples/epoch-NNNN.png`; `samples.png` and
//! `samples.npy` always hold the latest draw.

use std::path::Path;

use burn::tensor::Tensor;
use deepgen_tensor::output::{save_image_grid, save_scatter_plot, write_npy_f32, write_npy_i64};

use crate::TrainError;

/// Images: values in [0, 1], layout `[N, C, H, W]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSamples {
    /// Pixel data, row-major `[N, C, H, W]`.
    pub data: Vec<f32>,
    /// `[N, C, H, W]`.
    pub shape: [usize; 4],
    /// Images per row of the PNG grid.
    pub nrow: usize,
    /// Optional int64 labels saved beside the samples as `labels.npy` (class-conditional models).
    pub labels: Option<Vec<i64>>,
}

/// Points in `R^dim`: row-major `[N, dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSamples {
    /// Coordinates, row-major `[N, dim]`.
    pub data: Vec<f32>,
    /// Coordinates per point (2 for the scatter plot).
    pub dim: usize,
    /// Optional int64 labels saved as `labels.npy` (e.g. the mixture component of a toy sample).
    pub labels: Option<Vec<i64>>,
}

impl ImageSamples {
    /// Unlabelled images of `shape = [C, H, W]` from row-major `data` (`N = len / (C·H·W)`),
    /// laid out ⌈√N⌉ per row of the grid.
    pub fn square_grid(data: Vec<f32>, shape: [usize; 3]) -> Self {
        let [c, h, w] = shape;
        let n = data.len().checked_div(c * h * w).unwrap_or(0);
        Self {
            data,
            shape: [n, c, h, w],
            nrow: (n as f64).sqrt().ceil() as usize,
            labels: None,
        }
    }

    /// [`square_grid`](Self::square_grid) of a tensor's values: `[N, C·H·W]` rows or
    /// `[N, C, H, W]` images, read back to the host as f32.
    ///
    /// # Errors
    /// [`TrainError::Config`] when the tensor is not f32 or its size is not a multiple of
    /// `C·H·W`.
    pub fn from_tensor<const D: usize>(
        t: Tensor<D>,
        shape: [usize; 3],
    ) -> Result<Self, TrainError> {
        let dims = t.dims();
        let data: Vec<f32> = t
            .into_data()
            .try_to_vec()
            .map_err(|e| bad(format!("cannot read samples as f32: {e:?}")))?;
        let per_image: usize = shape.iter().product();
        if per_image == 0 || !data.len().is_multiple_of(per_image) {
            return Err(bad(format!(
                "a tensor of shape {dims:?} does not hold whole images of shape {shape:?}"
            )));
        }
        Ok(Self::square_grid(data, shape))
    }
}

impl PointSamples {
    /// 2-D points without labels.
    pub fn planar(points: &[[f32; 2]]) -> Self {
        Self {
            data: points.iter().flatten().copied().collect(),
            dim: 2,
            labels: None,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there is no point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What [`Task::sample`](crate::Task::sample) returns: images or points.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Images, written as a PNG grid.
    Images(ImageSamples),
    /// Points, written as a scatter plot.
    Points(PointSamples),
}

impl From<ImageSamples> for Samples {
    fn from(s: ImageSamples) -> Self {
        Samples::Images(s)
    }
}

impl From<PointSamples> for Samples {
    fn from(s: PointSamples) -> Self {
        Samples::Points(s)
    }
}

/// When a draw happened, for the history file's name and the plot title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrawnAt {
    /// After epoch `n` (1-based): `samples/epoch-NNNN.png`.
    Epoch(usize),
    /// After optimizer step `n` in the middle of an epoch: `samples/step-NNNNNNN.png`.
    Step(u64),
}

impl DrawnAt {
    fn history_name(self) -> String {
        match self {
            DrawnAt::Epoch(e) => format!("epoch-{e:04}.png"),
            DrawnAt::Step(s) => format!("step-{s:07}.png"),
        }
    }

    fn title(self) -> String {
        match self {
            DrawnAt::Epoch(e) => format!("samples after epoch {e}"),
            DrawnAt::Step(s) => format!("samples after step {s}"),
        }
    }
}

fn bad(reason: String) -> TrainError {
    TrainError::config("Task::sample", reason)
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::Images(s) => s.shape[0],
            Samples::Points(p) => p.len(),
        }
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels, if any.
    pub fn labels(&self) -> Option<&[i64]> {
        match self {
            Samples::Images(s) => s.labels.as_deref(),
            Samples::Points(p) => p.labels.as_deref(),
        }
    }

    /// Checks that data, shape and labels agree.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `Task::sample` and the mismatch.
    pub fn check(&self) -> Result<(), TrainError> {
        match self {
            Samples::Images(s) => {
                let want: usize = s.shape.iter().product();
                if s.data.len() != want {
                    return Err(bad(format!(
                        "returned {} image values for shape {:?} (= {want}); data must be \
                         row-major [N, C, H, W]",
                        s.data.len(),
                        s.shape
                    )));
                }
                if s.nrow == 0 {
                    return Err(bad("returned images with nrow = 0; use at least 1".into()));
                }
            }
            Samples::Points(p) => {
                if p.dim == 0 || p.data.len() % p.dim != 0 {
                    return Err(bad(format!(
                        "returned {} point coordinates with dim = {}; data must be row-major \
                         [N, dim] with dim ≥ 1",
                        p.data.len(),
                        p.dim
                    )));
                }
            }
        }
        if let Some(labels) = self.labels()
            && labels.len() != self.len()
        {
            return Err(bad(format!(
                "returned {} labels for {} samples; give one label per sample",
                labels.len(),
                self.len()
            )));
        }
        Ok(())
    }

    /// Writes `samples.png`, the history PNG, `samples.npy` and `labels.npy` into `out_dir`.
    pub(crate) fn write(&self, out_dir: &Path, at: DrawnAt) -> Result<(), TrainError> {
        self.check()?;
        let png = out_dir.join("samples.png");
        let hist = out_dir.join("samples").join(at.history_name());
        match self {
            Samples::Images(s) => {
                let [n, c, h, w] = s.shape;
                save_image_grid(&png, &s.data, n, c, h, w, s.nrow)?;
                save_image_grid(&hist, &s.data, n, c, h, w, s.nrow)?;
                write_npy_f32(&out_dir.join("samples.npy"), &s.shape, &s.data)?;
            }
            Samples::Points(p) => {
                if p.dim == 2 {
                    let points: Vec<(f64, f64)> = p
                        .data
                        .chunks_exact(2)
                        .map(|xy| (xy[0] as f64, xy[1] as f64))
                        .collect();
                    let title = at.title();
                    save_scatter_plot(&png, &title, &points, "x1", "x2")?;
                    save_scatter_plot(&hist, &title, &points, "x1", "x2")?;
                }
                write_npy_f32(&out_dir.join("samples.npy"), &[p.len(), p.dim], &p.data)?;
            }
        }
        if let Some(labels) = self.labels() {
            write_npy_i64(&out_dir.join("labels.npy"), &[labels.len()], labels)?;
        }
        Ok(())
    }
}
