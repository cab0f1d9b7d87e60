//! A panic hook that records panics on every thread, so a panic inside a spawned task or a
//! blocking-pool thread (which the runtime would swallow) still fails the input that caused it.

use std::sync::{Mutex, Once};

static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static INSTALL: Once = Once::new();

/// Replaces the panic hook, once per process. Panics are recorded rather than printed: proptest
/// shrinks a failing input by running it many times, and the report shows the smallest one.
pub fn install() {
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let mut first = FIRST_PANIC.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            first.get_or_insert_with(|| info.to_string());
        }));
    });
}

/// The first panic recorded since the last call, if any.
pub fn take() -> Option<String> {
    FIRST_PANIC.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
}
