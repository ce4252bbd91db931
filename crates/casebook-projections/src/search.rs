//! The search view: full text over each case's text, in a tantivy index,
//! ignoring Vietnamese diacritics but ranking exact matches first.
//!
//! Each case is one document with its id (stored only: a case is indexed
//! once, when reported, and the checkpoint in the commit payload keeps it
//! from being indexed twice), its hamlet, and its text twice:
//! `text` as written (NFC, lowercased by the tokenizer, stored for
//! snippets) and `folded` with every diacritic removed and `đ` made `d`
//! ([`fold`]). A query is normalised the same two ways; the hits of the
//! exact field come first, then the hits of the folded field that were not
//! already there, each group by score. So "tam tu nguyen vong" finds "tâm
//! tư nguyện vọng", "dong" finds "đồng", and a query typed with its marks
//! puts the cases written with those very marks first.
//!
//! **Exactly once.** The checkpoint is the commit payload: tantivy writes
//! the documents of a commit and its payload in one atomic switch of
//! `meta.json`, so after a crash the index holds exactly the events up to
//! the payload's position, and the worker replays from there.
//!
//! **Lag.** A commit costs several fsyncs, so the index commits at most
//! every [`COMMIT_INTERVAL`] (or [`RECENT_DOCS_MAX`] documents, or
//! [`COMMIT_EVENTS_MAX`] events). Documents applied since the last commit
//! are kept in memory beside the index (`Recent`) and searched there too,
//! so a case is searchable as soon as the view reports its position
//! applied. A crash loses only that memory, and the replay from the
//! committed checkpoint puts it back. The worker only flushes a live
//! commit's documents; tantivy's own thread writes and syncs it while the
//! worker goes on applying, and the memory drops the documents the commit
//! holds once it is done (seen at the next batch). A catch-up batch keeps
//! no copy in memory, so it waits for its commit.
//!
//! **Jurisdiction.** A document carries its hamlet; a query keeps the
//! hamlets below the caller's unit (read from the cases view's unit tree,
//! since units never move).

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use casebook_domain::{ConcernId, Payload, StreamId, UnitId};
use casebook_log::Position;
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{doc, DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};
use tantivy::{FutureResult, Opstamp, Searcher, Term};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::decode::Decoded;
use crate::error::{ProjectionError, Result};
use crate::feed::Batch;
use crate::worker::{Factory, Target};

/// The view's name, as in the status and the registry.
pub const NAME: &str = "search";
/// The version of the code that builds it; bump it when the schema or the
/// folding changes, and the index is rebuilt in the background. 2: the case
/// id is stored, not indexed (its 111,594 distinct terms were a third of
/// the indexing thread's time in a rebuild, building the term dictionary,
/// and most of the merges'; nothing searched by it), and the words are
/// indexed without their positions (no query needs them).
pub const VERSION: u32 = 2;

/// Most hits one query answers: a screenful of results, and a bounded cost.
pub const SEARCH_HITS_MAX: usize = 100;
/// Longest query accepted, in bytes: a sentence; longer is a paste error.
const QUERY_BYTES_MAX: usize = 1_000;
/// Events applied without a commit at most: bounds the replay after a
/// restart when a long run of events adds no document.
pub const COMMIT_EVENTS_MAX: u64 = 10_000;
/// Longest time documents stay only in memory (searchable, not yet
/// committed): a commit costs several fsyncs (tens of ms), and committing
/// every small batch on the worker's thread was the whole projection lag
/// (p99 150 ms at 200 appends/s). Every 5 s, with tantivy's own thread
/// writing the commit, and a crash replays at most 5 s of events.
pub const COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// Most documents kept only in memory: bounds the memory (a few kB a
/// document with its word sets) and the linear scan that searches them; a
/// rebuild's large batches commit each time. Under a steady 5,000 reports
/// a second a bound of 2,000 committed every 0.4 s, and the segments'
/// writing and merging took 5 % of the server's samples; 10,000 lets the 5 s
/// interval do most commits (`docs/PERFORMANCE.md`).
pub const RECENT_DOCS_MAX: usize = 10_000;
/// Memory of the index writer: tantivy's minimum is 15 MB per thread; 64 MB
/// holds a rebuild batch of documents without flushing mid-batch.
const WRITER_HEAP_BYTES: usize = 64_000_000;
/// Events in a batch from which it is a catch-up (a rebuild, a restart
/// behind the head): committed at its end, without copies in memory.
/// Live batches are a few events.
const CATCH_UP_EVENTS_MIN: usize = 1_024;
/// Characters of text shown when a hit has no highlighted fragment.
const SNIPPET_CHARS_MAX: usize = 150;

