//! Interactive work first: while a user waits on an answer (query embedding, retrieval,
//! generation), background model work — embedding freshly ingested chunks — holds back between
//! its forward passes, so the two cores go to the waiting user.
//!
//! Process-wide on purpose: the cores are shared by every model in the process.

use std::sync::atomic::{AtomicUsize, Ordering};

static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Held while a user waits; background work resumes when the last guard drops.
#[must_use = "the priority lasts as long as the guard"]
pub struct Interactive(());

/// Marks the current work as interactive until the guard drops.
pub fn interactive() -> Interactive {
    WAITING.fetch_add(1, Ordering::SeqCst);
    Interactive(())
}

impl Drop for Interactive {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether some user is waiting right now.
pub fn waiting() -> bool {
    WAITING.load(Ordering::SeqCst) > 0
}

/// How many requests are waiting on (or running on) the models right now.
pub fn waiting_count() -> usize {
    WAITING.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    #[test]
    fn guards_nest() {
        assert!(!super::waiting());
        let a = super::interactive();
        let b = super::interactive();
        drop(a);
        assert!(super::waiting());
        drop(b);
        assert!(!super::waiting());
    }
}
