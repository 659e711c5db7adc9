//! Constrained decoding: at every step the model may only pick tokens that keep its output
//! inside a set of allowed strings. [`SpanConstraint`] allows exactly the verbatim spans of a
//! few source texts (starting and ending at word boundaries) plus fixed alternatives such as
//! "NO ANSWER" — so an extracted answer is a substring of its evidence by construction, not by
//! a check after the fact.
//!
//! Written by hand rather than through a grammar engine: "any substring of these texts" is a
//! suffix-automaton-like language that a grammar would have to spell out position by position,
//! while walking the texts directly costs a few hash lookups per live position and step.

use std::collections::HashMap;

use tokenizers::Tokenizer;

/// The bytes each token stands for (byte-level BPE decoded back to bytes), and the reverse map.
pub struct TokenBytes {
    bytes: Vec<Option<Box<[u8]>>>,
    by_bytes: HashMap<Box<[u8]>, Vec<u32>>,
    max_len: usize,
}

/// GPT-2's byte <-> printable character table: byte-level BPE vocabularies spell byte `b` as
/// this character.
fn byte_of_char() -> HashMap<char, u8> {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    bs.into_iter()
        .zip(cs)
        .filter_map(|(b, c)| char::from_u32(c).map(|c| (c, b as u8)))
        .collect()
}

