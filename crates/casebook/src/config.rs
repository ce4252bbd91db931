//! The configuration: `config/casebook.toml`, then `CASEBOOK_<SECTION>_<KEY>`
//! environment variables, then flags, validated into a typed [`Config`].
//!
//! Parsed in two stages, as ripgrep does: a raw table (every setting
//! optional, unknown settings refused), then [`Config`], where every value
//! has been checked; an invalid configuration cannot get past start-up.
//! Errors name the setting and where it came from.

use casebook_privacy::{MasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use casebook_api::ApiConfig;
use casebook_domain::Policy;
use casebook_log::{Durability, LogOptions};
use serde::Deserialize;

use crate::error::CliError;

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "config/casebook.toml";

/// Every setting that the environment may override, as (section, key).
const ENV_SETTINGS: &[(&str, &str)] = &[
    ("server", "listen"),
    ("server", "data_dir"),
    ("server", "log_format"),
    ("server", "log_filter"),
    ("limits", "body_bytes_max"),
    ("limits", "sync_commands_max"),
    ("limits", "page_events_max"),
    ("limits", "text_chars_max"),
    ("limits", "request_timeout_seconds"),
    ("limits", "concurrency_max"),
    ("limits", "rate_per_second"),
    ("limits", "rate_burst"),
    ("limits", "page_cases_max"),
    ("limits", "read_wait_ms"),
    ("tokens", "lifetime_days"),
    ("bootstrap", "root_unit_name"),
    ("bootstrap", "admin_name"),
    ("privacy", "master_key_file"),
    ("log", "durability"),
    ("log", "batch_window_ms"),
    ("log", "cache_mb"),
];

/// Longest batching window a configuration may set: every append waits up
/// to it, so more than a second would make the service feel broken.
const BATCH_WINDOW_MS_MAX: u64 = 1_000;

/// Largest log page cache a configuration may set, in MiB.
const CACHE_MB_MAX: u64 = 65_536;

/// Longest read-your-writes wait a configuration may set: beyond a few
/// seconds a client is better told to retry than kept waiting.
const READ_WAIT_MS_MAX: u64 = 30_000;

/// Longest token lifetime a configuration may set.
const TOKEN_LIFETIME_DAYS_MAX: u32 = 366;

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory: `log/` (the event log) and `auth/` (token hashes).
    pub data_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// `tracing` filter (`info`, `casebook_api=debug`…); `RUST_LOG` wins.
    pub log_filter: String,
    /// The API's limits.
    pub api: ApiConfig,
    /// The root unit's name on the first start.
    pub root_unit_name: String,
    /// The first administrator's name.
    pub admin_name: String,
    /// Deadlines, time zone, topics.
    pub policy: Policy,
    /// The file holding the master key that wraps the household keys;
    /// `CASEBOOK_MASTER_KEY` (the key itself, hex) wins over it.
    pub master_key_file: PathBuf,
    /// How the event log is opened: its durability mode and cache.
    pub log: LogOptions,
}

impl Config {
    /// The master key: `CASEBOOK_MASTER_KEY` if set, else the key file
    /// (made on first use). Errors name the source, never the key.
    pub fn master_key(&self) -> Result<MasterKey, CliError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => MasterKey::from_hex(&text).map_err(|e| CliError::Config {
                file: MASTER_KEY_ENV.to_owned(),
                message: e.to_string(),
            }),
            Err(_) => {
                MasterKey::load_or_create(&self.master_key_file).map_err(|e| CliError::Config {
                    file: "privacy.master_key_file".to_owned(),
                    message: e.to_string(),
                })
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    tokens: RawTokens,
    #[serde(default)]
    bootstrap: RawBootstrap,
    policy: Option<Policy>,
    #[serde(default)]
    privacy: RawPrivacy,
    #[serde(default)]
    log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    durability: Option<String>,
    batch_window_ms: Option<u64>,
    cache_mb: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivacy {
    master_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    log_format: Option<String>,
    log_filter: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    body_bytes_max: Option<usize>,
    sync_commands_max: Option<usize>,
    page_events_max: Option<usize>,
    text_chars_max: Option<usize>,
    request_timeout_seconds: Option<u64>,
    concurrency_max: Option<usize>,
    rate_per_second: Option<u32>,
    rate_burst: Option<u32>,
    page_cases_max: Option<usize>,
    read_wait_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    lifetime_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBootstrap {
    root_unit_name: Option<String>,
    admin_name: Option<String>,
}

/// What flags may override.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
}

/// Reads, layers and validates the configuration.
pub fn load(overrides: Overrides) -> Result<Config, CliError> {
    let (source, text) = read_file(overrides.config.as_deref())?;
    let error = |message: String| CliError::Config {
        file: source.clone(),
        message,
    };
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| error(e.message().to_owned()))?;
    apply_env(&mut table);
    let raw: Raw = table
        .try_into()
        .map_err(|e: toml::de::Error| error(e.message().to_owned()))?;
    validate(raw, overrides).map_err(error)
}

fn read_file(path: Option<&Path>) -> Result<(String, String), CliError> {
    let (path, required) = match path {
        Some(path) => (path.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path.display().to_string(), text)),
        Err(_) if !required => Ok(("defaults".to_owned(), String::new())),
        Err(e) => Err(CliError::Config {
            file: path.display().to_string(),
            message: format!("cannot be read: {e}"),
        }),
    }
}

