//! Ask and chat: a cited answer from a grounding (span-first, or generate-then-verify for
//! comparison), with every check it must pass.

use crate::*;

impl Assistant {
    /// Answers a question. `on_text` gets the answer's text and its marking once it has passed
    /// every check (returning false cancels); the returned [`Answer`] is what to show.
    pub fn ask(&self, req: &AskRequest, on_text: impl FnMut(&str, &str) -> bool) -> Result<Answer> {
        Ok(self.ask_grounded(req, on_text)?.0)
    }

    /// [`Assistant::ask`], keeping the grounding the answer was made from.
    pub(crate) fn ask_grounded(
        &self,
        req: &AskRequest,
        on_text: impl FnMut(&str, &str) -> bool,
    ) -> Result<(Answer, Grounding)> {
        let model = self.model(req.model.as_deref())?;
        let g = self.ground_request(req)?;
        let mut answer = self.answer(model, &req.question, &req.history, &g, on_text)?;
        if !req.trace {
            answer.trace = None;
        }
        Ok((answer, g))
    }

    /// Answers from an existing grounding with `model`. `on_text` receives the answer's text
    /// once it has passed every check — never a draft that could still be withdrawn.
    pub fn answer(
        &self,
        model: &ChatModel,
        question: &str,
        history: &[ChatMessage],
        g: &Grounding,
        mut on_text: impl FnMut(&str, &str) -> bool,
    ) -> Result<Answer> {
        let _priority = sextant_models::priority::interactive();
        let mut answer = Answer {
            marking: Marking::unclassified().banner(),
            answer: ABSTAIN_TEXT.to_string(),
            citations: Vec::new(),
            abstained: true,
            model: model.id().to_string(),
            usage: Usage::default(),
            timing_ms: Timing {
                retrieve: g.retrieve_ms,
                ..Default::default()
            },
            strategy: Strategy::Abstained,
            retrieval_query: g.query.clone(),
            supported_share: 0.0,
            generated: String::new(),
            answer_type: g.question.answer_type,
            trace: None,
        };
        let mut trace = Trace {
            entities: g.question.entities.clone(),
            entity_docs: g.entity_docs.iter().map(|(_, _, t)| t.clone()).collect(),
            retrieved: g.hits.iter().map(|h| h.title.clone()).collect(),
            ..Default::default()
        };
        if g.question.comparison.is_some() && self.options.design == Design::Span {
            let done = versus::answer(&g.question, &g.sides, &g.hits, &mut trace);
            if let Some(v) = done {
                answer.strategy = Strategy::Compared;
                self.fill(&mut answer, &v, g)?;
            }
        } else if self.unsupported(g) {
            trace.checks.push(format!(
                "evidence: too weak (coverage {:.2}, best {:.2})",
                g.coverage,
                g.best().map(|b| b.score).unwrap_or(0.0)
            ));
        } else {
            match self.options.design {
                Design::Span => self.answer_span(model, question, g, &mut answer, &mut trace)?,
                Design::Generate => {
                    self.answer_generated(model, question, history, g, &mut answer)?
                }
            }
        }
        answer.trace = Some(trace);
        on_text(&answer.answer, &answer.marking);
        Ok(answer)
    }

