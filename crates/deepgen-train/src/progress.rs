//! Live progress: a bar with loss and throughput on a terminal, one line per epoch always.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of one epoch.
pub struct EpochProgress {
    bar: ProgressBar,
    start: Instant,
    examples: usize,
}

impl EpochProgress {
    /// Starts the bar for `epoch` (0-based) of `epochs` with `len` steps; hidden when `visible` is
    /// false or stderr is not a terminal.
    pub fn new(epoch: usize, epochs: usize, len: usize, visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(len as u64),
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, epochs));
        Self {
            bar,
            start: Instant::now(),
            examples: 0,
        }
    }

    /// Records one finished step of `batch_len` examples with its loss.
    pub fn step(&mut self, batch_len: usize, loss: f64) {
        self.examples += batch_len;
        self.bar.inc(1);
        if self.bar.position() % 10 == 1 || self.bar.length() == Some(self.bar.position()) {
            self.bar
                .set_message(format!("loss {loss:.3} | {:.0} ex/s", self.throughput()));
        }
    }

    /// Examples per second since the epoch started.
    pub fn throughput(&self) -> f64 {
        self.examples as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }

    /// Seconds since the epoch started.
    pub fn elapsed_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Prints `line` on stdout without tearing the bar.
    pub fn println(&self, line: impl AsRef<str>) {
        self.bar.suspend(|| println!("{}", line.as_ref()));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