/// Sets every `CASEBOOK_<SECTION>_<KEY>` found in the environment.
fn apply_env(table: &mut toml::Table) {
    for (section, key) in ENV_SETTINGS {
        let name = format!("CASEBOOK_{}_{}", section.to_uppercase(), key.to_uppercase());
        let Ok(value) = std::env::var(&name) else {
            continue;
        };
        let value = match value.parse::<i64>() {
            Ok(n) => toml::Value::Integer(n),
            Err(_) => toml::Value::String(value),
        };
        let entry = table
            .entry((*section).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(section) = entry {
            section.insert((*key).to_owned(), value);
        }
    }
}

fn positive<T: PartialOrd + Default + Copy>(
    name: &str,
    value: Option<T>,
    default: T,
) -> Result<T, String> {
    let value = value.unwrap_or(default);
    if value <= T::default() {
        return Err(format!("`{name}` must be greater than 0"));
    }
    Ok(value)
}

/// `limits.page_cases_max`: at least 1, at most the views' own bound.
fn page_cases_max(value: Option<usize>) -> Result<usize, String> {
    let max = casebook_api::config::PAGE_CASES_MAX;
    let value = positive("limits.page_cases_max", value, max)?;
    if value > max {
        return Err(format!("`limits.page_cases_max` must be at most {max}"));
    }
    Ok(value)
}

/// `limits.read_wait_ms`: 0 (never wait) to [`READ_WAIT_MS_MAX`].
fn read_wait(value: Option<u64>, default: Duration) -> Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(ms) if ms <= READ_WAIT_MS_MAX => Ok(Duration::from_millis(ms)),
        Some(_) => Err(format!(
            "`limits.read_wait_ms` must be between 0 and {READ_WAIT_MS_MAX}"
        )),
    }
}

/// `[log]`: the durability mode (`immediate`, or `batched` with its
/// window) and the page cache.
fn log_options(raw: RawLog) -> Result<LogOptions, String> {
    let defaults = LogOptions::default();
    let window_ms = raw.batch_window_ms.unwrap_or(10);
    if window_ms == 0 || window_ms > BATCH_WINDOW_MS_MAX {
        return Err(format!(
            "`log.batch_window_ms` must be between 1 and {BATCH_WINDOW_MS_MAX}"
        ));
    }
    let durability = match raw.durability.as_deref().unwrap_or("immediate") {
        "immediate" => Durability::Immediate,
        "batched" => Durability::Batched(Duration::from_millis(window_ms)),
        other => {
            return Err(format!(
                "`log.durability` = {other:?}: must be \"immediate\" or \"batched\""
            ))
        }
    };
    let cache_mb = raw
        .cache_mb
        .unwrap_or(defaults.cache_capacity_bytes / (1024 * 1024));
    if cache_mb == 0 || cache_mb > CACHE_MB_MAX {
        return Err(format!(
            "`log.cache_mb` must be between 1 and {CACHE_MB_MAX}"
        ));
    }
    Ok(LogOptions {
        cache_capacity_bytes: cache_mb * 1024 * 1024,
        durability,
    })
}