    /// The span-first design: the reader copies the answer out of the best statements; it
    /// stands only if it is of the type the question asks for, comes from a document about
    /// what the question names, and the judge finds that its statement says so.
    pub(crate) fn answer_span(
        &self,
        model: &ChatModel,
        question: &str,
        g: &Grounding,
        answer: &mut Answer,
        trace: &mut Trace,
    ) -> Result<()> {
        let candidates = self.candidates(g);
        trace.candidates = candidates
            .iter()
            .map(|c| {
                format!(
                    "{}: {} ({:.2})",
                    c.sentence.context, c.sentence.text, c.score
                )
            })
            .collect();
        let t = g.question.answer_type;
        let read = reader::read(model, question, t, &candidates, self.options.none_threshold)?;
        answer.usage = Usage {
            prompt_tokens: read.prompt_tokens,
            completion_tokens: read.completion_tokens,
        };
        answer.timing_ms.prefill = read.prefill_ms;
        answer.timing_ms.generate = read.generate_ms;
        answer.generated = if read.found() {
            read.span.clone()
        } else {
            reader::NO_ANSWER.to_string()
        };
        trace.read = Some(read.clone());
        let Some(i) = read.candidate else {
            trace.checks.push("reader: no answer".into());
            return Ok(());
        };

        if let Some(n) = model.info().reader_agreement {
            if i >= n {
                trace.checks.push(format!(
                    "reader: statement {} is outside the best {n} this model may answer from",
                    i + 1
                ));
                return Ok(());
            }
        }
        let chosen = candidates[i];
        let hit = &g.hits[chosen.sentence.hit];
        // The answer: the span for a factoid, the whole statement for a description; cited to
        // the statement it was copied from.
        let quote_start = chosen.sentence.start;
        let quote_end = chosen.sentence.end;
        let mut text = if t.is_factoid() {
            // The whole value the span belongs to ("4 February 1948", not "1948"), a whole
            // list when the question asks for several things.
            let st = &chosen.sentence.text;
            let char_start = read.start - chosen.sentence.start;
            let b0 = st
                .char_indices()
                .nth(char_start)
                .map_or(st.len(), |(b, _)| b);
            let b1 = (b0 + read.span.len()).min(st.len());
            let (mut a, mut b) = reader::value_around(st, b0, b1, 60);
            if g.question.plural {
                // A whole list, when the span is an item of one ("tea, coffee, fish").
                let (la, lb) = reader::value_around(st, b0, b1, 200);
                if reader::is_list(&st[la..lb]) {
                    (a, b) = (la, lb);
                }
            }
            st[a..b].to_string()
        } else {
            chosen.sentence.text.clone()
        };
        // The span's type, and what the value it grew into is: "1,000" is a number, but
        // "14.46 births/1,000 population" a rate. A value that grew past its type ("The
        // capital is Ulaanbaatar") is shown as the span itself.
        if t == question::AnswerType::Number && !g.question.asks_rate && question::is_rate(&text) {
            trace
                .checks
                .push(format!("type: {text:?} is a rate, not a count"));
            return Ok(());
        }
        if t.is_factoid() && !question::fits_question(&g.question, &text) {
            text = read.span.clone();
        }
        if t.is_factoid() && !question::fits_question(&g.question, &read.span) {
            trace
                .checks
                .push(format!("type: {:?} does not fit {:?}", read.span, t));
            return Ok(());
        }
        if t.is_factoid() && question::echoes(question, &read.span) {
            trace
                .checks
                .push(format!("type: {:?} only repeats the question", read.span));
            return Ok(());
        }
        // A year an estimate is dated by ("2.18% (2015 est.)") is no event's date.
        if t == question::AnswerType::Date {
            let text = chosen.sentence.text.to_lowercase();
            let span = read.span.trim().to_lowercase();
            if text.contains(&format!("{span} est")) || span.ends_with("est.)") {
                trace
                    .checks
                    .push(format!("type: {:?} dates an estimate", read.span));
                return Ok(());
            }
        }
        trace.checks.push("type: fits".into());
        // The statement must say what the question asks about, not just hold a value of the
        // right type: every distinctive term of the question (weighted by rarity) is in it or
        // its headings. Questions that look answerable but are not (another person, another
        // year, "last" for "first") fail here.
        let bag: std::collections::HashSet<String> = words::content_words(&format!(
            "{} {}",
            chosen.sentence.context, chosen.sentence.text
        ))
        .into_iter()
        .collect();
        let coverage = g.terms.coverage(&bag);
        trace.statement_coverage = Some(coverage);
        if !g.question.names_counted(&bag) {
            trace
                .checks
                .push("coverage: the statement does not name what is counted".into());
            return Ok(());
        }
        if coverage < self.options.min_statement_coverage {
            trace.checks.push(format!(
                "coverage: {coverage:.2} of the question in the statement"
            ));
            return Ok(());
        }
        // The document it comes from is about what the question names.
        if !g.entity_docs.is_empty() {
            let inside = g.entity_docs.iter().any(|(_, d, _)| *d == hit.doc_id);
            let text = chosen.sentence.text.to_lowercase();
            let mentions = g
                .entity_docs
                .iter()
                .any(|(e, _, _)| text.contains(&e.to_lowercase()));
            if !inside && !mentions {
                trace.checks.push(format!(
                    "entity: {:?} is not about {:?}",
                    hit.title, g.question.entities
                ));
                return Ok(());
            }
        }
        trace.checks.push("entity: ok".into());
        // Meaning: does the statement say this answers the question?
        if self.options.judge_threshold <= 0.0 {
            trace.checks.push("judge: off".into());
        }
        let verdict = if self.options.judge_threshold <= 0.0 {
            judge::Verdict {
                supported: true,
                reversal: None,
                p_yes: None,
            }
        } else {
            judge::answers(
                model,
                question,
                &read.span,
                &chosen.sentence.context,
                &chosen.sentence.text,
                self.options.judge_threshold,
            )?
        };
        trace.checks.push(format!(
            "judge: p(yes) {:.3} -> {}",
            verdict.p_yes.unwrap_or(0.0),
            if verdict.supported {
                "supported"
            } else {
                "rejected"
            }
        ));
        let supported = verdict.supported;
        trace.verdict = Some(verdict);
        if !supported {
            return Ok(());
        }
        let v = Verified {
            text: format!(
                "{} [1]",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            supports: vec![verify::Support {
                hit: chosen.sentence.hit,
                start: quote_start,
                end: quote_end,
                quote: chosen.sentence.text.clone(),
            }],
            claims: 1,
            supported: 1,
            invalid_markers: 0,
        };
        answer.strategy = Strategy::Span;
        answer.supported_share = 1.0;
        self.fill(answer, &v, g)
    }

    /// The statements the reader chooses from: the best ones, at most three per chunk.
    pub(crate) fn candidates<'g>(&self, g: &'g Grounding) -> Vec<&'g Scored> {
        let mut per_hit: std::collections::HashMap<usize, usize> = Default::default();
        let mut out = Vec::new();
        for s in &g.ranked {
            let n = per_hit.entry(s.sentence.hit).or_default();
            if *n >= 3 {
                continue;
            }
            *n += 1;
            out.push(s);
            if out.len() == self.options.reader_candidates {
                break;
            }
        }
        out
    }

    /// The generate-then-verify design.
    pub(crate) fn answer_generated(
        &self,
        model: &ChatModel,
        question: &str,
        history: &[ChatMessage],
        g: &Grounding,
        answer: &mut Answer,
    ) -> Result<()> {
        let (messages, sources) = self.prompt(model, question, history, g);
        let params = GenParams {
            max_tokens: self.options.max_tokens,
            stop: vec!["\n\n".into(), "Question:".into(), "Sources:".into()],
            ..Default::default()
        };
        let generation: Generation = model.chat(messages, params, |_| true)?;
        answer.usage = Usage {
            prompt_tokens: generation.prompt_tokens,
            completion_tokens: generation.completion_tokens,
        };
        answer.timing_ms.prefill = generation.prefill_ms;
        answer.timing_ms.generate = generation.generate_ms;
        answer.generated = generation.text.clone();

        let verified = verify::verify(
            &generation.text,
            &g.terms,
            self.options.min_coverage,
            &g.hits,
            &sources,
        );
        answer.supported_share = verified.supported_share();
        if verified.supported > 0 {
            answer.strategy = Strategy::Generated;
            self.fill(answer, &verified, g)?;
        } else if let Some(best) = g.best() {
            // Nothing the model said holds up (or it declined): give the best evidence verbatim.
            answer.strategy = Strategy::Extractive;
            let span = evidence::extract(&g.hits[best.sentence.hit], &best.sentence, EXTRACT_CHARS);
            let v = Verified {
                text: format!(
                    "{} [1]",
                    span.quote.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
                supports: vec![verify::Support {
                    hit: best.sentence.hit,
                    start: span.start,
                    end: span.end,
                    quote: span.quote,
                }],
                ..Default::default()
            };
            self.fill(answer, &v, g)?;
        }
        Ok(())
    }

    pub(crate) fn fill(&self, answer: &mut Answer, v: &Verified, g: &Grounding) -> Result<()> {
        answer.abstained = false;
        answer.answer = v.text.clone();
        answer.citations = v
            .supports
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let hit = &g.hits[s.hit];
                Ok(Citation {
                    n: i + 1,
                    marking: quote_marking(hit, hit.start + s.start, hit.start + s.end)?.banner(),
                    doc_id: hit.doc_id.to_string(),
                    chunk_id: hit.chunk_id.0,
                    title: hit.title.clone(),
                    source: hit.source.clone(),
                    page: hit.page,
                    start: hit.start + s.start,
                    end: hit.start + s.end,
                    quote: s.quote.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        answer.marking = rollup(answer.citations.iter().map(|c| c.marking.as_str()))?.banner();
        Ok(())
    }

    /// The chat messages for `question` and the numbered sources they show: the chunks of the
    /// best sentences, each cut to its best sentences, within the model's context budget.
    pub(crate) fn prompt(
        &self,
        model: &ChatModel,
        question: &str,
        history: &[ChatMessage],
        g: &Grounding,
    ) -> (Vec<ChatMessage>, Vec<Source>) {
        let mut order: Vec<usize> = Vec::new();
        for s in &g.ranked {
            if !order.contains(&s.sentence.hit) {
                order.push(s.sentence.hit);
            }
            if order.len() == self.options.max_sources {
                break;
            }
        }
        let budget = model
            .info()
            .context
            .saturating_sub(self.options.max_tokens + 256);
        let prompter = model.prompter();
        let mut used = prompter.count_tokens(question) + 64;
        let mut listing = String::new();
        let mut sources = Vec::new();
        for hit in order {
            let mut best: Vec<&Scored> = g
                .ranked
                .iter()
                .filter(|s| s.sentence.hit == hit)
                .take(self.options.sentences_per_source)
                .collect();
            best.sort_by_key(|s| s.sentence.start);
            let base = evidence::context_of(&g.hits[hit]);
            let body: Vec<String> = best
                .iter()
                .map(|s| {
                    // The in-chunk heading ("Capital") tells the model what a bare value is.
                    let local = s.sentence.context.strip_prefix(base.as_str()).unwrap_or("");
                    let local = local.trim_start_matches(" > ");
                    if local.is_empty() {
                        s.sentence.text.clone()
                    } else {
                        format!("{local}: {}", s.sentence.text)
                    }
                })
                .collect();
            let entry = format!("[{}] {base}: {}\n", sources.len() + 1, body.join(" "));
            let cost = prompter.count_tokens(&entry);
            if used + cost > budget {
                break;
            }
            used += cost;
            listing.push_str(&entry);
            sources.push(Source { hit });
        }
        let mut messages = vec![
            ChatMessage::system(SYSTEM_PROMPT),
            // One worked example: small models copy the source listing without it.
            ChatMessage::user(EXAMPLE_QUESTION),
            ChatMessage::assistant(EXAMPLE_ANSWER),
        ];
        // The last exchange gives a follow-up its referents; older turns only cost context.
        let keep = history.len().saturating_sub(2);
        messages.extend(history[keep..].iter().cloned());
        messages.push(ChatMessage::user(format!(
            "Sources:\n{listing}\nQuestion: {question}\nAnswer in one short sentence using only the sources, and cite the source number like [1]."
        )));
        (messages, sources)
    }
}
