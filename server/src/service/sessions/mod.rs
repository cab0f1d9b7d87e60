//! The session methods: starting one (`new`), driving its agent (`control`), and its record
//! (`records`), with the checks and names they share.

mod control;
mod naming;
mod new;
mod records;
mod settings;

pub(crate) use naming::{branch_and_worktree, slug};
pub(crate) use new::{Origin, pending_session};
pub(crate) use settings::validate_config;
