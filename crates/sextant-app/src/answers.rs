//! Cited answers: ask (in an area too), chat, compare.

use crate::{banner, check_text, with_text, App, AppError, Result, Session};
use sextant_assist::geo::GeoAnswer;
use sextant_assist::{Answer, AskRequest, Comparison};
use sextant_audit::Event;
use sextant_auth::Role;
use sextant_models::generate::ChatMessage;
use sextant_spatial::Area;

/// Turns of history kept at most (the newest); older ones are dropped.
pub const MAX_HISTORY_TURNS: usize = 16;
/// Bytes of history kept at most (the newest turns that fit).
pub const MAX_HISTORY_BYTES: usize = 16 * 1024;
/// Models one comparison may name.
pub const MAX_COMPARE_MODELS: usize = 4;

pub struct AskInput {
    pub question: String,
    /// Earlier turns, oldest first (a chat).
    pub history: Vec<ChatMessage>,
    pub model: Option<String>,
    pub k: Option<usize>,
    pub area: Option<Area>,
}

impl AskInput {
    pub fn new(question: impl Into<String>) -> AskInput {
        AskInput {
            question: question.into(),
            history: Vec::new(),
            model: None,
            k: None,
            area: None,
        }
    }
}

pub struct CompareInput {
    pub question: String,
    pub models: Vec<String>,
    pub k: Option<usize>,
}

/// The audit record of an answer: the question, what it cites, and its marking.
fn answered(s: &Session, action: &str, question: &str, a: &Answer) -> Event {
    with_text(s.event(action), s, &a.marking)
        .query(question)
        .docs(a.citations.iter().map(|c| c.doc_id.clone()))
        .chunks(a.citations.iter().map(|c| c.chunk_id))
        .cited(a.citations.iter().map(|c| c.chunk_id))
        .detail(format!(
            "model {}; {}",
            a.model,
            if a.abstained { "abstained" } else { "answered" }
        ))
}

fn check_question(q: &str) -> Result<()> {
    if q.trim().is_empty() {
        return Err(AppError::BadRequest("the question is empty".into()));
    }
    check_text("question", q)
}

/// The newest turns within [`MAX_HISTORY_TURNS`] and [`MAX_HISTORY_BYTES`], oldest first.
fn bounded(mut history: Vec<ChatMessage>) -> Vec<ChatMessage> {
    let mut bytes = 0;
    let mut keep = 0;
    for m in history.iter().rev() {
        if keep == MAX_HISTORY_TURNS || bytes + m.content.len() > MAX_HISTORY_BYTES {
            break;
        }
        bytes += m.content.len();
        keep += 1;
    }
    history.drain(..history.len() - keep);
    history
}

impl App {
    fn request(&self, s: &Session, input: AskInput) -> Result<AskRequest> {
        s.require(Role::Reader)?;
        check_question(&input.question)?;
        let mut req = AskRequest::new(input.question, s.viewer.clone());
        req.history = bounded(input.history);
        req.model = input.model;
        req.k = input.k;
        req.area = input.area;
        Ok(req)
    }

    /// A cited answer (`action` is `ask` or `chat`). `on_text` gets the verified text and its
    /// marking once; returning false cancels.
    pub fn ask(
        &self,
        s: &Session,
        action: &str,
        input: AskInput,
        on_text: impl FnMut(&str, &str) -> bool,
    ) -> Result<Answer> {
        let req = self.request(s, input)?;
        let answer = self.assistant().ask(&req, on_text)?;
        self.record(&answered(s, action, &req.question, &answer))?;
        Ok(answer)
    }

    /// A cited answer about an area, with its citations' places as pins.
    pub fn geo_ask(&self, s: &Session, input: AskInput) -> Result<GeoAnswer> {
        if input.area.is_none() {
            return Err(AppError::BadRequest("a geo question needs an area".into()));
        }
        let req = self.request(s, input)?;
        let geo = self.assistant().ask_geo(&req, |_, _| true)?;
        self.record(&answered(s, "geo_ask", &req.question, &geo.answer))?;
        Ok(geo)
    }

    /// Several models answer one question over the same retrieval.
    pub fn compare(&self, s: &Session, input: CompareInput) -> Result<Comparison> {
        s.require(Role::Reader)?;
        check_question(&input.question)?;
        let mut models: Vec<String> = Vec::new();
        for m in input.models {
            if !models.contains(&m) {
                models.push(m);
            }
        }
        if models.len() > MAX_COMPARE_MODELS {
            return Err(AppError::BadRequest(format!(
                "compare at most {MAX_COMPARE_MODELS} models at once"
            )));
        }
        let c = self
            .assistant()
            .compare(&input.question, &models, input.k, &s.viewer)?;
        let answers: Vec<&Answer> = c.answers.iter().filter_map(|a| a.answer.as_ref()).collect();
        let cited: Vec<&sextant_assist::Citation> =
            answers.iter().flat_map(|a| a.citations.iter()).collect();
        self.record(
            &with_text(
                s.event("compare"),
                s,
                &banner(answers.iter().map(|a| a.marking.as_str()))?,
            )
            .query(&input.question)
            .docs(cited.iter().map(|c| c.doc_id.clone()))
            .chunks(cited.iter().map(|c| c.chunk_id))
            .cited(cited.iter().map(|c| c.chunk_id)),
        )?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_newest_turns_within_both_bounds() {
        let turns: Vec<ChatMessage> = (0..40)
            .map(|i| ChatMessage::user(format!("turn {i}")))
            .collect();
        let kept = bounded(turns);
        assert_eq!(kept.len(), MAX_HISTORY_TURNS);
        assert_eq!(kept.last().unwrap().content, "turn 39");
        let big: Vec<ChatMessage> = (0..5)
            .map(|i| ChatMessage::user(format!("{i}{}", "x".repeat(6000))))
            .collect();
        let kept = bounded(big);
        assert_eq!(kept.len(), 2);
        assert!(kept[1].content.starts_with('4'));
    }
}
