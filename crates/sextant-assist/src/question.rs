//! What a question asks for: the type of answer it expects (a person, a date, a number, a
//! place, a named thing, a comparison between two named things, or a description), and the
//! names it mentions (which steer retrieval to the documents about them).
//!
//! Deterministic on purpose: the type decides how long the answer may be and which extract can
//! stand as one, so it must not depend on what a small model happens to say.

use serde::Serialize;

use crate::words::{fold, words};

/// The kind of answer a question expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerType {
    Person,
    Date,
    Number,
    Place,
    /// A named thing, short ("What currency …", "Which party …").
    Entity,
    /// A sentence or two ("Why …", "What did Lincoln say about …", "Describe …").
    Description,
    /// "A or B, which is larger?": one of two named things, decided by comparing a value.
    Comparison,
}

impl AnswerType {
    /// Whether the answer is a short span (a name, a date, a number) rather than a statement.
    pub fn is_factoid(self) -> bool {
        !matches!(self, AnswerType::Description | AnswerType::Comparison)
    }
}

/// How precise a date the question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DateDetail {
    #[default]
    Any,
    Month,
    Day,
}

/// Which way a comparison goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Most,
    Least,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// What is compared, as a query for the value in each one's document ("area", "population").
    pub attribute: String,
    pub direction: Direction,
}

#[derive(Debug, Clone, Serialize)]
pub struct Question {
    pub answer_type: AnswerType,
    /// For a date: "what month" / "what day" ask for more than a year.
    pub date_detail: DateDetail,
    /// Names in the question (capitalised word runs, identifiers such as callsigns), in order.
    pub entities: Vec<String>,
    pub comparison: Option<Comparison>,
    /// The question asks for several things ("What are the main exports …").
    pub plural: bool,
    /// The question asks for a rate or a share ("birth rate", "what percentage"): only then
    /// may a number answer be one ("14.46 births/1,000 population" is no population).
    pub asks_rate: bool,
    /// What "how many …" counts ("hospital" in "How many hospitals are there in Ghana?"):
    /// the statement must name it ("Airports: 10" counts no hospitals).
    pub counted: Option<String>,
}

/// Counted nouns a population figure answers.
const PEOPLE: &[&str] = &["citizen", "inhabitant", "people", "person", "resident"];

impl Question {
    /// Whether a statement (its folded content words, with its headings) names what the
    /// question counts.
    pub fn names_counted(&self, bag: &std::collections::HashSet<String>) -> bool {
        match &self.counted {
            None => true,
            Some(n) if PEOPLE.contains(&n.as_str()) => {
                bag.contains(n) || bag.contains("population") || bag.contains("people")
            }
            Some(n) => bag.contains(n),
        }
    }
}

/// Words that make a question ask for a rate, share or density rather than a count.
const RATE_WORDS: &[&str] = &[
    "average",
    "density",
    "fraction",
    "growth",
    "per",
    "percent",
    "percentage",
    "proportion",
    "rate",
    "ratio",
    "share",
];

/// Lowercase words a person's or a place's name may carry outside parentheses: titles, name
/// particles and the Factbook's "represented by" (anything else lowercase is a phrase, not a name:
/// "France's separation of Church and State").
const NAME_WORDS: &[&str] = &[
    "al",
    "and",
    "bin",
    "by",
    "chairman",
    "chief",
    "city",
    "co",
    "da",
    "de",
    "del",
    "deputy",
    "di",
    "du",
    "el",
    "emir",
    "general",
    "governor",
    "ibn",
    "king",
    "la",
    "le",
    "minister",
    "of",
    "premier",
    "president",
    "prime",
    "prince",
    "queen",
    "represented",
    "s",
    "secretary",
    "sultan",
    "the",
    "van",
    "vice",
    "von",
];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Words that start a question or carry no name even when capitalised.
const NOT_NAMES: &[&str] = &[
    "a",
    "according",
    "an",
    "and",
    "are",
    "can",
    "could",
    "describe",
    "did",
    "do",
    "does",
    "explain",
    "give",
    "how",
    "i",
    "in",
    "is",
    "list",
    "name",
    "of",
    "on",
    "or",
    "please",
    "tell",
    "the",
    "to",
    "was",
    "were",
    "what",
    "what's",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "would",
];

/// Quantity words after "how" ("how many", "how long", …).
const HOW_QUANTITY: &[&str] = &[
    "big", "deep", "far", "fast", "few", "heavy", "high", "large", "little", "long", "many",
    "much", "old", "small", "tall", "wide",
];

