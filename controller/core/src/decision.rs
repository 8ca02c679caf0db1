//! What an operator's decision says besides the status (pure data): the Events to publish and
//! when to reconcile again. Shared by the GitSource and Package decisions.

use std::time::Duration;

/// An Event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Warning (else Normal).
    pub warning: bool,
    /// CamelCase reason.
    pub reason: String,
    /// Note.
    pub message: String,
}

impl Event {
    /// A Normal Event.
    pub fn normal(reason: &str, message: String) -> Self {
        Self { warning: false, reason: reason.into(), message }
    }

    /// A Warning Event.
    pub fn warning(reason: &str, message: String) -> Self {
        Self { warning: true, reason: reason.into(), message }
    }
}

/// When to reconcile again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// After this long.
    After(Duration),
    /// Only when the object (or something it watches) changes.
    OnChange,
}

/// The decision of one reconcile: the status to write (written only if it differs from the
/// stored one), the Events and the requeue.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<S> {
    /// The status to write; `None`: write nothing.
    pub status: Option<S>,
    /// Events to publish.
    pub events: Vec<Event>,
    /// When to reconcile again.
    pub requeue: Requeue,
}
