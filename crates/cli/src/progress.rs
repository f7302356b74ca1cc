//! Progress bars on stderr, drawn only when stderr is a terminal.

use forecast_core::{Decision, EpochReport, Reporter};
use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `len` steps of `what`.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// The training reporter of the CLI: one bar tick per epoch, losses in the message.
pub struct EpochBar {
    bar: Option<ProgressBar>,
}

impl EpochBar {
    /// A reporter that draws nothing until the first epoch says how many there are.
    pub fn new() -> Self {
        EpochBar { bar: None }
    }

    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Reporter for EpochBar {
    fn report(&mut self, r: &EpochReport) -> Decision {
        let b = self
            .bar
            .get_or_insert_with(|| bar(r.max_epochs.unwrap_or(0) as u64, "training"));
        let mut msg = format!("epoch {} train {:.4e}", r.epoch, r.train_loss);
        if let Some(v) = r.valid_loss {
            msg.push_str(&format!(" valid {v:.4e}"));
        }
        b.set_message(msg);
        b.set_position(r.epoch as u64);
        Decision::Continue
    }
}