/// Nouns whose value is a number ("What is the population of …").
const NUMBER_NOUNS: &[&str] = &[
    "age",
    "altitude",
    "amount",
    "area",
    "budget",
    "cost",
    "count",
    "debt",
    "density",
    "depth",
    "distance",
    "elevation",
    "expectancy",
    "gdp",
    "groundspeed",
    "height",
    "heading",
    "income",
    "length",
    "number",
    "percent",
    "percentage",
    "population",
    "price",
    "rate",
    "ratio",
    "salary",
    "share",
    "size",
    "speed",
    "sum",
    "temperature",
    "total",
    "track",
    "value",
    "velocity",
    "weight",
];

const PLACE_NOUNS: &[&str] = &[
    "capital",
    "city",
    "continent",
    "country",
    "island",
    "location",
    "mountain",
    "ocean",
    "point",
    "port",
    "province",
    "region",
    "river",
    "sea",
    "state",
    "town",
    "village",
];

const PERSON_NOUNS: &[&str] = &[
    "author",
    "chairman",
    "chief",
    "dictator",
    "emperor",
    "founder",
    "general",
    "governor",
    "head",
    "king",
    "leader",
    "minister",
    "monarch",
    "premier",
    "president",
    "prince",
    "princess",
    "queen",
    "ruler",
    "secretary",
    "sultan",
];

const DATE_NOUNS: &[&str] = &["anniversary", "date", "day", "decade", "month", "year"];

/// Comparative words and which way they compare.
const COMPARATIVES: &[(&str, Direction)] = &[
    ("bigger", Direction::Most),
    ("larger", Direction::Most),
    ("greater", Direction::Most),
    ("higher", Direction::Most),
    ("longer", Direction::Most),
    ("more", Direction::Most),
    ("older", Direction::Most),
    ("populous", Direction::Most),
    ("richer", Direction::Most),
    ("taller", Direction::Most),
    ("fewer", Direction::Least),
    ("less", Direction::Least),
    ("lower", Direction::Least),
    ("poorer", Direction::Least),
    ("shorter", Direction::Least),
    ("smaller", Direction::Least),
];

/// What a comparison is about when the question names no other noun: "larger" alone means
/// area, "more people" population.
fn implied_attribute(w: &[String]) -> Option<&'static str> {
    let has = |x: &str| w.iter().any(|v| v == x);
    if has("populous") || has("people") || has("inhabitants") || has("population") {
        Some("population")
    } else if has("richer") || has("poorer") {
        Some("gdp per capita")
    } else if has("larger") || has("bigger") || has("smaller") {
        Some("area")
    } else {
        None
    }
}

impl Question {
    pub fn analyse(text: &str) -> Question {
        let entities = entities(text);
        let w = words(text);
        let comparison = comparison(text, &w, &entities);
        let answer_type = if comparison.is_some() {
            AnswerType::Comparison
        } else {
            answer_type(&w)
        };
        // "What are …", "What natural resources …", "List the languages …".
        let plural_noun = |x: &String| {
            x.len() > 4 && x.ends_with('s') && !x.ends_with("ss") && !x.ends_with("us")
        };
        let plural = w.windows(2).any(|p| {
            matches!(p[0].as_str(), "what" | "which") && matches!(p[1].as_str(), "are" | "were")
        }) || w
            .iter()
            .position(|x| matches!(x.as_str(), "what" | "which" | "name" | "list"))
            .is_some_and(|i| w[i + 1..].iter().take(3).any(plural_noun));
        let date_detail = if w
            .windows(2)
            .any(|p| matches!(p[0].as_str(), "what" | "which") && p[1] == "month")
        {
            DateDetail::Month
        } else if w.windows(2).any(|p| {
            matches!(p[0].as_str(), "what" | "which") && matches!(p[1].as_str(), "day" | "date")
        }) {
            DateDetail::Day
        } else {
            DateDetail::Any
        };
        let asks_rate =
            text.contains('%') || w.iter().any(|x| RATE_WORDS.contains(&fold(x).as_str()));
        let counted = w
            .windows(3)
            .find(|p| p[0] == "how" && p[1] == "many")
            .map(|p| fold(&p[2]));
        Question {
            answer_type,
            date_detail,
            entities,
            comparison,
            plural,
            asks_rate,
            counted,
        }
    }
}