fn validate(raw: Raw, overrides: Overrides) -> Result<Config, String> {
    let listen = match (overrides.listen, raw.server.listen) {
        (Some(addr), _) => addr,
        (None, Some(text)) => text
            .parse()
            .map_err(|e| format!("`server.listen` = {text:?}: {e}"))?,
        (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let log_format = match raw.server.log_format.as_deref().unwrap_or("text") {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(format!(
                "`server.log_format` = {other:?}: must be \"text\" or \"json\""
            ))
        }
    };
    let defaults = ApiConfig::default();
    let l = raw.limits;
    let lifetime_days = raw
        .tokens
        .lifetime_days
        .unwrap_or(defaults.token_lifetime_days);
    if lifetime_days == 0 || lifetime_days > TOKEN_LIFETIME_DAYS_MAX {
        return Err(format!(
            "`tokens.lifetime_days` must be between 1 and {TOKEN_LIFETIME_DAYS_MAX}"
        ));
    }
    let timeout_s = positive(
        "limits.request_timeout_seconds",
        l.request_timeout_seconds,
        defaults.request_timeout.as_secs(),
    )?;
    let api = ApiConfig {
        body_bytes_max: positive(
            "limits.body_bytes_max",
            l.body_bytes_max,
            defaults.body_bytes_max,
        )?,
        sync_commands_max: positive(
            "limits.sync_commands_max",
            l.sync_commands_max,
            defaults.sync_commands_max,
        )?,
        page_events_max: positive(
            "limits.page_events_max",
            l.page_events_max,
            defaults.page_events_max,
        )?,
        text_chars_max: positive(
            "limits.text_chars_max",
            l.text_chars_max,
            defaults.text_chars_max,
        )?,
        request_timeout: Duration::from_secs(timeout_s),
        concurrency_max: positive(
            "limits.concurrency_max",
            l.concurrency_max,
            defaults.concurrency_max,
        )?,
        rate_per_second: positive(
            "limits.rate_per_second",
            l.rate_per_second,
            defaults.rate_per_second,
        )?,
        rate_burst: positive("limits.rate_burst", l.rate_burst, defaults.rate_burst)?,
        token_lifetime_days: lifetime_days,
        page_cases_max: page_cases_max(l.page_cases_max)?,
        read_wait: read_wait(l.read_wait_ms, defaults.read_wait)?,
    };
    let data_dir = overrides
        .data
        .or(raw.server.data_dir)
        .unwrap_or_else(|| PathBuf::from("data"));
    let master_key_file = match raw.privacy.master_key_file {
        Some(path) if !path.as_os_str().is_empty() => path,
        _ => data_dir.join(MASTER_KEY_FILE),
    };
    Ok(Config {
        log: log_options(raw.log)?,
        listen,
        data_dir,
        master_key_file,
        log_format,
        log_filter: raw.server.log_filter.unwrap_or_else(|| "info".to_owned()),
        api,
        root_unit_name: raw
            .bootstrap
            .root_unit_name
            .unwrap_or_else(|| "Bộ Chỉ huy Bộ đội Biên phòng tỉnh".to_owned()),
        admin_name: raw
            .bootstrap
            .admin_name
            .unwrap_or_else(|| "Quản trị viên".to_owned()),
        policy: raw.policy.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn shipped() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/casebook.toml")
    }

    #[test]
    fn the_shipped_file_holds_exactly_the_defaults() {
        let from_file = load(Overrides {
            config: Some(shipped()),
            ..Overrides::default()
        })
        .unwrap();
        let defaults = validate(Raw::default(), Overrides::default()).unwrap();
        assert_eq!(from_file.listen, defaults.listen);
        assert_eq!(from_file.data_dir, defaults.data_dir);
        assert_eq!(from_file.api, defaults.api);
        assert_eq!(from_file.policy, defaults.policy);
        assert_eq!(from_file.root_unit_name, defaults.root_unit_name);
        assert_eq!(from_file.log_filter, defaults.log_filter);
        assert_eq!(from_file.master_key_file, defaults.master_key_file);
        assert_eq!(from_file.log.durability, defaults.log.durability);
        assert_eq!(
            from_file.log.cache_capacity_bytes,
            defaults.log.cache_capacity_bytes
        );
    }

    #[test]
    fn the_durability_mode_is_read_and_checked() {
        let raw: Raw =
            toml::from_str("[log]\ndurability = \"batched\"\nbatch_window_ms = 25\n").unwrap();
        let config = validate(raw, Overrides::default()).unwrap();
        assert_eq!(
            config.log.durability,
            Durability::Batched(Duration::from_millis(25))
        );
        for bad in [
            "[log]\ndurability = \"never\"\n",
            "[log]\nbatch_window_ms = 0\n",
            "[log]\nbatch_window_ms = 5000\n",
            "[log]\ncache_mb = 0\n",
        ] {
            let raw: Raw = toml::from_str(bad).unwrap();
            let error = validate(raw, Overrides::default()).unwrap_err();
            assert!(error.contains("`log."), "{bad}: {error}");
        }
    }

    #[test]
    fn a_bad_value_names_the_setting() {
        let raw: Raw = toml::from_str("[limits]\nrate_burst = 0\n").unwrap();
        let error = validate(raw, Overrides::default()).unwrap_err();
        assert!(error.contains("limits.rate_burst"), "{error}");
        let raw: Raw = toml::from_str("[limits]\npage_cases_max = 201\n").unwrap();
        let error = validate(raw, Overrides::default()).unwrap_err();
        assert!(error.contains("limits.page_cases_max"), "{error}");
        let raw: Raw = toml::from_str("[limits]\nread_wait_ms = 60000\n").unwrap();
        let error = validate(raw, Overrides::default()).unwrap_err();
        assert!(error.contains("limits.read_wait_ms"), "{error}");
        let raw: Raw = toml::from_str("[server]\nlog_format = \"xml\"\n").unwrap();
        let error = validate(raw, Overrides::default()).unwrap_err();
        assert!(error.contains("server.log_format"), "{error}");
    }
}
