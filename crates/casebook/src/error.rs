//! The one error type of the command, with its exit codes.

use std::path::PathBuf;

/// Everything the command can fail with; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is wrong: exit 2, like a bad argument.
    #[error("configuration {file}: {message}")]
    Config {
        /// The file (or `environment`, `flags`) where the setting came from.
        file: String,
        /// What is wrong, naming the setting.
        message: String,
    },

    /// The data directory cannot be used: exit 3.
    #[error("data directory {path}: {message}")]
    Data {
        /// The directory.
        path: PathBuf,
        /// What went wrong (locked by a running server, corrupt…).
        message: String,
    },

    /// A flag's value is wrong in itself or beside another flag (`--from`
    /// larger than `--to`, an unknown view): exit 2, like clap's own errors.
    #[error("{0}")]
    Usage(String),

    /// A request the command made was refused: exit 4.
    #[error("{0}")]
    Refused(String),

    /// The server failed while running: exit 1.
    #[error("{0}")]
    Runtime(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Runtime(_) => 1,
            Self::Config { .. } | Self::Usage(_) => 2,
            Self::Data { .. } => 3,
            Self::Refused(_) => 4,
        }
    }
}