fn answer_type(w: &[String]) -> AnswerType {
    let has = |x: &str| w.iter().any(|v| v == x);
    let at = |i: usize| w.get(i).map(String::as_str).unwrap_or("");
    // The question word may follow a preposition: "In what year …", "By how much …".
    let start = w
        .iter()
        .position(|x| {
            matches!(
                x.as_str(),
                "who" | "whom" | "whose" | "when" | "where" | "why" | "how" | "what" | "which"
            )
        })
        .unwrap_or(0);
    let q = at(start);
    let next = at(start + 1);
    // The noun phrase a "what/which" question asks about: the words after the question word,
    // past auxiliaries and determiners, up to a preposition or verb ("What is the life
    // expectancy at birth in …" -> [life, expectancy]; "Which city …" -> [city]).
    let phrase: Vec<&str> = w[start + 1..]
        .iter()
        .map(String::as_str)
        .skip_while(|x| {
            matches!(
                *x,
                "is" | "are"
                    | "was"
                    | "were"
                    | "the"
                    | "a"
                    | "an"
                    | "s"
                    | "official"
                    | "main"
                    | "current"
                    | "kind"
                    | "type"
                    | "sort"
                    | "of"
                    | "total"
            )
        })
        .take_while(|x| {
            !matches!(
                *x,
                "of" | "in"
                    | "for"
                    | "at"
                    | "on"
                    | "does"
                    | "did"
                    | "do"
                    | "is"
                    | "was"
                    | "are"
                    | "were"
                    | "by"
                    | "from"
                    | "to"
                    | "has"
                    | "have"
                    | "had"
                    | "with"
            )
        })
        .take(4)
        .collect();
    let noun = phrase.first().copied().unwrap_or("");
    let any = |list: &[&str]| phrase.iter().any(|x| list.contains(x));
    match q {
        "who" | "whom" | "whose" => AnswerType::Person,
        "when" => AnswerType::Date,
        "where" => AnswerType::Place,
        "why" => AnswerType::Description,
        "how" if HOW_QUANTITY.contains(&next) => AnswerType::Number,
        "how" => AnswerType::Description,
        "what" | "which" => {
            if any(DATE_NOUNS) {
                AnswerType::Date
            } else if any(NUMBER_NOUNS) {
                AnswerType::Number
            } else if any(PERSON_NOUNS) {
                AnswerType::Person
            } else if any(PLACE_NOUNS) {
                AnswerType::Place
            } else if matches!(noun, "happened" | "caused" | "led" | "reasons" | "reason")
                || (has("say") || has("said") || has("propose") || has("proposed"))
                || (matches!(next, "did" | "does" | "do")
                    && w.iter().any(|x| {
                        matches!(
                            x.as_str(),
                            "say"
                                | "propose"
                                | "recommend"
                                | "ask"
                                | "argue"
                                | "warn"
                                | "describe"
                                | "think"
                                | "believe"
                                | "urge"
                                | "announce"
                                | "promise"
                        )
                    }))
            {
                AnswerType::Description
            } else {
                AnswerType::Entity
            }
        }
        _ if matches!(
            at(0),
            "describe" | "explain" | "summarize" | "summarise" | "tell"
        ) =>
        {
            AnswerType::Description
        }
        _ if matches!(at(0), "name" | "list" | "give") => AnswerType::Entity,
        _ => AnswerType::Entity,
    }
}

