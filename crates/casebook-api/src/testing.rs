//! What the crate's router tests share: a bootstrapped data directory and a
//! started state over it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use casebook_domain::Policy;
use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;

use crate::bootstrap::{bootstrap, BootstrapNames, Bootstrapped};
use crate::{ApiConfig, AppState, Stores};

/// A fresh data directory with a root unit and an administrator.
pub(crate) async fn bootstrapped(root_unit: &str) -> (tempfile::TempDir, Stores, Bootstrapped) {
    let dir = tempfile::tempdir().unwrap();
    let stores = Stores::open(dir.path(), Policy::default()).unwrap();
    let names = BootstrapNames {
        root_unit: root_unit.to_owned(),
        admin: "Quản trị".to_owned(),
    };
    let done = bootstrap(&stores.log, &stores.tokens, &names, TimeDelta::days(1))
        .await
        .unwrap()
        .unwrap();
    (dir, stores, done)
}

/// The state over `stores`, with the default policy and limits.
pub(crate) async fn started(stores: Stores) -> AppState {
    let (state, _task) = AppState::start(
        stores,
        Policy::default(),
        ApiConfig::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    state
}
