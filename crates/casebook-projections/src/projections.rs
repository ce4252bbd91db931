//! The [`Projections`] handle: opens the views' database, starts a worker
//! per view, answers status, `wait_for` and `rebuild`, and the queries.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use casebook_domain::{ConcernId, Policy};
use casebook_log::{Position, SledLog};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cases::{self, CaseFilter, CasePage, CaseRow, CaseSort, CasesView};
use crate::error::{ProjectionError, Result};
use crate::feed::Feed;
use crate::figures::{self, FiguresReport, FiguresView, Granularity};
use crate::households::{self, HouseholdRow, HouseholdsView};
use crate::keyed_view::{KeyedFactory, KeyedTarget, KeyedView};
use crate::members::{self, MemberWorkload, MembersView};
use crate::row_cache::RowCache;
use crate::search::{self, SearchFactory, SearchHit, SearchServing, SearchTarget};
use crate::units;
use crate::view_file::ViewFiles;
use crate::view_tree::Published;
use crate::watcher::{self, Clock, WatchReport, Watcher};
use crate::worker::{self, Active, Factory, Health, Registry, Role, Slot, Target, WorkerSpec};

/// The directory of the views' registry (which generation of each view
/// serves, a sled database) and of the keyed views' saved files, under the
/// data directory.
pub const VIEWS_DIR: &str = "views";
/// The keyed views' saved files, under [`VIEWS_DIR`].
const FILES_DIR: &str = "saved";
/// The registry's sled database, under [`VIEWS_DIR`].
const REGISTRY_DIR: &str = "registry";
/// The directory of the search index's generations, under the data directory.
pub const SEARCH_DIR: &str = "search";

/// How one view is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewStatus {
    /// The view.
    pub name: String,
    /// The version of the code that builds it.
    pub version: u32,
    /// Its serving generation.
    pub generation: u64,
    /// Running, rebuilding or failed.
    pub health: Health,
    /// Events the serving generation has applied.
    pub applied: u64,
    /// Durable events in the log.
    pub head: u64,
    /// Events it is behind the head.
    pub lag_events: u64,
    /// How long ago the oldest event it has not applied was recorded (0 when caught up).
    pub lag_ms: u64,
}

/// Starts a worker; called once by `start`.
type Starter = Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send>;
/// Starts a rebuild; `Ok(None)` if one is already running.
type Rebuilder = Box<dyn Fn() -> Result<Option<tokio::task::JoinHandle<()>>> + Send + Sync>;

/// A view set up by `open`: its slot, its entry, its worker's start.
type Prepared<S> = (Arc<Slot<S>>, Entry, Starter);

/// What every view looks like to the handle, whatever it stores.
struct Entry {
    name: &'static str,
    version: u32,
    generation: Box<dyn Fn() -> u64 + Send + Sync>,
    health: Box<dyn Fn() -> Health + Send + Sync>,
    applied: Box<dyn Fn() -> watch::Receiver<u64> + Send + Sync>,
    rebuild: Rebuilder,
}

/// The views, their workers and their queries. Cheap to clone.
#[derive(Clone)]
pub struct Projections {
    inner: Arc<Inner>,
}

struct Inner {
    log: SledLog,
    policy: Policy,
    cases: Arc<Slot<Published>>,
    /// The case rows lists read recently, decoded.
    case_rows: RowCache,
    figures: Arc<Slot<Published>>,
    households: Arc<Slot<Published>>,
    members: Arc<Slot<Published>>,
    search: Arc<Slot<SearchServing>>,
    entries: Vec<Entry>,
    starters: Mutex<Vec<Starter>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.inner.entries.iter().map(|e| e.name).collect();
        f.debug_struct("Projections")
            .field("views", &names)
            .finish()
    }
}

/// What `open` needs to set up one view.
struct Setup<'a> {
    log: &'a SledLog,
    feed: &'a Arc<Feed>,
    registry: &'a Registry,
    shutdown: &'a watch::Sender<bool>,
}