/// Capitalised word runs that are not question words, and identifiers with digits and capitals
/// (callsigns, hull numbers): "Who is the chief of state of France?" -> ["France"];
/// "altitude of AFR914" -> ["AFR914"]; "Chad or Niger" -> ["Chad", "Niger"].
pub fn entities(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    let tokens: Vec<&str> = text
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | '?' | '!' | ';' | ':' | '"' | '(' | ')')
        })
        .filter(|t| !t.is_empty())
        .collect();
    let flush = |run: &mut Vec<&str>, out: &mut Vec<String>| {
        // Drop trailing connectors ("the Republic of" -> "the Republic").
        while run
            .last()
            .is_some_and(|w| matches!(w.to_lowercase().as_str(), "of" | "the" | "and" | "de"))
        {
            run.pop();
        }
        if !run.is_empty() {
            let name = run.join(" ");
            let name = name
                .trim_end_matches("'s")
                .trim_end_matches('.')
                .to_string();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
        run.clear();
    };
    for tok in tokens {
        let t = tok.trim_matches(|c: char| matches!(c, '.' | '\'' | '‘' | '’'));
        let lower = t.to_lowercase();
        let capital = t.chars().next().is_some_and(|c| c.is_uppercase());
        let ident =
            t.chars().any(|c| c.is_ascii_digit()) && t.chars().any(|c| c.is_ascii_uppercase());
        let year = t.len() == 4 && t.chars().all(|c| c.is_ascii_digit());
        let is_name = (capital || ident)
            && !NOT_NAMES.contains(&lower.as_str())
            && !MONTHS.contains(&lower.as_str());
        if is_name {
            run.push(t);
        } else if !run.is_empty() && matches!(lower.as_str(), "of" | "de" | "and") {
            // "Republic of the Congo", "Bosnia and Herzegovina": keep going.
            run.push(t);
        } else if !run.is_empty()
            && lower == "the"
            && run.last().is_some_and(|w| w.eq_ignore_ascii_case("of"))
        {
            run.push(t);
        } else {
            flush(&mut run, &mut out);
            if year {
                out.push(t.to_string());
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// "Which is larger, Chad or Niger?", "Chad or Niger: which country is bigger?", "Is Chad
/// larger than Niger?", "Which has more people, A or B?".
fn comparison(text: &str, w: &[String], entities: &[String]) -> Option<Comparison> {
    let lower = text.to_lowercase();
    let (phrase, direction) = COMPARATIVES
        .iter()
        .find(|(p, _)| w.iter().any(|x| x == p))?;
    // Two names joined by "or" / "than" / "and".
    let names: Vec<&String> = entities
        .iter()
        .filter(|e| !e.chars().all(|c| c.is_ascii_digit()))
        .collect();
    if names.len() < 2 {
        return None;
    }
    let (a, b) = (names[0], names[1]);
    let la = lower.find(&a.to_lowercase())?;
    let lb = lower.find(&b.to_lowercase())?;
    let between = &lower[la.min(lb)..la.max(lb)];
    if !(between.contains(" or ") || between.contains(" than ") || between.contains(" and ")) {
        return None;
    }
    // The compared quantity: the question's other content words ("Which has a higher GDP per
    // capita, A or B?" -> "gdp per capita"), or what the comparative implies.
    let skip: Vec<String> = entities.iter().map(|e| e.to_lowercase()).collect();
    let rest: Vec<&str> = w
        .iter()
        .map(String::as_str)
        .filter(|x| {
            !crate::words::is_stopword(x)
                && !skip.iter().any(|e| e.split_whitespace().any(|p| p == *x))
                && !COMPARATIVES.iter().any(|(p, _)| p == x)
                && !matches!(
                    *x,
                    "country"
                        | "countries"
                        | "has"
                        | "is"
                        | "or"
                        | "people"
                        | "inhabitants"
                        | "populous"
                        | "nation"
                        | "bigger"
                        | "larger"
                )
        })
        .collect();
    let attribute = match implied_attribute(w) {
        Some(a) if rest.is_empty() || a == "population" => a.to_string(),
        _ if !rest.is_empty() => rest.join(" "),
        _ => return None,
    };
    let _ = phrase;
    Some(Comparison {
        a: a.clone(),
        b: b.clone(),
        attribute,
        direction: *direction,
    })
}

/// Whether `span` can stand as the answer to `q` (its type, and for a date its detail: a
/// question about the month is not answered by a year).
pub fn fits_question(q: &Question, span: &str) -> bool {
    if !fits(q.answer_type, span) {
        return false;
    }
    if q.answer_type == AnswerType::Number && !q.asks_rate && is_rate(span) {
        return false;
    }
    if q.answer_type != AnswerType::Date {
        return true;
    }
    let w = words(span);
    let month = w.iter().any(|x| MONTHS.contains(&x.as_str()));
    match q.date_detail {
        DateDetail::Any => true,
        DateDetail::Month => month,
        DateDetail::Day => month && w.iter().any(|x| is_day(x)),
    }
}

/// Whether `span` can stand as an answer of type `t`.
pub fn fits(t: AnswerType, span: &str) -> bool {
    let span = span.trim();
    if span.is_empty() || !span.chars().any(char::is_alphanumeric) {
        return false;
    }
    let w = words(span);
    let has_digit = span.chars().any(|c| c.is_ascii_digit());
    let capitalised = span
        .split_whitespace()
        .any(|x| x.chars().next().is_some_and(|c| c.is_uppercase()));
    match t {
        AnswerType::Date => {
            has_digit
                && (w
                    .iter()
                    .any(|x| x.len() == 4 && x.chars().all(|c| c.is_ascii_digit()))
                    || w.iter().any(|x| MONTHS.contains(&x.as_str())))
        }
        AnswerType::Number => has_digit || crate::evidence::states_quantity(span),
        // A name has a word of two letters or more: "26 14 N, 50 34 E" (the coordinates
        // beside a capital's name in the Factbook) is no place.
        AnswerType::Person | AnswerType::Place => {
            capitalised
                && w.len() <= 12
                && is_name(span)
                && w.iter()
                    .any(|x| x.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        }
        // A thing, not an amount: "$76.68 billion (2013 est.)" names no export.
        AnswerType::Entity => w.len() <= 16 && !is_amount(span),
        AnswerType::Description | AnswerType::Comparison => true,
    }
}

/// A day of the month: "9", "30", "1st", "15th".
fn is_day(w: &str) -> bool {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    (1..=2).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && ["", "st", "nd", "rd", "th"].contains(&suffix)
}

/// Whether `span` only repeats the question ("a constitutional amendment" for "Grant
/// recommended a constitutional amendment making it the duty … to establish what?").
pub fn echoes(question: &str, span: &str) -> bool {
    let q: std::collections::HashSet<String> =
        crate::words::content_words(question).into_iter().collect();
    let s = crate::words::content_words(span);
    !s.is_empty() && s.iter().all(|w| q.contains(w))
}

/// A rate, share or density: "2.18%", "14.46 births/1,000 population", "5 per 100".
pub fn is_rate(span: &str) -> bool {
    span.contains('%')
        || span.contains('/')
        || words(span)
            .iter()
            .any(|w| w == "per" || w == "percent" || w == "rate")
}

/// Outside parentheses, every lowercase word is a title or a name particle.
fn is_name(span: &str) -> bool {
    let mut depth = 0i32;
    let mut outside = String::new();
    for c in span.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth <= 0 => outside.push(c),
            _ => {}
        }
    }
    outside
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .all(|w| NAME_WORDS.contains(&w))
}

/// Only a quantity: digits with at most unit, scale and estimate words.
fn is_amount(span: &str) -> bool {
    const AMOUNT_WORDS: &[&str] = &[
        "est",
        "billion",
        "million",
        "trillion",
        "thousand",
        "hundred",
        "about",
        "approximately",
        "nearly",
        "over",
        "under",
        "sq",
        "km",
        "mi",
        "us",
        "usd",
    ];
    span.chars().any(|c| c.is_ascii_digit())
        && words(span).iter().all(|w| {
            w.chars().all(|c| c.is_ascii_digit())
                || AMOUNT_WORDS.contains(&w.as_str())
                || MONTHS.contains(&w.as_str())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: &str, t: AnswerType, names: &[&str]) {
        let a = Question::analyse(q);
        assert_eq!(a.answer_type, t, "{q}");
        assert_eq!(a.entities, names, "{q}");
    }

    #[test]
    fn answer_types_and_names() {
        check(
            "What is the capital of Kenya?",
            AnswerType::Place,
            &["Kenya"],
        );
        check(
            "Who is the chief of state of France?",
            AnswerType::Person,
            &["France"],
        );
        check(
            "What is the population of Brazil?",
            AnswerType::Number,
            &["Brazil"],
        );
        check(
            "How many people live in Peru?",
            AnswerType::Number,
            &["Peru"],
        );
        check(
            "When did Ghana gain independence?",
            AnswerType::Date,
            &["Ghana"],
        );
        check(
            "In what year did Ghana become independent?",
            AnswerType::Date,
            &["Ghana"],
        );
        check(
            "What currency is used in Kenya?",
            AnswerType::Entity,
            &["Kenya"],
        );
        check(
            "What are the main exports of Chile?",
            AnswerType::Entity,
            &["Chile"],
        );
        check(
            "What is the altitude and groundspeed of AFR914?",
            AnswerType::Number,
            &["AFR914"],
        );
        check(
            "What did Abraham Lincoln say about slavery in his 1862 message?",
            AnswerType::Description,
            &["Abraham Lincoln", "1862"],
        );
        check(
            "Why did the Soviet Union collapse?",
            AnswerType::Description,
            &["Soviet Union"],
        );
        check(
            "Who is the head of government of the Democratic Republic of the Congo?",
            AnswerType::Person,
            &["Democratic Republic of the Congo"],
        );
        check(
            "What are the Four Freedoms?",
            AnswerType::Entity,
            &["Four Freedoms"],
        );
    }

    #[test]
    fn comparisons() {
        let q = Question::analyse("Chad or Niger, which is larger?");
        assert_eq!(q.answer_type, AnswerType::Comparison);
        let c = q.comparison.unwrap();
        assert_eq!(
            (c.a.as_str(), c.b.as_str(), c.attribute.as_str()),
            ("Chad", "Niger", "area")
        );
        assert_eq!(c.direction, Direction::Most);
        let c = Question::analyse("Which has more people, Peru or Chile?")
            .comparison
            .unwrap();
        assert_eq!((c.a.as_str(), c.attribute.as_str()), ("Peru", "population"));
        let c = Question::analyse("Which country has the larger population, Peru or Chile?")
            .comparison
            .unwrap();
        assert_eq!(c.attribute, "population");
        let c = Question::analyse("Which has the longer coastline, Peru or Chile?")
            .comparison
            .unwrap();
        assert_eq!(c.attribute, "coastline");
        assert!(Question::analyse("What is the larger city of Kenya?")
            .comparison
            .is_none());
    }

    #[test]
    fn dates_fit_the_detail_asked() {
        let q = Question::analyse("In what month of 2004 was KUFUOR reelected?");
        assert!(!fits_question(&q, "2004"));
        assert!(fits_question(&q, "December 2004"));
        let q = Question::analyse("When did Ghana gain independence?");
        assert!(fits_question(&q, "1957"));
    }

    #[test]
    fn spans_fit_their_types() {
        assert!(fits(AnswerType::Date, "12 December 1963"));
        assert!(!fits(AnswerType::Date, "the United Kingdom"));
        assert!(fits(AnswerType::Number, "45,925,301"));
        assert!(!fits(AnswerType::Number, "Nairobi"));
        assert!(fits(AnswerType::Place, "Nairobi"));
        assert!(!fits(AnswerType::Place, "26 14 N, 50 34 E"));
        assert!(fits(AnswerType::Place, "Name: Kingston"));
        assert!(!fits(AnswerType::Person, "sharp currency depreciation"));
        assert!(fits(AnswerType::Person, "President Francois HOLLANDE"));
        assert!(fits(
            AnswerType::Person,
            "Queen ELIZABETH II (since 1952); represented by Governor General Peter COSGROVE"
        ));
        assert!(fits(AnswerType::Person, "Co-prince Francois HOLLANDE"));
        assert!(!fits(
            AnswerType::Person,
            "France's separation of Church and State (2015 est.)"
        ));
        assert!(fits(AnswerType::Place, "Buenos Aires"));
        assert!(fits(AnswerType::Entity, "copper, fruit, fish products"));
        assert!(!fits(AnswerType::Entity, "$76.68 billion (2013 est.)"));
    }

    #[test]
    fn days_may_be_ordinals_and_echoes_are_not_answers() {
        let q = Question::analyse("On what date was the battleship Maine destroyed?");
        assert!(fits_question(&q, "the 15th of February last"));
        assert!(!fits_question(&q, "February 1898"));
        assert!(echoes(
            "Grant recommended a constitutional amendment making it the duty of each State to establish what?",
            "a constitutional amendment"
        ));
        assert!(!echoes("What is the capital of Kenya?", "Nairobi"));
    }

    #[test]
    fn a_count_names_what_it_counts() {
        let bag = |s: &str| crate::words::content_words(s).into_iter().collect();
        let q = Question::analyse("How many hospitals are there in Ghana?");
        assert!(!q.names_counted(&bag("Ghana > Transportation > Airports: 10 (2013)")));
        assert!(q.names_counted(&bag("Ghana has 12 hospitals")));
        let q = Question::analyse("How many people live in Peru?");
        assert!(q.names_counted(&bag("Peru > People and Society > Population: 30,444,999")));
    }

    #[test]
    fn a_count_is_not_a_rate() {
        let q = Question::analyse("What is the population of Brazil?");
        assert!(fits_question(&q, "204,259,812"));
        assert!(!fits_question(&q, "14.46 births/1,000 population"));
        let q = Question::analyse("What is the birth rate of Brazil?");
        assert!(fits_question(&q, "14.46 births/1,000 population"));
        let q = Question::analyse("What percentage of Indians are Hindu?");
        assert!(fits_question(&q, "79.8%"));
        let q = Question::analyse("How many hospitals are there in Ghana?");
        assert!(!fits_question(&q, "0.9 beds/1,000 population"));
    }
}
