//! Catch-up subscriptions: history first, then live, with no gap and no
//! duplicate at the switch.
//!
//! A subscription does not receive pushed events. It reads the log by
//! position, one bounded page at a time, starting after the last position it
//! handed out, and only while the durable head is past that position; at
//! the head (or when a read comes back empty) it waits for the head to move
//! and reads again. Because the next read always starts right after the
//! last delivered position, nothing is skipped or repeated when history turns
//! into live traffic. Writers only bump a `watch` value, so a slow subscriber
//! costs them nothing; it just falls behind and catches up from the log.

use crate::error::{LogError, Result};
use crate::event_store::{Direction, EventStore};
use crate::record::{Position, RecordedEvent};
use std::collections::VecDeque;
use tokio::sync::watch;

/// Events one subscription reads ahead and keeps in memory at most.
pub const SUBSCRIPTION_PAGE_EVENTS: usize = 256;

/// What a subscription follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionFilter {
    /// Every event in the log.
    All,
    /// The events of every stream in one category.
    Category(String),
}

/// A catch-up subscription over any [`EventStore`].
#[derive(Debug)]
pub struct Subscription<S> {
    store: S,
    filter: SubscriptionFilter,
    /// The last position handed out (or the caller's exclusive start).
    after: Option<Position>,
    /// Read ahead, not yet handed out; never more than one page.
    buffer: VecDeque<RecordedEvent>,
    durable_len: watch::Receiver<u64>,
}

impl<S: EventStore> Subscription<S> {
    /// Subscribes to `filter`, delivering events after `after` (exclusive;
    /// `None` for the very start).
    pub fn new(store: S, filter: SubscriptionFilter, after: Option<Position>) -> Self {
        let durable_len = store.durable_len();
        Subscription {
            store,
            filter,
            after,
            buffer: VecDeque::new(),
            durable_len,
        }
    }

    /// The position of the last event handed out, if any.
    pub fn last_position(&self) -> Option<Position> {
        self.after
    }

    /// The next event: from history while there is some, then waiting for
    /// new ones. Fails if the log closes or a record fails its check.
    pub async fn next(&mut self) -> Result<RecordedEvent> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.after = Some(event.position);
                return Ok(event);
            }
            // Mark the current head as seen *before* reading, so a commit
            // that lands after the read still wakes us below.
            let durable_len = *self.durable_len.borrow_and_update();
            if durable_len > self.next_position() {
                self.fill_buffer().await?;
            }
            if self.buffer.is_empty() {
                self.durable_len
                    .changed()
                    .await
                    .map_err(|_| LogError::Unavailable("the log was closed".into()))?;
            }
        }
    }

    /// Everything available right now, without waiting, up to `max`.
    pub async fn next_available(&mut self, max: usize) -> Result<Vec<RecordedEvent>> {
        let mut events = Vec::new();
        while events.len() < max {
            if self.buffer.is_empty() {
                if *self.durable_len.borrow() <= self.next_position() {
                    break;
                }
                self.fill_buffer().await?;
                if self.buffer.is_empty() {
                    break;
                }
            }
            if let Some(event) = self.buffer.pop_front() {
                self.after = Some(event.position);
                events.push(event);
            }
        }
        Ok(events)
    }

    /// The first position not handed out yet.
    fn next_position(&self) -> Position {
        self.after.map_or(0, |after| after + 1)
    }

    /// Reads the next page. Only called when the durable head is past
    /// [`Self::next_position`]: a read at the head would find nothing, and
    /// each read is a hop to a blocking thread (a follower at the head
    /// made two per commit, the second always empty).
    async fn fill_buffer(&mut self) -> Result<()> {
        let from = self.next_position();
        let page = match &self.filter {
            SubscriptionFilter::All => {
                self.store
                    .read_all(Direction::Forwards, Some(from), SUBSCRIPTION_PAGE_EVENTS)
                    .await?
            }
            SubscriptionFilter::Category(category) => {
                self.store
                    .read_category(
                        category,
                        Direction::Forwards,
                        Some(from),
                        SUBSCRIPTION_PAGE_EVENTS,
                    )
                    .await?
            }
        };
        self.buffer.extend(page);
        Ok(())
    }
}
