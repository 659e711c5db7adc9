//! Plain-text parser: paragraphs are runs of lines separated by blank lines.

use crate::{decode_text, push_block, Block, BlockKind, Format, Parsed, Result};

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed> {
    let text = decode_text(Format::Text, bytes)?;
    Ok(Parsed {
        format: Format::Text,
        title: None,
        blocks: paragraphs(&text, None),
    })
}

/// Split text into `Paragraph` blocks on blank (whitespace-only) lines;
/// whitespace inside each paragraph is collapsed.
pub(crate) fn paragraphs(text: &str, page: Option<u32>) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut cur = String::new();
    // Accept \n, \r\n and lone \r line ends; a form feed (page break) also
    // ends a paragraph.
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\u{c}', "\n\n");
    for line in text.split('\n') {
        if line.trim().is_empty() {
            push_block(&mut blocks, BlockKind::Paragraph, &cur, page);
            cur.clear();
        } else {
            cur.push_str(line);
            cur.push('\n');
        }
    }
    push_block(&mut blocks, BlockKind::Paragraph, &cur, page);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        paragraphs(s, None).into_iter().map(|b| b.text).collect()
    }

    #[test]
    fn splitting() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   \n\n \t\n", &[]),
            ("one", &["one"]),
            ("one\ntwo", &["one two"]),
            ("one\n\ntwo", &["one", "two"]),
            ("one\n   \ntwo", &["one", "two"]),
            ("\n\n  a  b \n c\n\n\n\nd\n", &["a b c", "d"]),
            ("a\r\nb\r\n\r\nc", &["a b", "c"]),
            ("a\rb\r\rc", &["a b", "c"]),
            ("page one\u{c}page two", &["page one", "page two"]),
            ("tab\tseparated\u{a0}words", &["tab separated words"]),
        ];
        for (input, want) in cases {
            assert_eq!(texts(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn blocks_are_paragraphs_without_page() {
        let p = parse(b"# Not a heading\n\nBody text.\n").unwrap();
        assert_eq!(p.format, Format::Text);
        assert_eq!(p.title, None);
        assert_eq!(
            p.blocks,
            vec![
                Block {
                    kind: BlockKind::Paragraph,
                    text: "# Not a heading".into(),
                    page: None
                },
                Block {
                    kind: BlockKind::Paragraph,
                    text: "Body text.".into(),
                    page: None
                },
            ]
        );
    }

    #[test]
    fn page_is_attached() {
        let b = paragraphs("x\n\ny", Some(3));
        assert!(b.iter().all(|b| b.page == Some(3)));
    }
}
