//! Question-answering metrics in the SQuAD convention: answers are normalised (lowercase, no
//! punctuation, no articles, single spaces) and citation markers removed before comparing.

/// SQuAD normalisation, plus removal of `[n]` citation markers.
pub fn normalize(s: &str) -> String {
    let mut no_marks = String::with_capacity(s.len());
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => no_marks.push(c),
            _ => {}
        }
    }
    no_marks
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn exact_match(prediction: &str, gold: &[String]) -> bool {
    let p = normalize(prediction);
    gold.iter().any(|g| normalize(g) == p)
}

/// Best token F1 against any gold answer.
pub fn token_f1(prediction: &str, gold: &[String]) -> f64 {
    let p = normalize(prediction);
    let pt: Vec<&str> = p.split_whitespace().collect();
    gold.iter()
        .map(|g| {
            let g = normalize(g);
            let gt: Vec<&str> = g.split_whitespace().collect();
            let mut remaining = gt.clone();
            let mut common = 0usize;
            for t in &pt {
                if let Some(i) = remaining.iter().position(|r| r == t) {
                    remaining.swap_remove(i);
                    common += 1;
                }
            }
            if common == 0 {
                return 0.0;
            }
            let precision = common as f64 / pt.len() as f64;
            let recall = common as f64 / gt.len() as f64;
            2.0 * precision * recall / (precision + recall)
        })
        .fold(0.0, f64::max)
}

/// Whether any gold answer appears (normalised) inside `text`.
pub fn contains_answer(text: &str, gold: &[String]) -> bool {
    let t = format!(" {} ", normalize(text));
    gold.iter()
        .map(|g| normalize(g))
        .any(|g| !g.is_empty() && t.contains(&format!(" {g} ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_normalisation() {
        assert_eq!(normalize("The  Ulaanbaatar [1]."), "ulaanbaatar");
        assert!(exact_match("Ulaanbaatar [1].", &["ulaanbaatar".into()]));
        assert!(!exact_match(
            "Capital is Ulaanbaatar",
            &["Ulaanbaatar".into()]
        ));
        let f1 = token_f1("The capital is Ulaanbaatar", &["Ulaanbaatar".into()]);
        assert!((f1 - 0.5).abs() < 1e-9, "{f1}");
        assert!(contains_answer(
            "Name: Ulaanbaatar",
            &["ulaanbaatar".into()]
        ));
        assert!(!contains_answer(
            "Name: Ulaanbaatarx",
            &["ulaanbaatar".into()]
        ));
    }
}
