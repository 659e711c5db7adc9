//! Compare: several models answer one question over the same retrieval.

use crate::*;

/// One model's side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Contender {
    pub model: String,
    #[serde(flatten)]
    pub answer: Option<Answer>,
    pub error: Option<String>,
    pub latency_ms: f64,
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Roll-up of every answer's marking.
    pub marking: String,
    pub question: String,
    pub retrieval_query: String,
    pub retrieve_ms: f64,
    pub answers: Vec<Contender>,
}

impl Assistant {
    /// Several models answer the same question over one retrieval.
    pub fn compare(
        &self,
        question: &str,
        models: &[String],
        k: Option<usize>,
        viewer: &Viewer,
    ) -> Result<Comparison> {
        if models.is_empty() {
            return Err(AssistError::BadRequest("name at least one model".into()));
        }
        for m in models {
            if !self.models.contains_key(m) {
                return Err(AssistError::UnknownModel(m.clone()));
            }
        }
        let g = self.ground(question, &[], k, viewer, None)?;
        let mut answers = Vec::new();
        for id in models {
            let t = Instant::now();
            let r = self
                .model(Some(id))
                .and_then(|m| self.answer(m, question, &[], &g, |_, _| true))
                .map(|mut a| {
                    a.trace = None;
                    a
                });
            let latency_ms = t.elapsed().as_secs_f64() * 1e3 + g.retrieve_ms;
            answers.push(match r {
                Ok(a) => Contender {
                    model: id.clone(),
                    tokens_per_s: if a.timing_ms.generate > 0.0 {
                        a.usage.completion_tokens as f64 / (a.timing_ms.generate / 1e3)
                    } else {
                        0.0
                    },
                    answer: Some(a),
                    error: None,
                    latency_ms,
                },
                Err(e) => Contender {
                    model: id.clone(),
                    answer: None,
                    error: Some(e.to_string()),
                    latency_ms,
                    tokens_per_s: 0.0,
                },
            });
        }
        let marking = rollup(
            answers
                .iter()
                .filter_map(|c| c.answer.as_ref().map(|a| a.marking.as_str())),
        )?
        .banner();
        Ok(Comparison {
            marking,
            question: question.to_string(),
            retrieval_query: g.query.clone(),
            retrieve_ms: g.retrieve_ms,
            answers,
        })
    }
}
