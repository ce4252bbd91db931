//! What each subcommand does.
//!
//! Data directory layout: `<data>/log` holds the event log, `<data>/auth`
//! the token hashes. Both are sled databases that one process at a time
//! may open, so `init` and `token` work with the server stopped; while it
//! runs, use the API (`POST /v1/tokens`).

use casebook_privacy::{KeyStore, KEYS_DIR};
use std::io::Write;

use casebook_api::bootstrap::{bootstrap, BootstrapNames, Bootstrapped};
use casebook_api::{AppState, Stores, TokenStore};
use casebook_domain::PersonId;
use casebook_log::{Direction, EventStore, SledLog};
use chrono::{TimeDelta, Utc};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::audit_cmd;
use crate::cli::{
    Cli, Command, Common, DemoArgs, ExportArgs, ForgetArgs, ImportArgs, ServeArgs, TokenCommand,
    VerifyArgs,
};
use crate::config::{self, Config, LogFormat, Overrides};
use crate::error::CliError;

/// Runs one subcommand to its end.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::Runtime(e.to_string()))?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Init(common) => runtime.block_on(init(common)),
        Command::Demo(args) => runtime.block_on(demo(args)),
        Command::Token { command } => runtime.block_on(token(command)),
        Command::User { command } => runtime.block_on(crate::user_cmd::run(command)),
        Command::Export(args) => export(args),
        Command::Verify(args) => verify(args),
        Command::Import(args) => import(args),
        Command::Forget(args) => runtime.block_on(forget(args)),
        Command::Case(args) => {
            let data_dir = load(
                Common {
                    config: args.common.config.clone(),
                    data: args.common.data.clone(),
                },
                None,
            )?
            .data_dir;
            runtime.block_on(crate::case_cmd::run(args, &data_dir))
        }
        Command::Audit { command } => audit_cmd::run(command),
        Command::Replay(args) => runtime.block_on(crate::replay_cmd::run(args)),
        Command::Projections { command } => runtime.block_on(crate::projections_cmd::run(command)),
        Command::Unit { command } => runtime.block_on(crate::admin_cmd::unit(command)),
        Command::Person { command } => runtime.block_on(crate::admin_cmd::person(command)),
        Command::Household { command } => runtime.block_on(crate::admin_cmd::household(command)),
    }
}

