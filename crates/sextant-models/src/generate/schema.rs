//! JSON Schema constraints: `llguidance` computes, token by token, which tokens keep the output
//! a valid instance of a schema; [`SchemaConstraint`] puts that behind the generator's
//! [`Constraint`] so that `Engine::constrained` writes schema-valid JSON by construction.

use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokEnv, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};

use super::constrain::{Allowed, Constraint, TokenBytes};
use crate::{ModelError, Result};

/// What a constrained generation must produce.
#[derive(Debug, Clone)]
pub enum Grammar {
    /// One JSON value valid against this JSON Schema.
    JsonSchema(serde_json::Value),
    /// Text of this Lark grammar (llguidance's dialect: `%json { schema }` embeds a JSON
    /// Schema as a rule).
    Lark(String),
}

/// A vocabulary indexed for llguidance, built once per model.
pub struct SchemaFactory {
    factory: Arc<ParserFactory>,
}

impl SchemaFactory {
    /// Indexes `vocab`; tokens without bytes (special and control tokens) get llguidance's
    /// special-token marker, so no grammar can ever produce them as text.
    pub fn new(vocab: &TokenBytes, eos: u32) -> Result<SchemaFactory> {
        let words: Vec<Vec<u8>> = (0..vocab.len() as u32)
            .map(|id| match vocab.bytes(id) {
                Some(b) => b.to_vec(),
                None => {
                    let mut w = vec![TokTrie::SPECIAL_TOKEN_MARKER];
                    w.extend(format!("<|special {id}|>").bytes());
                    w
                }
            })
            .collect();
        let info = TokRxInfo::new(words.len() as u32, eos);
        let trie = TokTrie::from(&info, &words);
        let env: TokEnv = Arc::new(ApproximateTokEnv::new(trie));
        let factory = ParserFactory::new_simple(&env)
            .map_err(|e| ModelError::Inference(format!("grammar engine: {e}")))?;
        Ok(SchemaFactory {
            factory: Arc::new(factory),
        })
    }

    /// A constraint to output of `grammar`.
    pub fn constraint(&self, grammar: &Grammar) -> Result<SchemaConstraint> {
        let grammar = match grammar {
            Grammar::JsonSchema(s) => TopLevelGrammar::from_json_schema(s.clone()),
            Grammar::Lark(g) => TopLevelGrammar::from_lark(g.clone()),
        };
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| ModelError::Inference(format!("schema not supported: {e}")))?;
        Ok(SchemaConstraint {
            matcher: Matcher::new(Ok(parser)),
            mask_ms: 0.0,
        })
    }
}

/// One generation's schema constraint.
pub struct SchemaConstraint {
    matcher: Matcher,
    /// Time spent computing masks, milliseconds.
    pub mask_ms: f64,
}

impl Constraint for SchemaConstraint {
    fn allowed(&mut self, _vocab: &TokenBytes) -> Allowed {
        let t = std::time::Instant::now();
        let mut out = Allowed::default();
        if let Ok(mask) = self.matcher.compute_mask() {
            mask.iter_set_entries(|i| out.tokens.push(i as u32));
        }
        out.end = self.matcher.is_accepting().unwrap_or(false);
        self.mask_ms += t.elapsed().as_secs_f64() * 1e3;
        out
    }

    fn advance(&mut self, token: u32, _vocab: &TokenBytes) {
        let _ = self.matcher.consume_token(token);
    }
}