/// Replaces every Vietnamese letter by its base letter: NFD, combining
/// marks dropped, `đ`/`Đ` to `d`, lowercased. "Đồng" → "dong".
///
/// Character by character: every character that NFD would reorder is a
/// combining mark, which is dropped, so decomposing each character alone
/// gives what NFD of the whole text gives, without its buffering (a test
/// checks this for every character).
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            folded.push(c.to_ascii_lowercase());
            continue;
        }
        unicode_normalization::char::decompose_canonical(c, |part| match part {
            'đ' | 'Đ' => folded.push('d'),
            part if unicode_normalization::char::is_combining_mark(part) => {}
            part => folded.extend(part.to_lowercase()),
        });
    }
    folded
}

/// The text as indexed in the exact field: NFC (so that decomposed input
/// matches composed text). Text already in NFC, as the commands store it,
/// is copied without composing it again.
pub fn exact(text: &str) -> String {
    match unicode_normalization::is_nfc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => text.to_owned(),
        _ => text.nfc().collect(),
    }
}

/// The fields of the index.
#[derive(Debug, Clone, Copy)]
struct Fields {
    case_id: Field,
    hamlet: Field,
    text: Field,
    folded: Field,
}

fn schema() -> (Schema, Fields) {
    // Words with their frequencies, without positions: queries are sets of
    // words (no phrases), and snippets cut the stored text again.
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let mut b = Schema::builder();
    let fields = Fields {
        case_id: b.add_text_field("case_id", STORED),
        hamlet: b.add_text_field("hamlet", STRING | STORED),
        text: b.add_text_field("text", words.clone() | STORED),
        folded: b.add_text_field("folded", words),
    };
    (b.build(), fields)
}

/// What queries read: a reader over the committed index.
#[derive(Clone)]
pub struct SearchServing {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Documents applied but not yet committed (and so not in `reader`).
    recent: Arc<RwLock<Vec<RecentDoc>>>,
}

/// A document kept in memory until the next commit.
#[derive(Debug, Clone)]
struct RecentDoc {
    case_id: ConcernId,
    hamlet: UnitId,
    text: String,
    /// Its words, cut by the first search that reads them: most documents
    /// are committed before any search comes, and a report costs no
    /// tokenizing beyond tantivy's own.
    words: OnceLock<RecentWords>,
}

/// A recent document's words, as each field's tokenizer cuts them.
#[derive(Debug, Clone)]
struct RecentWords {
    exact: HashSet<String>,
    folded: HashSet<String>,
}

impl RecentDoc {
    fn words(&self, serving: &SearchServing) -> Result<&RecentWords> {
        if let Some(words) = self.words.get() {
            return Ok(words);
        }
        let f = serving.fields;
        let words = RecentWords {
            exact: serving.words(f.text, &self.text)?.into_iter().collect(),
            folded: serving
                .words(f.folded, &fold(&self.text))?
                .into_iter()
                .collect(),
        };
        Ok(self.words.get_or_init(|| words))
    }
}

impl SearchServing {
    fn recent(&self) -> std::sync::RwLockReadGuard<'_, Vec<RecentDoc>> {
        self.recent.read().unwrap_or_else(|p| p.into_inner())
    }

    fn recent_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<RecentDoc>> {
        self.recent.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The words of `text` as `field`'s tokenizer cuts them.
    fn words(&self, field: Field, text: &str) -> Result<Vec<String>> {
        let mut analyzer = self.index.tokenizer_for_field(field)?;
        let mut stream = analyzer.token_stream(text);
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            words.push(token.text.clone());
        }
        Ok(words)
    }
}