pub(crate) fn load(
    common: Common,
    listen: Option<std::net::SocketAddr>,
) -> Result<Config, CliError> {
    config::load(Overrides {
        config: common.config,
        data: common.data,
        listen,
    })
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Opens the log (with the configured `[log]` options) and the token store.
fn open_data(config: &Config) -> Result<(SledLog, TokenStore), CliError> {
    let dir = config.data_dir.as_path();
    let data_error = |message: String| CliError::Data {
        path: dir.to_path_buf(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| data_error(e.to_string()))?;
    let log = SledLog::open_with(dir.join("log"), config.log.clone()).map_err(|e| {
        data_error(format!(
            "the event log cannot be opened (is a server running on it?): {e}"
        ))
    })?;
    let tokens = TokenStore::open(&dir.join("auth")).map_err(|e| data_error(e.to_string()))?;
    Ok((log, tokens))
}

/// Prints the one-time administrator token (stdout: the operator must see it once).
#[allow(clippy::print_stdout)]
fn announce_bootstrap(done: &Bootstrapped) {
    println!("bootstrapped: root unit {}", done.root_unit_id);
    println!("administrator: {}", done.admin_id);
    println!("admin token (shown once, keep it safe): {}", done.token);
    let _ = std::io::stdout().flush();
}

/// Prints the address actually bound (port 0 picks a free one).
#[allow(clippy::print_stdout)]
fn announce_listening(addr: std::net::SocketAddr) {
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
}

async fn first_start(
    config: &Config,
    log: &SledLog,
    tokens: &TokenStore,
) -> Result<Option<Bootstrapped>, CliError> {
    let names = BootstrapNames {
        root_unit: config.root_unit_name.clone(),
        admin: config.admin_name.clone(),
    };
    let lifetime = TimeDelta::days(i64::from(config.api.token_lifetime_days));
    bootstrap(log, tokens, &names, lifetime)
        .await
        .map_err(|e| CliError::Runtime(e.to_string()))
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let config = load(args.common, args.listen)?;
    init_tracing(&config);
    let stores = open_stores(&config)?;
    if args.demo && stores.log.is_empty() {
        seed_demo(
            &config,
            &stores.log,
            &stores.tokens,
            &stores.keys,
            args.seed,
        )
        .await?;
    } else if let Some(done) = first_start(&config, &stores.log, &stores.tokens).await? {
        announce_bootstrap(&done);
    }
    let log = stores.log.clone();
    let shutdown = CancellationToken::new();
    let (state, directory_task) = AppState::start(
        stores,
        config.policy.clone(),
        config.api.clone(),
        shutdown.clone(),
    )
    .await
    .map_err(|e| CliError::Runtime(e.to_string()))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| CliError::Config {
            file: "server.listen".to_owned(),
            message: format!("cannot listen on {}: {e}", config.listen),
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    announce_listening(addr);
    tracing::info!(%addr, data = %config.data_dir.display(), "serving");
    let served = casebook_api::serve(listener, state.clone(), signal()).await;
    shutdown.cancel();
    let _ = directory_task.await;
    state.stop_workers().await;
    drop(state);
    drop(log);
    tracing::info!("stopped; the log is closed");
    served.map_err(|e| CliError::Runtime(e.to_string()))
}

/// Opens every store of the data directory for serving.
fn open_stores(config: &Config) -> Result<Stores, CliError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| CliError::Data {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    let master = config.master_key()?;
    Stores::open_with_master(dir, config.policy.clone(), master, config.log.clone()).map_err(|e| {
        CliError::Data {
            path: dir.clone(),
            message: format!("{e} (is another casebook process using this data directory?)"),
        }
    })
}

/// Completes on SIGINT or SIGTERM.
async fn signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

async fn init(common: Common) -> Result<(), CliError> {
    let config = load(common, None)?;
    init_tracing(&config);
    let (log, tokens) = open_data(&config)?;
    match first_start(&config, &log, &tokens).await? {
        Some(done) => {
            announce_bootstrap(&done);
            Ok(())
        }
        None => Err(CliError::Refused(
            "the data directory is already initialised".to_owned(),
        )),
    }
}

async fn demo(args: DemoArgs) -> Result<(), CliError> {
    let config = load(args.common, None)?;
    init_tracing(&config);
    let (log, tokens) = open_data(&config)?;
    if !log.is_empty() {
        return Err(CliError::Refused(
            "demo data goes into an empty data directory only".to_owned(),
        ));
    }
    let keys = open_keys(&config)?;
    seed_demo(&config, &log, &tokens, &keys, args.seed).await
}

/// Opens the key store that seals residents' personal data.
fn open_keys(config: &Config) -> Result<KeyStore, CliError> {
    let dir = config.data_dir.join(KEYS_DIR);
    KeyStore::open(&dir, config.master_key()?).map_err(|e| CliError::Data {
        path: dir,
        message: e.to_string(),
    })
}

/// Loads the demo province into an empty log and prints a token per role.
async fn seed_demo(
    config: &Config,
    log: &SledLog,
    tokens: &TokenStore,
    keys: &KeyStore,
    seed: u64,
) -> Result<(), CliError> {
    let runtime = |e: &dyn std::fmt::Display| CliError::Runtime(e.to_string());
    let demo = casebook_demo::generate(&casebook_demo::DemoConfig::new(seed, Utc::now()))
        .map_err(|e| runtime(&e))?;
    let report = casebook_demo::load(log, keys, &demo)
        .await
        .map_err(|e| runtime(&e))?;
    let people = &demo.people;
    let roles = [
        ("administrator", people.administrator),
        ("member", people.member),
        ("hamlet_committee", people.hamlet_committee),
        ("commune_committee", people.commune_committee),
        ("post_committee", people.post_committee),
        ("province_committee", people.province_committee),
        ("auditor", people.auditor),
    ];
    let lifetime = TimeDelta::days(i64::from(config.api.token_lifetime_days));
    let mut lines = vec![format!(
        "demo loaded: {} events (seed {seed})",
        report.events
    )];
    for (role, person) in roles {
        let (secret, _) = tokens
            .create(person, &format!("demo {role}"), lifetime, Utc::now())
            .await
            .map_err(|e| runtime(&e))?;
        lines.push(format!("token {role} ({person}): {secret}"));
    }
    lines.extend(crate::user_cmd::demo_accounts(tokens, &roles).await?);
    print_lines(&lines)
}

fn export(args: ExportArgs) -> Result<(), CliError> {
    let config = load(args.common, None)?;
    let summary = audit_cmd::export(&config.data_dir, &args.out)?;
    print_lines(&[
        format!(
            "exported {} events to {}",
            summary.events,
            args.out.display()
        ),
        format!(
            "tree head: size {} root {}",
            summary.tree_head.size, summary.tree_head.root_hash
        ),
        format!("public key: {}", summary.public_key),
    ])
}

fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let summary = match &args.file {
        Some(file) => audit_cmd::verify_file(file, args.key.as_deref())?,
        None => audit_cmd::verify_data(&load(args.common, None)?.data_dir)?,
    };
    print_lines(&[
        format!(
            "ok: {} events, chain and Merkle root verified, signature valid",
            summary.events
        ),
        format!(
            "tree head: size {} root {}",
            summary.tree_head.size, summary.tree_head.root_hash
        ),
        format!("public key: {}", summary.public_key),
    ])
}

fn import(args: ImportArgs) -> Result<(), CliError> {
    let config = load(args.common, None)?;
    let restored = audit_cmd::import(&args.file, &config.data_dir, args.signing_key.as_deref())?;
    print_lines(&[format!(
        "restored {restored} events into {}",
        config.data_dir.display()
    )])
}

async fn token(command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create {
            common,
            person,
            label,
            days,
        } => token_create(common, PersonId(person), &label, days).await,
        TokenCommand::List(common) => token_list(common),
        TokenCommand::Revoke { common, token_id } => {
            let config = load(common, None)?;
            let (_log, tokens) = open_data(&config)?;
            let revoked = tokens
                .revoke(token_id, Utc::now())
                .await
                .map_err(|e| CliError::Runtime(e.to_string()))?;
            match revoked {
                Some(record) => print_lines(&[format!("revoked {}", record.token_id)]),
                None => Err(CliError::Refused(format!("no token {token_id}"))),
            }
        }
    }
}

async fn token_create(
    common: Common,
    person: PersonId,
    label: &str,
    days: Option<u32>,
) -> Result<(), CliError> {
    let config = load(common, None)?;
    let (log, tokens) = open_data(&config)?;
    let registered = log
        .read_stream(&person.stream(), Direction::Forwards, Some(0), 1)
        .await
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    if registered.is_empty() {
        return Err(CliError::Refused(format!("no person {person}")));
    }
    let days = days.unwrap_or(config.api.token_lifetime_days);
    if days == 0 || days > 366 {
        return Err(CliError::Refused(
            "--days must be between 1 and 366".to_owned(),
        ));
    }
    let (secret, record) = tokens
        .create(person, label, TimeDelta::days(i64::from(days)), Utc::now())
        .await
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    print_lines(&[
        format!("token id: {}", record.token_id),
        format!("expires at: {}", record.expires_at.to_rfc3339()),
        format!("token (shown once): {secret}"),
    ])
}

fn token_list(common: Common) -> Result<(), CliError> {
    let config = load(common, None)?;
    let (_log, tokens) = open_data(&config)?;
    let records = tokens
        .list()
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    let lines: Vec<String> = records
        .iter()
        .map(|r| {
            let state = match r.revoked_at {
                Some(_) => "revoked",
                None if r.is_valid_at(Utc::now()) => "valid",
                None => "expired",
            };
            format!(
                "{}\t{}\t{}\t{}\t{}",
                r.token_id,
                r.person_id,
                state,
                r.expires_at.to_rfc3339(),
                r.label
            )
        })
        .collect();
    print_lines(&lines)
}

/// The command's output, for the operator.
#[allow(clippy::print_stdout)]
pub(crate) fn print_lines(lines: &[String]) -> Result<(), CliError> {
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Erases a household's personal data and prints where the erasure landed.
#[allow(clippy::print_stdout)]
async fn forget(args: ForgetArgs) -> Result<(), CliError> {
    let config = load(args.common, None)?;
    init_tracing(&config);
    let (log, _tokens) = open_data(&config)?;
    let keys = open_keys(&config)?;
    let done = crate::forget_cmd::forget(
        &log,
        &keys,
        &config.policy,
        casebook_domain::HouseholdId(args.household),
        PersonId(args.by),
        &args.reason,
    )
    .await?;
    println!(
        "erased the personal data of household {} (log position {}; key destroyed: {})",
        args.household, done.position, done.key_destroyed
    );
    Ok(())
}
