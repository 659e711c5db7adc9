//! Cancelling a request's model work: when the client goes away or its time is up, the work
//! it queued is not run and a generation under way stops at its next token.
//!
//! The request's adapter makes a [`Token`] and holds its [`CancelOnDrop`] guard in the
//! request's future (dropped when the connection closes or the request times out); the
//! blocking thread that answers enters [`scope`], and every [`crate::generate::ChatModel`]
//! call on that thread carries the token to the model's worker. A thread-local keeps the
//! token out of every signature between the adapter and the model.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether a request still wants its answer. Cheap to clone; all clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Token(Arc<AtomicBool>);

impl Token {
    pub fn new() -> Token {
        Token::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// A guard that cancels the token when it is dropped.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }

    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

/// Cancels its token when dropped (with the future of a request that ended, finished or not:
/// cancelling finished work does nothing).
#[must_use = "the token is cancelled when the guard drops"]
pub struct CancelOnDrop(Token);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Token>> = const { RefCell::new(None) };
}

/// The current thread's model calls carry `token` until the guard drops.
pub fn scope(token: &Token) -> Scope {
    Scope(CURRENT.with(|c| c.replace(Some(token.clone()))))
}

/// Restores the previous token (scopes nest) when dropped.
#[must_use = "the scope lasts as long as the guard"]
pub struct Scope(Option<Token>);

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The token of the request this thread is working for, if any.
pub fn current() -> Option<Token> {
    CURRENT.with(|c| c.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_guards_cancel() {
        assert!(current().is_none());
        let a = Token::new();
        let b = Token::new();
        {
            let _sa = scope(&a);
            {
                let _sb = scope(&b);
                drop(b.cancel_on_drop());
                assert!(current().unwrap().is_cancelled());
            }
            assert!(!current().unwrap().is_cancelled());
        }
        assert!(current().is_none());
    }
}