impl std::fmt::Debug for SearchServing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchServing").finish_non_exhaustive()
    }
}

/// One generation of the index, with its writer.
pub struct SearchTarget {
    serving: SearchServing,
    writer: IndexWriter<TantivyDocument>,
    /// Events applied since the last commit.
    uncommitted: u64,
    /// When the last commit was made.
    committed_at: Instant,
    /// The last position applied, committed or not.
    last_applied: Option<Position>,
    /// A commit still being written by tantivy's own thread, and how many
    /// of the recent documents it holds.
    writing: Option<(FutureResult<Opstamp>, usize)>,
}

impl std::fmt::Debug for SearchTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchTarget")
            .field("uncommitted", &self.uncommitted)
            .finish_non_exhaustive()
    }
}

impl Target for SearchTarget {
    type Serving = SearchServing;

    fn checkpoint(&self) -> Result<Option<Position>> {
        let metas = self.serving.index.load_metas()?;
        metas
            .payload
            .map(|p| {
                p.parse::<Position>().map_err(|e| ProjectionError::Corrupt {
                    view: NAME,
                    reason: format!("commit payload `{p}`: {e}"),
                })
            })
            .transpose()
    }

    fn apply(&mut self, events: &Batch, more: bool) -> Result<Option<Position>> {
        self.collect_written()?;
        let Some(last) = events.last() else {
            return Ok(None);
        };
        // A catch-up batch is committed at its end, not kept in memory: its
        // documents need no copy.
        // Committing each one (not once at the end of a rebuild) lets
        // tantivy merge its segments as it goes, not in one long burst.
        let catching_up = more || events.len() >= CATCH_UP_EVENTS_MIN;
        let mut added = Vec::new();
        for event in events.events() {
            if let Some(doc) = self.add(event, !catching_up)? {
                added.push(doc);
            }
        }
        let recent = {
            let mut recent = self.serving.recent_mut();
            recent.extend(added);
            recent.len()
        };
        self.uncommitted += events.len() as u64;
        self.last_applied = Some(last.position);
        let due = recent > 0 && self.committed_at.elapsed() >= COMMIT_INTERVAL;
        if catching_up {
            // Not in memory: searchable only once committed, so wait.
            self.commit(last.position)?;
            self.wait_written()?;
        } else if due || recent >= RECENT_DOCS_MAX || self.uncommitted >= COMMIT_EVENTS_MAX {
            // In memory until then: the commit is written meanwhile.
            self.commit(last.position)?;
        }
        Ok(Some(last.position))
    }

    fn serving(&self) -> SearchServing {
        self.serving.clone()
    }

    fn close(&mut self) -> Result<()> {
        if let Some(last) = self.last_applied.filter(|_| self.uncommitted > 0) {
            self.commit(last)?;
        }
        self.wait_written()
    }
}

impl SearchTarget {
    /// Indexes a reported case: the document for the next commit, and (if
    /// `keep`) its copy for the memory until then.
    fn add(&mut self, event: &Decoded, keep: bool) -> Result<Option<RecentDoc>> {
        let (StreamId::Concern(case), Payload::ConcernReported(e)) =
            (event.stream, &event.event.payload)
        else {
            return Ok(None);
        };
        let f = self.serving.fields;
        let case_id = case.0.to_string();
        let (text, folded) = (exact(&e.text), fold(&e.text));
        if !keep {
            self.writer.add_document(doc!(
                f.case_id => case_id,
                f.hamlet => e.hamlet_id.0.to_string(),
                f.text => text,
                f.folded => folded,
            ))?;
            return Ok(None);
        }
        self.writer.add_document(doc!(
            f.case_id => case_id,
            f.hamlet => e.hamlet_id.0.to_string(),
            f.text => text.clone(),
            f.folded => folded,
        ))?;
        Ok(Some(RecentDoc {
            case_id: case,
            hamlet: e.hamlet_id,
            text,
            words: OnceLock::new(),
        }))
    }