impl Setup<'_> {
    /// Opens the serving generation of a view (or starts building the
    /// current version beside an older one) and prepares its worker.
    fn view<T: Target>(
        &self,
        name: &'static str,
        version: u32,
        factory: Arc<dyn Factory<T>>,
    ) -> Result<Prepared<T::Serving>> {
        let active = self.registry.active(name)?;
        let (serving, applied, generation, target, role) = match active {
            Some(a) if a.version == version => {
                let target = factory.open(version, a.generation)?;
                let applied = target.checkpoint()?.map_or(0, |p| p + 1);
                let role = Role::Serving {
                    generation: a.generation,
                };
                (target.serving(), applied, a.generation, target, role)
            }
            Some(old) => {
                let old_target = factory.open(old.version, old.generation)?;
                let applied = old_target.checkpoint()?.map_or(0, |p| p + 1);
                let generation = old.generation + 1;
                factory.discard(version, generation)?;
                let target = factory.open(version, generation)?;
                let role = Role::Building {
                    generation,
                    replaces: old,
                };
                (old_target.serving(), applied, old.generation, target, role)
            }
            None => {
                let target = factory.open(version, 0)?;
                self.registry.set_active(
                    name,
                    Active {
                        version,
                        generation: 0,
                    },
                )?;
                (
                    target.serving(),
                    0,
                    0,
                    target,
                    Role::Serving { generation: 0 },
                )
            }
        };
        let slot = Arc::new(Slot::new(name, version, serving, applied, generation));
        let spec = WorkerSpec {
            log: self.log.clone(),
            feed: self.feed.clone(),
            slot: slot.clone(),
            factory,
            registry: self.registry.clone(),
            shutdown: self.shutdown.subscribe(),
        };
        let entry = entry(spec.clone());
        let starter: Starter = Box::new(move || worker::spawn(spec, target, role));
        Ok((slot, entry, starter))
    }
}

fn entry<T: Target>(spec: WorkerSpec<T>) -> Entry {
    let (s1, s2, s3) = (spec.slot.clone(), spec.slot.clone(), spec.slot.clone());
    Entry {
        name: spec.slot.name,
        version: spec.slot.version,
        generation: Box::new(move || s1.generation()),
        health: Box::new(move || s2.health()),
        applied: Box::new(move || s3.watch_applied()),
        rebuild: Box::new(move || worker::start_rebuild(spec.clone())),
    }
}

fn keyed_view<V: KeyedView>(
    setup: &Setup<'_>,
    files: &ViewFiles,
    view: V,
) -> Result<Prepared<Published>> {
    let factory: Arc<dyn Factory<KeyedTarget<V>>> =
        Arc::new(KeyedFactory::new(files.clone(), view));
    setup.view(V::NAME, V::VERSION, factory)
}

