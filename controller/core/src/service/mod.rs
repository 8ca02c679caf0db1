//! Stateful services, as the DC/OS SDK described them (pure): a package version may carry a
//! service specification (`spec`: pod types with tasks, readiness checks and volumes; plans of
//! phases and steps with serial, parallel and canary strategies), which the Package operator
//! executes step by step (`plan`), keeping the plans' state in the Package's status.

pub mod observe;
pub mod plan;
pub mod render;
pub mod spec;
pub mod test_spec;

pub use plan::{Actions, Command, Instance, Observed, Verb, command, decide, tree};
pub use spec::{ServiceSpec, parse};

#[cfg(test)]
mod tests;
