//! The subcommands and their flags. Flags override the environment, which
//! overrides the configuration file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

/// An event-sourced case book for residents' concerns.
#[derive(Debug, Parser)]
#[command(name = "casebook", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (bootstrapping an empty data directory first).
    Serve(ServeArgs),
    /// Bootstrap an empty data directory: root unit, administrator, token.
    Init(Common),
    /// Seed an empty data directory with the demo province and print one
    /// token per role.
    Demo(DemoArgs),
    /// Create, list or revoke tokens (with the server stopped; use the API
    /// while it runs).
    Token {
        /// What to do with tokens.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Write the whole log as JSON Lines with a signed tree head (server
    /// stopped); see docs/audit.md.
    Export(ExportArgs),
    /// Re-check an export file, or a data directory with `--data`: the
    /// hash chain, the Merkle root and the signature. Names the first bad
    /// record; exits non-zero on any fault.
    Verify(VerifyArgs),
    /// Verify an export, then restore it into a data directory that has no
    /// log yet.
    Import(ImportArgs),
}

/// Flags of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Flags of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An export file to check; without it, `--data` (or the configured
    /// data directory) is checked.
    pub file: Option<PathBuf>,
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The public key (hex) the auditor trusts; by default the one the
    /// export names.
    #[arg(long, value_name = "HEX")]
    pub key: Option<String>,
}

/// Flags of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export file to restore.
    pub file: PathBuf,
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The backed-up tree-head signing key (`<data>/audit/signing-key`) to
    /// restore with the log, so that exports sign as before.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The configuration file (default `config/casebook.toml` if it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (`server.data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The address to listen on (`server.listen`); port 0 picks a free one.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Seed an empty store with the demo province first, and print one
    /// token per role.
    #[arg(long)]
    pub demo: bool,
    /// The demo's seed: the same seed (on the same day) gives the same data.
    #[arg(long, default_value_t = DEMO_SEED)]
    pub seed: u64,
}

/// The default demo seed.
pub const DEMO_SEED: u64 = 2019;

/// Flags of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The demo's seed.
    #[arg(long, default_value_t = DEMO_SEED)]
    pub seed: u64,
}

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a person and print it once.
    Create {
        /// Configuration and data directory.
        #[command(flatten)]
        common: Common,
        /// The person the token acts for.
        #[arg(long)]
        person: Uuid,
        /// What the token is for.
        #[arg(long, default_value = "")]
        label: String,
        /// Days until it expires (`tokens.lifetime_days` by default).
        #[arg(long)]
        days: Option<u32>,
    },
    /// List tokens (never their secrets).
    List(Common),
    /// Revoke a token by id.
    Revoke {
        /// Configuration and data directory.
        #[command(flatten)]
        common: Common,
        /// The token's id.
        token_id: Uuid,
    },
}
