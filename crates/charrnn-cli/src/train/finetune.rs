//! `charrnn train`'s fine-tuning flags, for a run that starts from a checkpoint
//! (`--init-from`): the library's [`charrnn::finetune`].

use charrnn::finetune::Part;
use clap::Args;

/// Fine-tuning flags.
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "Fine-tuning (with --init-from)")]
pub struct FinetuneArgs {
    /// Add the text's characters the --init-from model does not know to its vocabulary; their
    /// new rows start so that its predictions for the characters it knows do not change (at
    /// most --max-vocab characters in all, if given)
    #[arg(long)]
    pub extend_vocab: bool,
    /// Carry the optimizer state (moments, update count) of an --init-from checkpoint written
    /// by --checkpoint-every or a stopped run, instead of a fresh optimizer; the vocabulary
    /// must stay the same. --optim and its settings default to the checkpoint's
    #[arg(long)]
    pub keep_optimizer: bool,
    /// Hold these parts of the model fixed and train the rest: embed, rnn (every layer),
    /// rnn.K (layer K, from 0), out; comma-separated. Rows of characters --extend-vocab added
    /// train in any case
    #[arg(long, value_name = "PARTS", value_delimiter = ',', value_parser = part_parser)]
    pub freeze: Vec<Part>,
}

/// `--freeze`'s values.
fn part_parser(s: &str) -> Result<Part, String> {
    Part::parse(s).map_err(|e| super::with_flags(e).to_string())
}