    /// Starts a commit of everything applied, with `checkpoint` as the
    /// payload, after the one still being written (tantivy writes one at a
    /// time). The documents are flushed here; tantivy's own thread then
    /// writes and syncs the commit while the worker goes on applying, and
    /// [`SearchTarget::collect_written`] serves it once it is done.
    fn commit(&mut self, checkpoint: Position) -> Result<()> {
        self.wait_written()?;
        let held = self.serving.recent().len();
        let mut commit = self.writer.prepare_commit()?;
        commit.set_payload(&checkpoint.to_string());
        self.writing = Some((commit.commit_future(), held));
        self.uncommitted = 0;
        self.committed_at = Instant::now();
        Ok(())
    }

    /// Serves the commit being written if it is done, without waiting.
    fn collect_written(&mut self) -> Result<()> {
        let Some((future, held)) = self.writing.as_mut() else {
            return Ok(());
        };
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::Pin::new(future).poll(&mut context) {
            std::task::Poll::Pending => Ok(()),
            std::task::Poll::Ready(result) => {
                let held = *held;
                self.writing = None;
                result?;
                self.serve_written(held)
            }
        }
    }

    /// Waits for the commit being written, and serves it.
    fn wait_written(&mut self) -> Result<()> {
        let Some((future, held)) = self.writing.take() else {
            return Ok(());
        };
        // Not `FutureResult::wait`: it refuses a future already polled.
        futures::executor::block_on(future)?;
        self.serve_written(held)
    }

    /// Serves the committed index in place of the first `held` recent
    /// documents, which it holds now.
    fn serve_written(&mut self, held: usize) -> Result<()> {
        self.serving.reader.reload()?;
        let mut recent = self.serving.recent_mut();
        let held = held.min(recent.len());
        recent.drain(..held);
        Ok(())
    }
}

/// Opens generations of the index under `<data>/search/`.
#[derive(Debug)]
pub struct SearchFactory {
    /// The directory that holds one subdirectory per generation.
    pub root: PathBuf,
}

impl SearchFactory {
    fn dir(&self, version: u32, generation: u64) -> PathBuf {
        self.root.join(format!("v{version}.g{generation}"))
    }
}

impl Factory<SearchTarget> for SearchFactory {
    fn open(&self, version: u32, generation: u64) -> Result<SearchTarget> {
        let dir = self.dir(version, generation);
        std::fs::create_dir_all(&dir)?;
        let directory = MmapDirectory::open(&dir).map_err(tantivy::TantivyError::from)?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(directory, schema)?;
        let writer = index.writer_with_num_threads(1, WRITER_HEAP_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchTarget {
            serving: SearchServing {
                index,
                reader,
                fields,
                recent: Arc::default(),
            },
            writer,
            uncommitted: 0,
            committed_at: Instant::now(),
            writing: None,
            last_applied: None,
        })
    }

