//! Grounding: the evidence a question is answered from — retrieval steered by the entities
//! the question names, statements scored, and the verdict whether it is enough to answer.

use crate::*;

/// The retrieved and scored material behind one question, shared by every model in a comparison.
pub struct Grounding {
    pub query: String,
    pub question: Question,
    pub hits: Vec<Hit>,
    pub ranked: Vec<Scored>,
    pub terms: QuestionTerms,
    pub coverage: f32,
    pub retrieve_ms: f64,
    /// Documents whose title the question names, with the name: the documents about what is
    /// asked.
    pub entity_docs: Vec<(String, DocId, String)>,
    /// For a comparison: each side's best statement of the compared value.
    pub sides: Vec<versus::Side>,
}

impl Grounding {
    pub fn best(&self) -> Option<&Scored> {
        self.ranked.first()
    }
}

impl Assistant {
    /// [`Assistant::ground`] for a request (its question, history, depth, viewer and area).
    pub(crate) fn ground_request(&self, req: &crate::AskRequest) -> Result<Grounding> {
        self.ground(
            &req.question,
            &req.history,
            req.k,
            &req.viewer,
            req.area.as_ref(),
        )
    }

    /// Retrieval and evidence scoring for a question (with its history), over what `viewer` may
    /// see: every search and every term statistic runs inside their scope.
    ///
    /// A question that names something with a document of its own ("the chief of state of
    /// France") also searches inside that document, and statements from other documents that
    /// do not mention the name rank lower: the document about it must win over a document
    /// that merely mentions it (Andorra's co-prince is France's president).
    pub fn ground(
        &self,
        question: &str,
        history: &[ChatMessage],
        k: Option<usize>,
        viewer: &Viewer,
        area: Option<&Area>,
    ) -> Result<Grounding> {
        if question.trim().is_empty() {
            return Err(AssistError::BadRequest("the question is empty".into()));
        }
        let _priority = sextant_models::priority::interactive();
        let t = Instant::now();
        let query = rewrite::standalone_query(question, history);
        let analysed = Question::analyse(&query);
        let k = k.unwrap_or(self.options.k).clamp(1, 50);
        let scope = self
            .retriever
            .store()
            .scope(viewer)
            .map_err(sextant_retrieve::RetrieveError::from)?;
        let entity_docs = self.entity_docs(&analysed.entities, &scope, area)?;
        let mut hits: Vec<Hit> = Vec::new();
        let add = |found: Vec<Hit>, hits: &mut Vec<Hit>| {
            for h in found {
                if !hits.iter().any(|x| x.chunk_id == h.chunk_id) {
                    hits.push(h);
                }
            }
        };
        let search = |q: &str, k: usize, mode: SearchMode, docs: Option<Vec<DocId>>| {
            self.retriever.search_in(
                &SearchRequest::new(q, k, mode)
                    .in_area(area.cloned())
                    .in_docs(docs),
                &scope,
            )
        };
        if !entity_docs.is_empty() {
            // Deeper inside the named documents: a long profile holds many fields, and the
            // one asked about may share no word with the question ("How many people live in
            // …" / "Population").
            let docs: Vec<DocId> = entity_docs.iter().map(|(_, d, _)| d.clone()).collect();
            add(
                search(&query, 2 * k, SearchMode::Hybrid, Some(docs.clone()))?,
                &mut hits,
            );
            add(search(&query, k, SearchMode::Bm25, Some(docs))?, &mut hits);
        }
        // Hybrid retrieval ranks documents well but can bury the one chunk that states a fact
        // (the "Capital" field of a long country profile); BM25's best chunks join the pool and
        // the sentence scoring below picks the evidence.
        add(search(&query, k, SearchMode::Hybrid, None)?, &mut hits);
        add(
            search(&query, k.div_ceil(2), SearchMode::Bm25, None)?,
            &mut hits,
        );
        // The named documents whole, when they are short enough to read through: a profile's
        // field ("Population: 23,415,126") may sit in a chunk that neither BM25 nor the
        // embedding ranks high for the question, but its statement, under its own heading,
        // scores well. Inside an area, only what lies there.
        if !entity_docs.is_empty() && area.is_none() {
            let docs: Vec<DocId> = entity_docs.iter().map(|(_, d, _)| d.clone()).collect();
            if let Some(all) = self
                .retriever
                .chunks_of_docs(&docs, &scope, WHOLE_DOC_CHUNKS)?
            {
                add(all, &mut hits);
            }
        }
        // A comparison: each side's value, from that side's own document.
        let mut sides = Vec::new();
        if let Some(c) = &analysed.comparison {
            for name in [&c.a, &c.b] {
                let docs = self.entity_docs(std::slice::from_ref(name), &scope, area)?;
                if docs.is_empty() {
                    continue;
                }
                let ids: Vec<DocId> = docs.iter().map(|(_, d, _)| d.clone()).collect();
                let found = search(&c.attribute, 6, SearchMode::Bm25, Some(ids))?;
                let side = versus::side(name, &c.attribute, &found);
                if let Some(v) = &side.value {
                    add(
                        found
                            .into_iter()
                            .filter(|h| h.chunk_id == v.chunk)
                            .collect(),
                        &mut hits,
                    );
                }
                sides.push(side);
            }
        }
        let text = self.retriever.store().text();
        let terms = QuestionTerms::new(&query, |w| {
            text.idf(w, scope.visible())
                .unwrap_or_else(|_| vec![1.0; w.len()])
        });
        let mut terms = terms;
        terms.wants_quantity |= analysed.answer_type == AnswerType::Number;
        terms.wants_date = analysed.answer_type == AnswerType::Date;
        let embed = |texts: &[String]| self.retriever.embedder().and_then(|e| e.embed(texts).ok());
        // A comparison in the span design is decided from its sides alone: its statements are
        // only ranked for the trace, and embedding them would be most of the question's cost.
        let dense: Option<&dyn Fn(&[String]) -> Option<Vec<Vec<f32>>>> =
            if analysed.comparison.is_some() && self.options.design == Design::Span {
                None
            } else {
                Some(&embed)
            };
        let mut ranked = evidence::rank(&terms, &query, &hits, dense);
        if !entity_docs.is_empty() {
            // Statements outside the named documents that do not mention the name either.
            let named: Vec<String> = entity_docs
                .iter()
                .map(|(e, _, _)| e.to_lowercase())
                .collect();
            for s in &mut ranked {
                let hit = &hits[s.sentence.hit];
                let inside = entity_docs.iter().any(|(_, d, _)| *d == hit.doc_id);
                let mentions = {
                    let t = s.sentence.text.to_lowercase();
                    named.iter().any(|n| t.contains(n.as_str()))
                };
                if !inside && !mentions {
                    s.score *= OTHER_ENTITY_WEIGHT;
                }
            }
            ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        let coverage = evidence::chunk_coverage(&terms, &hits);
        Ok(Grounding {
            query,
            question: analysed,
            hits,
            ranked,
            terms,
            coverage,
            retrieve_ms: t.elapsed().as_secs_f64() * 1e3,
            entity_docs,
            sides,
        })
    }

    /// The documents the question's names are the titles of: `(name, doc, title)`. A name
    /// matches a title holding all its words ("Congo" matches "Congo, Republic of the"); when
    /// the question also gives a year and some matching titles hold it, only those stay (the
    /// 1862 address of Lincoln, not all four). At most three documents.
    pub(crate) fn entity_docs(
        &self,
        entities: &[String],
        scope: &sextant_store::Scope,
        area: Option<&Area>,
    ) -> Result<Vec<(String, DocId, String)>> {
        let years: Vec<&String> = entities
            .iter()
            .filter(|e| e.len() == 4 && e.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let mut found: Vec<(String, DocId, String, usize)> = Vec::new();
        for name in entities.iter().filter(|e| !years.contains(e)) {
            let want = words::words(name);
            if want.is_empty() {
                continue;
            }
            // With the question's years, so that among a person's many documents the one of
            // that year is among the hits (titles weigh most: "1862-abraham-lincoln").
            let query = std::iter::once(name.as_str())
                .chain(years.iter().map(|y| y.as_str()))
                .collect::<Vec<_>>()
                .join(" ");
            let hits = self.retriever.search_in(
                &SearchRequest::new(query, 60, SearchMode::Bm25).in_area(area.cloned()),
                scope,
            )?;
            for h in hits {
                let title = words::words(&h.title);
                if !want.iter().all(|w| title.contains(w)) {
                    continue;
                }
                if found.iter().any(|(_, d, _, _)| *d == h.doc_id) {
                    continue;
                }
                let year_hits = years.iter().filter(|y| title.contains(*y)).count();
                // Shorter titles first among equals: "France" before "Saint Pierre and
                // Miquelon (France)".
                found.push((name.clone(), h.doc_id.clone(), h.title.clone(), year_hits));
            }
        }
        if let Some(best) = found.iter().map(|f| f.3).max() {
            found.retain(|f| f.3 == best);
        }
        found.sort_by_key(|(_, _, t, _)| t.len());
        // Per name, the titles closest to the name itself.
        let mut out: Vec<(String, DocId, String)> = Vec::new();
        for (name, doc, title, _) in found {
            let exact = title.eq_ignore_ascii_case(&name);
            let have_exact = out
                .iter()
                .any(|(n, _, t)| *n == name && t.eq_ignore_ascii_case(n));
            if have_exact && !exact {
                continue;
            }
            if out.len() < 3 {
                out.push((name, doc, title));
            }
        }
        Ok(out)
    }

    /// Whether the evidence is too weak to answer from at all.
    pub fn unsupported(&self, g: &Grounding) -> bool {
        match g.best() {
            None => true,
            Some(best) => {
                g.coverage < self.options.min_coverage || best.score < self.options.min_evidence
            }
        }
    }
}
