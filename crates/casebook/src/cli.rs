//! The subcommands and their flags. Flags override the environment, which
//! overrides the configuration file.

use std::net::SocketAddr;
use std::path::PathBuf;

use casebook_domain::{CommitteeKind, Role, UnitKind};
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
    /// Usernames and passwords for the web pages (with the server stopped).
    User {
        /// What to do with web accounts.
        #[command(subcommand)]
        command: UserCommand,
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
    /// Erase a household's personal data for good (server stopped; while it
    /// runs, use POST /v1/households/{id}/erase). The log keeps its
    /// ciphertext, so every proof still verifies; the key is destroyed.
    Forget(ForgetArgs),
    /// Print one case as JSON, as it stands or as it stood at a past
    /// moment (`--as-of`, on the recorded or the field clock).
    Case(CaseArgs),
    /// Print the tree-head key, a signed tree head, or an inclusion or
    /// consistency proof as JSON, after catching the Merkle tree up with
    /// the log (server stopped); see docs/audit.md.
    Audit {
        /// What to print.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Build the views as they stood at a log position or time into a
    /// scratch directory, and print their figures (server stopped).
    Replay(ReplayArgs),
    /// Show the views' checkpoints, lag and health, or rebuild views from
    /// the log (server stopped).
    Projections {
        /// What to do with the views.
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Create, rename and list units, cover communes, form committees
    /// (server stopped; while it runs, use POST /v1/units…).
    Unit {
        /// What to do with units.
        #[command(subcommand)]
        command: UnitAction,
    },
    /// Register and list people, grant and end their roles (server
    /// stopped; while it runs, use POST /v1/people…).
    Person {
        /// What to do with people.
        #[command(subcommand)]
        command: PersonAction,
    },
    /// Make a member responsible for a household, or end that (server
    /// stopped; while it runs, use POST /v1/households/{id}/assignment…).
    Household {
        /// What to do with a household's assignment.
        #[command(subcommand)]
        command: HouseholdAction,
    },
}

/// Flags of every command that changes units, people or assignments
/// (admin_cmd.rs).
#[derive(Debug, Args)]
pub struct Acting {
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The administrator on whose authority the change is made (their
    /// person id; `init` prints the first one). Anyone else is refused.
    #[arg(long = "by", value_name = "PERSON_ID")]
    pub by: Uuid,
}

/// Flags of the `list` subcommands.
#[derive(Debug, Args)]
pub struct Listing {
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `unit` subcommands (admin_cmd.rs).
#[derive(Debug, Subcommand)]
pub enum UnitAction {
    /// Create a unit under its parent and print its id.
    Create {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// Its level: provincial_command, post, commune or hamlet.
        #[arg(long, value_name = "KIND", value_parser = serde_name::<UnitKind>)]
        kind: UnitKind,
        /// Its name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The unit above it (a post or the provincial command for a
        /// commune, a commune for a hamlet…); none only for a provincial command.
        #[arg(long, value_name = "ID")]
        parent: Option<Uuid>,
        /// Its id (a new random one by default).
        #[arg(long, value_name = "ID")]
        id: Option<Uuid>,
    },
    /// Rename a unit.
    Rename {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// The unit.
        #[arg(long, value_name = "ID")]
        unit: Uuid,
        /// Its new name.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// A post takes a commune (outside its own subtree) into its coverage.
    Cover(Coverage),
    /// A post gives up a commune it covers.
    Uncover(Coverage),
    /// Form a committee in a unit and print its id.
    Committee {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// The unit it acts for.
        #[arg(long, value_name = "ID")]
        unit: Uuid,
        /// Its kind: party_cell, party_committee, standing_committee or command.
        #[arg(long, value_name = "KIND", value_parser = serde_name::<CommitteeKind>)]
        kind: CommitteeKind,
        /// Its name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Its id (a new random one by default).
        #[arg(long, value_name = "ID")]
        id: Option<Uuid>,
    },
    /// Every unit, in tree order: id, kind, name, parent.
    List(Listing),
}

/// Flags of `unit cover` and `unit uncover`.
#[derive(Debug, Args)]
pub struct Coverage {
    /// Who acts, configuration and data directory.
    #[command(flatten)]
    pub acting: Acting,
    /// The post.
    #[arg(long, value_name = "ID")]
    pub post: Uuid,
    /// The commune.
    #[arg(long, value_name = "ID")]
    pub commune: Uuid,
}

/// `person` subcommands (admin_cmd.rs).
#[derive(Debug, Subcommand)]
pub enum PersonAction {
    /// Register a person (staff who will use the system) and print their id.
    Register {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// Their name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Their id (a new random one by default).
        #[arg(long, value_name = "ID")]
        id: Option<Uuid>,
    },
    /// Grant a person a role in a unit from now on and print the grant's id.
    Grant {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// The person.
        #[arg(long, value_name = "ID")]
        person: Uuid,
        /// The role: member, committee_member (with --committee), auditor
        /// or administrator.
        #[arg(long, value_name = "ROLE", value_parser = parse_role_name)]
        role: RoleName,
        /// The committee, for --role committee_member (of the unit given with --unit).
        #[arg(long, value_name = "ID")]
        committee: Option<Uuid>,
        /// The unit the role is held in.
        #[arg(long, value_name = "ID")]
        unit: Uuid,
        /// When the role ends (RFC 3339); open-ended by default.
        #[arg(long, value_name = "TIME")]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// The grant's id (a new random one by default).
        #[arg(long, value_name = "ID")]
        id: Option<Uuid>,
    },
    /// End a role a person holds, as of now.
    EndRole {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// The person.
        #[arg(long, value_name = "ID")]
        person: Uuid,
        /// The grant to end (`person list` shows each role's grant).
        #[arg(long, value_name = "GRANT_ID")]
        grant: Uuid,
    },
    /// Every person: id, name and the roles they hold now.
    List(Listing),
}

/// `household` subcommands (admin_cmd.rs). Registering a household is not
/// among them: its personal details are sealed, which the API does.
#[derive(Debug, Subcommand)]
pub enum HouseholdAction {
    /// Make a member responsible for a household (ending the assignment
    /// of whoever was before).
    Assign {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// The household.
        #[arg(long, value_name = "ID")]
        household: Uuid,
        /// The member (a person holding the member role).
        #[arg(long, value_name = "PERSON_ID")]
        member: Uuid,
    },
    /// End a household's current assignment, as of now.
    Unassign {
        /// Who acts, configuration and data directory.
        #[command(flatten)]
        acting: Acting,
        /// The household.
        #[arg(long, value_name = "ID")]
        household: Uuid,
    },
}

/// Reads a value by the name the domain gives it in JSON (`commune`,
/// `party_cell`…); serde's error lists the names it knows.
fn serde_name<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| e.to_string())
}

/// A role's name as the domain spells it (`member`, `committee_member`…),
/// checked against [`Role`]'s variants; a committee member's committee
/// comes from its own flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    /// The role, with `committee` for a committee member. `Err` says
    /// which flag is missing or out of place.
    pub fn role(&self, committee: Option<Uuid>) -> Result<Role, String> {
        let name = &self.0;
        let role = role_from(name, committee)
            .map_err(|_| format!("--role {name} needs --committee ID"))?;
        match (role, committee) {
            (Role::CommitteeMember { .. }, _) | (_, None) => Ok(role),
            (_, Some(_)) => Err(format!(
                "--committee goes with --role committee_member only, not {name}"
            )),
        }
    }
}

fn role_from(name: &str, committee_id: Option<Uuid>) -> Result<Role, serde_json::Error> {
    let mut value = serde_json::json!({ "role": name });
    if let Some(committee_id) = committee_id {
        value["committee_id"] = serde_json::json!(committee_id);
    }
    serde_json::from_value(value)
}

/// Reads `--role`: a name [`Role`] knows (with any committee id for
/// `committee_member`); serde's error lists the names.
fn parse_role_name(text: &str) -> Result<RoleName, String> {
    role_from(text, Some(Uuid::nil()))
        .map(|_| RoleName(text.to_owned()))
        .map_err(|e| e.to_string())
}

/// `audit` subcommands (audit_cmd.rs).
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The public key tree heads are signed with.
    Key(Common),
    /// A signed tree head over the whole log, signed now.
    Head(Common),
    /// The proof that the event at a position is in the tree of a size.
    Inclusion {
        /// Configuration and data directory.
        #[command(flatten)]
        common: Common,
        /// The event's log position.
        #[arg(long, value_name = "N")]
        position: u64,
        /// The tree size (default: the whole log).
        #[arg(long, value_name = "M")]
        size: Option<u64>,
    },
    /// The proof that the tree of one size is a prefix of the tree of a
    /// larger one.
    Consistency {
        /// Configuration and data directory.
        #[command(flatten)]
        common: Common,
        /// The older tree's size (at least 1).
        #[arg(long, value_name = "A")]
        from: u64,
        /// The newer tree's size (at least `--from`, at most the log's length).
        #[arg(long, value_name = "B")]
        to: u64,
    },
}

/// Flags of `replay` (replay_cmd.rs).
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Configuration and data directory (the source; only read).
    #[command(flatten)]
    pub common: Common,
    /// The last log position to include, or a time (RFC 3339): every event
    /// recorded at or before it.
    #[arg(long, value_name = "POSITION|TIME", value_parser = parse_until)]
    pub until: Until,
    /// An empty (or new) directory to build the replay in.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Where a replay stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// The last log position included.
    Position(u64),
    /// The last recorded time included.
    Time(chrono::DateTime<chrono::Utc>),
}

