//! Batch and event shapes.

/// The batch and event shape of a distribution, in the sense of
/// TensorFlow Probability and `torch.distributions`.
///
/// A distribution is a batch of independent distributions (`batch`); each
/// draws one event of shape `event`. Every type in this crate stores its
/// parameters as rank-2 tensors `[B, E]` (or `[B, K, E]` for mixtures), with
/// `B = batch.iter().product()` rows and `E = event.iter().product()` event
/// elements per row, so `log_prob` returns `[B]` — one value per batch
/// element with the event dimensions summed. `event` may be multi-dimensional
/// (e.g. `[1, 28, 28]` for an image likelihood; set it with the type's
/// `with_event_shape`), it only has to multiply out to `E`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DistShape {
    /// Batch shape (independent distributions).
    pub batch: Vec<usize>,
    /// Event shape (the shape of one sample of one batch element).
    pub event: Vec<usize>,
}

impl DistShape {
    /// `[B]` batch of events `[E]`.
    pub fn vector(batch: usize, event: usize) -> Self {
        Self {
            batch: vec![batch],
            event: vec![event],
        }
    }

    /// `[B]` batch of scalar events (e.g. one category index per row).
    pub fn scalar(batch: usize) -> Self {
        Self {
            batch: vec![batch],
            event: vec![],
        }
    }

    /// Number of batch elements, `∏ batch`.
    pub fn batch_numel(&self) -> usize {
        self.batch.iter().product()
    }

    /// Number of scalars in one event, `∏ event` (1 for scalar events).
    pub fn event_numel(&self) -> usize {
        self.event.iter().product()
    }

    /// Replaces the event shape after checking it has `event_numel()` elements.
    pub fn with_event(
        mut self,
        distribution: &'static str,
        event: Vec<usize>,
    ) -> crate::Result<Self> {
        let n: usize = event.iter().product();
        if n != self.event_numel() {
            return Err(crate::DistributionError::Shape {
                distribution,
                argument: "event_shape",
                got: event,
                expected: format!(
                    "a shape with {} elements (the event size of the parameters)",
                    self.event_numel()
                ),
            });
        }
        self.event = event;
        Ok(self)
    }
}