    fn discard(&self, version: u32, generation: u64) -> Result<()> {
        let dir = self.dir(version, generation);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The case.
    pub case_id: ConcernId,
    /// Whether it matched the query as written (diacritics and all).
    pub exact: bool,
    /// tantivy's score within its group.
    pub score: f32,
    /// A fragment of the case's text, matched words in `<b>`…`</b>`
    /// (HTML-escaped) for exact hits; the text's beginning otherwise.
    pub snippet: String,
}

/// Cases whose text holds every word of `query`, in the hamlets `hamlets`
/// (the caller's jurisdiction), exact matches first.
pub fn search(
    serving: &SearchServing,
    query: &str,
    hamlets: &[UnitId],
    limit: usize,
) -> Result<Vec<SearchHit>> {
    if query.len() > QUERY_BYTES_MAX {
        return Err(ProjectionError::InvalidQuery(format!(
            "the query is longer than {QUERY_BYTES_MAX} bytes"
        )));
    }
    let limit = limit.clamp(1, SEARCH_HITS_MAX);
    let f = serving.fields;
    let exact_words = serving.words(f.text, &exact(query))?;
    let folded_words = serving.words(f.folded, &fold(query))?;
    if exact_words.is_empty() || folded_words.is_empty() {
        return Err(ProjectionError::InvalidQuery(
            "the query has no word to search for".into(),
        ));
    }
    let within: Box<dyn Query> = Box::new(TermSetQuery::new(
        hamlets
            .iter()
            .map(|h| Term::from_field_text(f.hamlet, &h.0.to_string())),
    ));
    let searcher = serving.reader.searcher();
    let exact_query = BooleanQuery::new(vec![
        (Occur::Must, all_words(f.text, &exact_words)),
        (Occur::Must, within.box_clone()),
    ]);
    let folded_query = BooleanQuery::new(vec![
        (Occur::Must, all_words(f.folded, &folded_words)),
        (Occur::Must, within),
    ]);
    let snippets = SnippetGenerator::create(&searcher, &exact_query, f.text)?;
    let top = TopDocs::with_limit(limit).order_by_score();
    let mut hits = Hits::new(limit);
    for (score, address) in searcher.search(&exact_query, &top)? {
        hits.push(hit(&searcher, f, address, score, Some(&snippets))?);
    }
    let hamlets: HashSet<UnitId> = hamlets.iter().copied().collect();
    push_recent_hits(&mut hits, serving, &hamlets, &exact_words, true)?;
    for (score, address) in searcher.search(&folded_query, &top)? {
        hits.push(hit(&searcher, f, address, score, None)?);
    }
    push_recent_hits(&mut hits, serving, &hamlets, &folded_words, false)?;
    Ok(hits.found)
}

/// Hits in order, each case once, at most `limit`.
struct Hits {
    found: Vec<SearchHit>,
    limit: usize,
}

impl Hits {
    fn new(limit: usize) -> Self {
        Self {
            found: Vec::new(),
            limit,
        }
    }

    fn push(&mut self, hit: SearchHit) {
        if !self.is_full() && !self.holds(hit.case_id) {
            self.found.push(hit);
        }
    }

    fn is_full(&self) -> bool {
        self.found.len() >= self.limit
    }