/// Reads `--until`: digits are a position, anything else an RFC 3339 time.
fn parse_until(text: &str) -> Result<Until, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Until::Position)
            .map_err(|e| format!("not a log position: {e}"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Until::Time(t.with_timezone(&chrono::Utc)))
        .map_err(|e| {
            format!("expected a log position (digits) or an RFC 3339 time such as 2026-03-01T00:00:00Z ({e})")
        })
}

/// `projections` subcommands (projections_cmd.rs).
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each view's checkpoint, lag behind the log and health.
    Status {
        /// Configuration and data directory.
        #[command(flatten)]
        common: Common,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild one view (or every view) from the log and wait until it has
    /// caught up.
    Rebuild {
        /// Configuration and data directory.
        #[command(flatten)]
        common: Common,
        /// The view (cases, figures, households, members, search); all if absent.
        view: Option<String>,
    },
}

/// Flags of `case`.
#[derive(Debug, Args)]
pub struct CaseArgs {
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The case.
    #[arg(long, value_name = "ID")]
    pub id: Uuid,
    /// Show it as it stood at this moment (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// The clock `--as-of` reads: `recorded` (what the system knew then,
    /// the default) or `field` (what had happened by then).
    #[arg(long, value_enum)]
    pub axis: Option<AsOfAxis>,
}

/// The clock of `case --as-of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AsOfAxis {
    /// When the system recorded each event.
    Recorded,
    /// When each event happened in the field.
    Field,
}

/// Flags of `forget`.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Configuration and data directory.
    #[command(flatten)]
    pub common: Common,
    /// The household whose personal data to erase.
    #[arg(long, value_name = "ID")]
    pub household: Uuid,
    /// Why (kept in the log with the erasure).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The administrator on whose authority it is erased (their person id).
    #[arg(long = "by", value_name = "PERSON_ID")]
    pub by: Uuid,
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

/// Web account subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Give a person a username and password for the web pages. The
    /// password is read from `CASEBOOK_PASSWORD`, else from the first line
    /// of standard input; never from the arguments.
    SetPassword {
        /// Configuration and data directory.
        #[command(flatten)]
        common: Common,
        /// The username (3–64 of a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        username: String,
        /// The person it signs in as.
        #[arg(long)]
        person: Uuid,
    },
}
