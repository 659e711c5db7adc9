//! Text-to-API, the model's part: a request becomes calls on a catalogue of tools, and an API
//! response becomes a cited answer.
//!
//! * [`tools`]: the catalogue in the model's native tool format (Qwen2.5's `<tools>` system
//!   block and `<tool_call>` replies), calls generated under a grammar whose arguments are
//!   valid against each tool's JSON Schema by construction, or no call at all when the model
//!   does not want one.
//! * [`bfcl`]: the Berkeley Function Calling Leaderboard's single-turn questions as tool
//!   prompts, and its AST checker to score the calls.
//!
//! Invariants:
//! * Calls are proposed from the prompt [`tools::prompt`] builds: the tool catalogue (written
//!   by administrators) and the user's own words. No document text and no API response is
//!   ever in it, so nothing they say can cause or shape a call.
//! * A proposed call names a tool of the catalogue and its arguments match that tool's schema;
//!   anything else is not returned as a call.

pub mod bfcl;
pub mod catalogue;
pub mod relay;
pub mod tools;

pub use tools::{Call, Proposal, Tool};