impl TokenBytes {
    pub fn new(tokenizer: &Tokenizer) -> TokenBytes {
        let table = byte_of_char();
        let special: std::collections::HashSet<u32> = tokenizer
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| *id)
            .collect();
        let n = tokenizer.get_vocab_size(true);
        let mut bytes = vec![None; n];
        let mut by_bytes: HashMap<Box<[u8]>, Vec<u32>> = HashMap::with_capacity(n);
        let mut max_len = 0;
        for (id, slot) in bytes.iter_mut().enumerate() {
            let id = id as u32;
            if special.contains(&id) {
                continue;
            }
            let Some(tok) = tokenizer.id_to_token(id) else {
                continue;
            };
            // Byte-level spelling when every character is in the table; otherwise the token is
            // plain text (added tokens, other vocabularies).
            let b: Vec<u8> = match tok.chars().map(|c| table.get(&c).copied()).collect() {
                Some(b) => b,
                None => match tokenizer.decode(&[id], false) {
                    Ok(s) if !s.is_empty() => s.into_bytes(),
                    _ => continue,
                },
            };
            if b.is_empty() {
                continue;
            }
            max_len = max_len.max(b.len());
            let b: Box<[u8]> = b.into_boxed_slice();
            by_bytes.entry(b.clone()).or_default().push(id);
            *slot = Some(b);
        }
        TokenBytes {
            bytes,
            by_bytes,
            max_len,
        }
    }

    /// Tokens in the vocabulary (ids `0..len`).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn bytes(&self, id: u32) -> Option<&[u8]> {
        self.bytes.get(id as usize).and_then(|b| b.as_deref())
    }

    /// Tokens spelling exactly `b`.
    pub fn ids(&self, b: &[u8]) -> &[u32] {
        self.by_bytes.get(b).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// What a constraint allows next.
#[derive(Debug, Default)]
pub struct Allowed {
    pub tokens: Vec<u32>,
    /// Whether the output may end here (an end-of-turn token is allowed).
    pub end: bool,
}

/// A constraint over generated tokens.
pub trait Constraint: Send {
    fn allowed(&mut self, vocab: &TokenBytes) -> Allowed;
    fn advance(&mut self, token: u32, vocab: &TokenBytes);
    /// Whether `token` can only begin one of the fixed alternatives (such as "NO ANSWER"),
    /// never a span: the first step weighs the two kinds of output against each other.
    fn starts_literal_only(&self, _token: u32, _vocab: &TokenBytes) -> bool {
        false
    }
}

/// Verbatim spans of `texts` that start at a word start, plus whole `literals`.
pub struct SpanConstraint {
    texts: Vec<Vec<u8>>,
    /// How many of `texts` (the first ones) are spans; the rest are literals, only whole.
    spans: usize,
    /// Live positions: (text, byte offset where the output so far ends).
    live: Vec<(usize, usize)>,
    max_bytes: usize,
    produced: usize,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

impl SpanConstraint {
    /// `max_bytes` caps the span length.
    pub fn new(texts: &[String], literals: &[String], max_bytes: usize) -> SpanConstraint {
        let mut all: Vec<Vec<u8>> = texts.iter().map(|t| t.as_bytes().to_vec()).collect();
        let spans = all.len();
        all.extend(literals.iter().map(|t| t.as_bytes().to_vec()));
        let mut live = Vec::new();
        for (i, t) in all.iter().enumerate() {
            if i >= spans {
                live.push((i, 0));
                continue;
            }
            for p in 0..t.len() {
                let starts_word = (is_word(t[p]) || matches!(t[p], b'$' | b'"' | b'\''))
                    && (p == 0 || !is_word(t[p - 1]));
                // Not inside a multi-byte character.
                if starts_word && (t[p] < 0x80 || t[p] >= 0xC0) {
                    live.push((i, p));
                }
            }
        }
        SpanConstraint {
            texts: all,
            spans,
            live,
            max_bytes,
            produced: 0,
        }
    }

    /// Where the output so far ends: (text index, byte offset), first live position first. A
    /// literal has an index ≥ the number of span texts.
    pub fn positions(&self) -> &[(usize, usize)] {
        &self.live
    }

    /// Whether a span may end at `p` of text `t`: after a word (or a closing bracket, percent
    /// sign or quote) and before a non-word byte or the end. A literal only when whole.
    fn at_end(&self, t: usize, p: usize) -> bool {
        let text = &self.texts[t];
        if t >= self.spans {
            return p == text.len();
        }
        if p == 0 {
            return false;
        }
        let last = text[p - 1];
        let closes = is_word(last) || matches!(last, b')' | b'%' | b'"');
        closes && (p == text.len() || !is_word(text[p]))
    }
}

impl Constraint for SpanConstraint {
    fn allowed(&mut self, vocab: &TokenBytes) -> Allowed {
        let mut out = Allowed::default();
        let room = self.max_bytes.saturating_sub(self.produced);
        let mut seen = std::collections::HashSet::new();
        for &(t, p) in &self.live {
            let rest = &self.texts[t][p..];
            let longest = rest.len().min(vocab.max_len).min(room.max(1));
            for l in 1..=longest {
                for &id in vocab.ids(&rest[..l]) {
                    if seen.insert(id) {
                        out.tokens.push(id);
                    }
                }
            }
            if self.produced > 0 && self.at_end(t, p) {
                out.end = true;
            }
        }
        if room == 0 {
            out.tokens.clear();
            out.end = true;
        }
        out
    }

    fn starts_literal_only(&self, token: u32, vocab: &TokenBytes) -> bool {
        let Some(b) = vocab.bytes(token) else {
            return false;
        };
        let mut literal = false;
        for &(t, p) in &self.live {
            if self.texts[t][p..].starts_with(b) {
                if t < self.spans {
                    return false;
                }
                literal = true;
            }
        }
        literal
    }

    fn advance(&mut self, token: u32, vocab: &TokenBytes) {
        let Some(b) = vocab.bytes(token) else {
            self.live.clear();
            return;
        };
        self.produced += b.len();
        let texts = &self.texts;
        self.live = self
            .live
            .iter()
            .filter(|&&(t, p)| texts[t][p..].starts_with(b))
            .map(|&(t, p)| (t, p + b.len()))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gpt2_byte_table_is_a_bijection() {
        let t = byte_of_char();
        assert_eq!(t.len(), 256);
        let mut bytes: Vec<u8> = t.values().copied().collect();
        bytes.sort_unstable();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
        assert_eq!(t[&'Ġ'], b' ');
        assert_eq!(t[&'a'], b'a');
    }
}