/// Removes what an older version kept in the views' directory (the views
/// as sled trees, in a database of their own there): everything but the
/// registry and the saved files. The views are built again from the log.
fn remove_old_storage(views_dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(views_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name() == REGISTRY_DIR || entry.file_name() == FILES_DIR {
            continue;
        }
        tracing::info!(path = %entry.path().display(), "removing the views' old storage");
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The files of the generations the registry names; every other file in
/// the directory (an old generation, a save cut short) is removed.
fn files_kept(registry: &Registry, files: &ViewFiles) -> Result<Vec<std::path::PathBuf>> {
    let mut kept = Vec::new();
    for name in [
        CasesView::NAME,
        FiguresView::NAME,
        HouseholdsView::NAME,
        MembersView::NAME,
    ] {
        if let Some(active) = registry.active(name)? {
            kept.push(files.path(name, active.version, active.generation));
        }
    }
    Ok(kept)
}

impl Projections {
    /// Opens the views under `<data_dir>/views` over `log`, loading the
    /// keyed views from their files. Call [`Projections::start`] inside a
    /// tokio runtime to run the workers.
    pub fn open(log: SledLog, data_dir: impl AsRef<Path>, policy: Policy) -> Result<Self> {
        let views_dir = data_dir.as_ref().join(VIEWS_DIR);
        remove_old_storage(&views_dir)?;
        let config = sled::Config::new().path(views_dir.join(REGISTRY_DIR));
        let db = casebook_log::open_sled_when_released(&config)?;
        let registry = Registry::open(&db)?;
        let files = ViewFiles::new(views_dir.join(FILES_DIR));
        files.tidy(&files_kept(&registry, &files)?)?;
        let (shutdown, _) = watch::channel(false);
        let feed = Arc::new(Feed::new(log.clone()));
        let setup = Setup {
            log: &log,
            feed: &feed,
            registry: &registry,
            shutdown: &shutdown,
        };
        let (cases, cases_entry, cases_start) = keyed_view(&setup, &files, CasesView)?;
        let figures_view = FiguresView {
            policy: policy.clone(),
        };
        let (figures, figures_entry, figures_start) = keyed_view(&setup, &files, figures_view)?;
        let (households, households_entry, households_start) =
            keyed_view(&setup, &files, HouseholdsView)?;
        let (members, members_entry, members_start) = keyed_view(&setup, &files, MembersView)?;
        let search_factory: Arc<dyn Factory<SearchTarget>> = Arc::new(SearchFactory {
            root: data_dir.as_ref().join(SEARCH_DIR),
        });
        let (search, search_entry, search_start) =
            setup.view(search::NAME, search::VERSION, search_factory)?;
        let entries = vec![
            cases_entry,
            figures_entry,
            households_entry,
            members_entry,
            search_entry,
        ];
        let starters = vec![
            cases_start,
            figures_start,
            households_start,
            members_start,
            search_start,
        ];
        Ok(Self {
            inner: Arc::new(Inner {
                log,
                policy,
                cases,
                case_rows: RowCache::default(),
                figures,
                households,
                members,
                search,
                entries,
                starters: Mutex::new(starters),
                tasks: Mutex::new(Vec::new()),
                shutdown,
            }),
        })
    }

    /// Starts every worker (once; later calls do nothing).
    pub fn start(&self) {
        let starters = match self.inner.starters.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        let handles: Vec<_> = starters.into_iter().map(|start| start()).collect();
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.extend(handles);
        }
    }

    /// Stops every worker and waits for them; what they applied is saved
    /// (a crash instead replays the log from the last save).
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let tasks = match self.inner.tasks.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Starts the deadline watcher on the current tokio runtime: it looks
    /// at once, then every `interval` (see [`watcher::WATCH_INTERVAL`]),
    /// reading `clock`, and stops with [`Projections::shutdown`]. The
    /// receiver sees each tick's report.
    pub fn watch_deadlines(
        &self,
        clock: impl Clock,
        interval: Duration,
    ) -> watch::Receiver<WatchReport> {
        let watcher = Watcher {
            log: self.inner.log.clone(),
            policy: self.inner.policy.clone(),
            cases: self.inner.cases.clone(),
            figures: self.inner.figures.clone(),
            given: std::collections::HashSet::new(),
        };
        let (reports, receiver) = watch::channel(WatchReport::default());
        let task = tokio::spawn(watcher::run(
            watcher,
            Arc::new(clock),
            interval,
            reports,
            self.inner.shutdown.subscribe(),
        ));
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.push(task);
        }
        receiver
    }

    /// The policy queries judge deadlines by.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// How every view is doing.
    pub fn status(&self) -> Result<Vec<ViewStatus>> {
        let head = self.inner.log.len();
        self.inner
            .entries
            .iter()
            .map(|e| {
                let applied = *(e.applied)().borrow();
                Ok(ViewStatus {
                    name: e.name.to_owned(),
                    version: e.version,
                    generation: (e.generation)(),
                    health: (e.health)(),
                    applied,
                    head,
                    lag_events: head.saturating_sub(applied),
                    lag_ms: self.lag_ms(applied, head)?,
                })
            })
            .collect()
    }

    fn lag_ms(&self, applied: u64, head: u64) -> Result<u64> {
        if applied >= head {
            return Ok(0);
        }
        let oldest = self.inner.log.get(applied)?;
        let age = oldest.map_or(0, |e| (Utc::now() - e.recorded_at).num_milliseconds());
        Ok(u64::try_from(age).unwrap_or(0))
    }

    /// Returns once every view has applied `position` (read-your-writes
    /// after an append), or fails after `timeout`, or at once if a view has
    /// stopped before reaching it.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> Result<()> {
        let all = async {
            for e in &self.inner.entries {
                let mut applied = (e.applied)();
                loop {
                    if *applied.borrow_and_update() > position {
                        break;
                    }
                    if let Health::Failed {
                        position: at,
                        event_type,
                        reason,
                    } = (e.health)()
                    {
                        return Err(ProjectionError::Stopped {
                            view: e.name,
                            position: at,
                            event_type,
                            reason,
                        });
                    }
                    // Woken by progress; a failure is seen at the latest on the timeout.
                    applied
                        .changed()
                        .await
                        .map_err(|_| ProjectionError::ShutDown)?;
                }
            }
            Ok(())
        };
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        tokio::time::timeout(timeout, all)
            .await
            .map_err(|_| ProjectionError::Timeout {
                position,
                timeout_ms,
            })?
    }

    /// Rebuilds a view from the start of the log into a new generation while
    /// the current one serves; swaps when caught up. `Ok(false)` if a
    /// rebuild of that view is already running. Call it inside the tokio
    /// runtime that runs the workers; [`Projections::shutdown`] waits for it.
    pub fn rebuild(&self, name: &str) -> Result<bool> {
        let entry = self
            .inner
            .entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| ProjectionError::UnknownView(name.to_owned()))?;
        let Some(handle) = (entry.rebuild)()? else {
            return Ok(false);
        };
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.push(handle);
        }
        Ok(true)
    }

    /// The names of every view.
    pub fn view_names(&self) -> Vec<&'static str> {
        self.inner.entries.iter().map(|e| e.name).collect()
    }

    /// One case, as the cases view holds it (without the sealed informant).
    pub fn case(&self, id: ConcernId) -> Result<Option<CaseRow>> {
        cases::get(&self.inner.cases.serving().tree(), id)
    }

    /// One page of cases in a jurisdiction; see [`CaseFilter`].
    pub fn cases(
        &self,
        filter: &CaseFilter,
        sort: CaseSort,
        limit: usize,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CasePage> {
        let tree = self.inner.cases.serving().tree();
        let rows = &self.inner.case_rows;
        cases::list(
            &tree,
            rows,
            &self.inner.policy,
            filter,
            sort,
            limit,
            cursor,
            now,
        )
    }

    /// The resolution figures of `unit`'s jurisdiction for the days
    /// `[from, to]` (whole periods of `granularity`), at `now`.
    pub fn figures(
        &self,
        unit: casebook_domain::UnitId,
        granularity: Granularity,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<FiguresReport> {
        figures::report(
            &self.inner.figures.serving().tree(),
            unit,
            granularity,
            from,
            to,
            now,
        )
    }

    /// One household: its members now and before, its cases, its last visit.
    pub fn household(&self, id: casebook_domain::HouseholdId) -> Result<Option<HouseholdRow>> {
        households::get(&self.inner.households.serving().tree(), id)
    }

    /// A member's workload at `now`: households assigned now, open and
    /// overdue cases, visits in the last 30 days, and the households not
    /// visited in the `not_visited_days` before `now`. `None` for a person
    /// the view has never seen assigned to anything.
    pub fn member(
        &self,
        member: casebook_domain::PersonId,
        now: DateTime<Utc>,
        not_visited_days: u32,
    ) -> Result<Option<MemberWorkload>> {
        members::workload(
            &self.inner.members.serving().tree(),
            member,
            now,
            not_visited_days,
        )
    }

    /// Cases in `unit`'s jurisdiction whose text holds every word of
    /// `query`, diacritics or not; those matching as written come first.
    /// At most `limit` (≤ [`search::SEARCH_HITS_MAX`]) hits. The hits carry
    /// text: the caller checks that the reader may see each case.
    pub fn search(
        &self,
        unit: casebook_domain::UnitId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let tree = self.inner.cases.serving().tree();
        let roots = units::jurisdiction_roots(
            &tree,
            <CasesView as crate::keyed_view::KeyedView>::NAME,
            unit,
        )?;
        let hamlets = units::below(
            &tree,
            <CasesView as crate::keyed_view::KeyedView>::NAME,
            &roots,
        )?;
        search::search(&self.inner.search.serving(), query, &hamlets, limit)
    }

    /// Every entry of a view's serving generation, in key order, without
    /// its checkpoint (for the search index: each document's case, hamlet
    /// and text as JSON). For tests and audits that compare a view with
    /// one rebuilt from scratch; it reads the whole view.
    pub fn view_contents(&self, name: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let slot = match name {
            "cases" => &self.inner.cases,
            "figures" => &self.inner.figures,
            "households" => &self.inner.households,
            "members" => &self.inner.members,
            "search" => {
                let docs = search::contents(&self.inner.search.serving())?;
                return docs
                    .into_iter()
                    .map(|d| Ok((d[0].clone().into_bytes(), serde_json::to_vec(&d)?)))
                    .collect();
            }
            other => return Err(ProjectionError::UnknownView(other.to_owned())),
        };
        let mut out = Vec::new();
        for (k, v) in slot.serving().tree().iter() {
            if k.as_ref() != crate::keys::CHECKPOINT_KEY {
                out.push((k.to_vec(), v.to_vec()));
            }
        }
        Ok(out)
    }

    /// Open cases in `unit`'s subtree whose deadline clock runs and whose
    /// deadline is before `until`, earliest first: the deadline watcher's
    /// work list, and "due soon" lists.
    pub fn deadlines_before(
        &self,
        unit: casebook_domain::UnitId,
        until: DateTime<Utc>,
    ) -> Result<Vec<(ConcernId, DateTime<Utc>)>> {
        figures::deadlines_before(&self.inner.figures.serving().tree(), unit, until)
    }
}