    fn holds(&self, case_id: ConcernId) -> bool {
        self.found.iter().any(|h| h.case_id == case_id)
    }
}

/// Adds the documents in memory (not yet committed) that hold every word,
/// in the hamlets, after the committed hits of their group, until `hits`
/// is full: a snippet is made only for a hit that is kept, so a common
/// word among many recent documents costs no more than the page it fills.
fn push_recent_hits(
    hits: &mut Hits,
    serving: &SearchServing,
    hamlets: &HashSet<UnitId>,
    words: &[String],
    exact: bool,
) -> Result<()> {
    let recent = serving.recent();
    for d in recent.iter() {
        if hits.is_full() {
            break;
        }
        if !hamlets.contains(&d.hamlet) || hits.holds(d.case_id) {
            continue;
        }
        let doc_words = d.words(serving)?;
        let held = if exact {
            &doc_words.exact
        } else {
            &doc_words.folded
        };
        if !words.iter().all(|w| held.contains(w)) {
            continue;
        }
        hits.push(SearchHit {
            case_id: d.case_id,
            exact,
            score: 0.0,
            snippet: if exact {
                highlight(serving, &d.text, words)
            } else {
                d.text.chars().take(SNIPPET_CHARS_MAX).collect()
            },
        });
    }
    Ok(())
}

/// The beginning of `text` with `words` in `<b>`…`</b>` and the rest
/// HTML-escaped, as tantivy's snippets are.
fn highlight(serving: &SearchServing, text: &str, words: &[String]) -> String {
    let Ok(mut analyzer) = serving.index.tokenizer_for_field(serving.fields.text) else {
        return escape(text);
    };
    let mut stream = analyzer.token_stream(text);
    let (mut out, mut at) = (String::new(), 0);
    while let Some(token) = stream.next() {
        if token.offset_from >= SNIPPET_CHARS_MAX * 4 {
            break;
        }
        if words.contains(&token.text) {
            let (from, to) = (token.offset_from, token.offset_to);
            out.push_str(&escape(text.get(at..from).unwrap_or_default()));
            out.push_str("<b>");
            out.push_str(&escape(text.get(from..to).unwrap_or_default()));
            out.push_str("</b>");
            at = to;
        }
    }
    out.push_str(&escape(text.get(at..).unwrap_or_default()));
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A query that needs every one of `words` in `field`.
fn all_words(field: Field, words: &[String]) -> Box<dyn Query> {
    let clauses = words
        .iter()
        .map(|w| {
            let term = Term::from_field_text(field, w);
            let query: Box<dyn Query> =
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
            (Occur::Must, query)
        })
        .collect();
    Box::new(BooleanQuery::new(clauses))
}

fn hit(
    searcher: &Searcher,
    f: Fields,
    address: DocAddress,
    score: f32,
    snippets: Option<&SnippetGenerator>,
) -> Result<SearchHit> {
    let doc: TantivyDocument = searcher.doc(address)?;
    let text = |field| {
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    let case_id = Uuid::parse_str(text(f.case_id)).map_err(|e| ProjectionError::Corrupt {
        view: NAME,
        reason: format!("a document's case id: {e}"),
    })?;
    let highlighted = snippets
        .map(|s| s.snippet_from_doc(&doc))
        .filter(|s| !s.fragment().is_empty())
        .map(|s| s.to_html());
    let snippet =
        highlighted.unwrap_or_else(|| text(f.text).chars().take(SNIPPET_CHARS_MAX).collect());
    Ok(SearchHit {
        case_id: ConcernId(case_id),
        exact: snippets.is_some(),
        score,
        snippet,
    })
}

/// Every document's case, hamlet and text, sorted: for comparing a view
/// with one rebuilt from scratch.
pub fn contents(serving: &SearchServing) -> Result<Vec<[String; 3]>> {
    let searcher = serving.reader.searcher();
    let f = serving.fields;
    let mut out = Vec::new();
    for reader in searcher.segment_readers() {
        let store = reader.get_store_reader(1)?;
        for doc_id in reader.doc_ids_alive() {
            let doc: TantivyDocument = store.get(doc_id)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            out.push([text(f.case_id), text(f.hamlet), text(f.text)]);
        }
    }
    for d in serving.recent().iter() {
        out.push([
            d.case_id.0.to_string(),
            d.hamlet.0.to_string(),
            d.text.clone(),
        ]);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::feed::Feed;
    use crate::testkit::{appends, Generator, Shape};
    use casebook_log::SledLog;

    /// What [`fold`] means: NFD of the whole text, combining marks
    /// dropped, `đ` to `d`, lowercased.
    fn fold_by_nfd(text: &str) -> String {
        text.nfd()
            .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
            .map(|c| match c {
                'đ' | 'Đ' => 'd',
                other => other,
            })
            .flat_map(char::to_lowercase)
            .collect()
    }

    #[test]
    fn folding_a_character_alone_is_folding_it_in_nfd_for_every_character() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let text = c.to_string();
            assert_eq!(fold(&text), fold_by_nfd(&text), "{:?}", c);
            assert_eq!(exact(&text), text.nfc().collect::<String>(), "{:?}", c);
        }
        assert_eq!(fold("Đồng TÂM tư nguyện vọng"), "dong tam tu nguyen vong");
    }

    proptest::proptest! {
        /// Marks out of canonical order, decomposed letters, đ and other
        /// scripts fold as NFD of the whole text folds them, and the exact
        /// text is its NFC.
        #[test]
        fn folding_and_the_exact_text_agree_with_nfd_and_nfc(
            text in "[aAeEoOuUdDđĐơƯ ồậữ\u{0300}\u{0301}\u{0303}\u{0309}\u{0323}\u{0302}\u{0306}\u{031B}\u{0327}가각ﬁÅΩ]{0,24}"
        ) {
            proptest::prop_assert_eq!(fold(&text), fold_by_nfd(&text));
            proptest::prop_assert_eq!(exact(&text), text.nfc().collect::<String>());
        }
    }

    fn reports(batch: &Batch) -> usize {
        batch
            .events()
            .filter(|e| matches!(e.event.payload, Payload::ConcernReported(_)))
            .count()
    }

    fn committed(target: &SearchTarget) -> u64 {
        target.serving.reader.searcher().num_docs()
    }

    #[tokio::test]
    async fn a_common_word_among_recent_documents_answers_at_most_the_limit_each_case_once() {
        let tmp = tempfile::tempdir().unwrap();
        let log = SledLog::open(tmp.path().join("log")).unwrap();
        let mut generator = Generator::new(11, Shape::small());
        for parts in appends(&generator.events(600), 64) {
            log.append_multi(parts).await.unwrap();
        }
        let batch = Feed::new(log.clone()).read(0, 600).unwrap();
        let factory = SearchFactory {
            root: tmp.path().join("search"),
        };
        let mut target = factory.open(1, 0).unwrap();
        target.apply(&batch, false).unwrap();
        let (word, hamlets, holding) = {
            let recent = target.serving.recent();
            let words = |d: &RecentDoc| d.words(&target.serving).unwrap().exact.clone();
            let word = words(&recent[0]).into_iter().next().unwrap();
            let hamlets: Vec<UnitId> = recent.iter().map(|d| d.hamlet).collect();
            let holding: HashSet<ConcernId> = recent
                .iter()
                .filter(|d| words(d).contains(&word))
                .map(|d| d.case_id)
                .collect();
            (word, hamlets, holding)
        };
        for limit in [1, 2, SEARCH_HITS_MAX] {
            let hits = search(&target.serving, &word, &hamlets, limit).unwrap();
            let cases: HashSet<ConcernId> = hits.iter().map(|h| h.case_id).collect();
            assert_eq!(hits.len(), limit.min(holding.len()), "limit {limit}");
            assert_eq!(cases.len(), hits.len(), "each case once");
            assert!(cases.is_subset(&holding));
        }
    }

    #[tokio::test]
    async fn live_documents_stay_searchable_while_their_commit_is_written_and_are_held_once() {
        let tmp = tempfile::tempdir().unwrap();
        let log = SledLog::open(tmp.path().join("log")).unwrap();
        let mut generator = Generator::new(7, Shape::small());
        let events = generator.events(600);
        for parts in appends(&events, 64) {
            log.append_multi(parts).await.unwrap();
        }
        let feed = Feed::new(log.clone());
        let first = feed.read(0, 300).unwrap();
        let second = feed.read(300, 300).unwrap();
        let (first_last, second_last) = (
            first.last().unwrap().position,
            second.last().unwrap().position,
        );
        assert!(reports(&first) > 0 && reports(&second) > 0);
        let factory = SearchFactory {
            root: tmp.path().join("search"),
        };
        let mut target = factory.open(1, 0).unwrap();

        // Live batches (small, nothing more waiting): held in memory.
        target.apply(&first, false).unwrap();
        assert_eq!(target.serving.recent().len(), reports(&first));
        // A commit starts; what is applied meanwhile stays in memory.
        target.commit(first_last).unwrap();
        target.apply(&second, false).unwrap();
        target.wait_written().unwrap();
        assert_eq!(committed(&target), reports(&first) as u64);
        let recent: Vec<ConcernId> = target.serving.recent().iter().map(|d| d.case_id).collect();
        let second_cases: Vec<ConcernId> = second
            .events()
            .filter(|e| matches!(e.event.payload, Payload::ConcernReported(_)))
            .filter_map(|e| match e.stream {
                StreamId::Concern(case) => Some(case),
                _ => None,
            })
            .collect();
        assert_eq!(recent, second_cases, "only what the commit does not hold");
        assert_eq!(target.checkpoint().unwrap(), Some(first_last));

        // Closing commits the rest and waits for it.
        target.close().unwrap();
        assert!(target.serving.recent().is_empty());
        drop(target);
        let reopened = factory.open(1, 0).unwrap();
        assert_eq!(reopened.checkpoint().unwrap(), Some(second_last));
        let all = (reports(&first) + reports(&second)) as u64;
        assert_eq!(committed(&reopened), all);
    }
}
