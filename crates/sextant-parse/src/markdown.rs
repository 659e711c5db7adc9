//! Markdown parser: walks pulldown-cmark events into headings, paragraphs,
//! list items (nested lists flattened), tables and code blocks.
//!
//! Inline markup (emphasis, links, inline code, image alt text) contributes its
//! text only. Raw HTML blocks and inline HTML are dropped.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::{
    decode_text, first_h1, push_block, render_table, Block, BlockKind, Format, Parsed, Result,
};

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed> {
    let text = decode_text(Format::Markdown, bytes)?;
    let blocks = blocks(&text);
    Ok(Parsed {
        format: Format::Markdown,
        title: first_h1(&blocks),
        blocks,
    })
}

/// An open block that collects text.
struct Frame {
    kind: BlockKind,
    buf: String,
}

#[derive(Default)]
struct Table {
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: Option<String>,
}

#[derive(Default)]
struct Walker {
    blocks: Vec<Block>,
    frames: Vec<Frame>,
    /// For each open `Paragraph` tag: whether it opened its own frame
    /// (false when it merged into an enclosing list item).
    paragraphs: Vec<bool>,
    table: Option<Table>,
}

impl Walker {
    fn open(&mut self, kind: BlockKind) {
        // Text of an enclosing list item that came before this block is emitted
        // first, so output stays in document order.
        self.flush_top();
        self.frames.push(Frame {
            kind,
            buf: String::new(),
        });
    }

    fn flush_top(&mut self) {
        if let Some(top) = self.frames.last_mut() {
            let text = std::mem::take(&mut top.buf);
            push_block(&mut self.blocks, top.kind, &text, None);
        }
    }

    fn close(&mut self) {
        if let Some(f) = self.frames.pop() {
            push_block(&mut self.blocks, f.kind, &f.buf, None);
        }
    }

    fn text(&mut self, s: &str) {
        if let Some(t) = self.table.as_mut() {
            if let Some(cell) = t.cell.as_mut() {
                cell.push_str(s);
            }
            return;
        }
        if let Some(top) = self.frames.last_mut() {
            top.buf.push_str(s);
        }
    }

    fn soft_break(&mut self) {
        let in_code = matches!(self.frames.last(), Some(f) if f.kind == BlockKind::Code);
        self.text(if in_code { "\n" } else { " " });
    }

    fn event(&mut self, ev: Event<'_>) {
        match ev {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(s) | Event::Code(s) | Event::InlineMath(s) | Event::DisplayMath(s) => {
                self.text(&s)
            }
            Event::SoftBreak | Event::HardBreak => self.soft_break(),
            // Raw HTML, footnote markers, task checkboxes, rules: no text.
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => self.open(BlockKind::Heading(level as u8)),
            Tag::Paragraph => {
                let in_item =
                    matches!(self.frames.last(), Some(f) if f.kind == BlockKind::ListItem);
                if in_item || self.table.is_some() {
                    // A loose list item's paragraphs belong to the item.
                    self.text(" ");
                    self.paragraphs.push(false);
                } else {
                    self.open(BlockKind::Paragraph);
                    self.paragraphs.push(true);
                }
            }
            Tag::Item => self.open(BlockKind::ListItem),
            Tag::CodeBlock(_) => self.open(BlockKind::Code),
            Tag::Table(_) => {
                self.flush_top();
                self.table = Some(Table::default());
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    t.row.clear();
                }
            }
            Tag::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    t.cell = Some(String::new());
                }
            }
            Tag::BlockQuote(_) | Tag::List(_) | Tag::FootnoteDefinition(_) => self.flush_top(),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock => self.close(),
            TagEnd::Paragraph => {
                // Only a paragraph that opened its own frame closes one.
                let own_frame = self.paragraphs.pop().unwrap_or(false);
                if own_frame {
                    self.close();
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    let cell = t.cell.take().unwrap_or_default();
                    t.row.push(cell);
                }
            }
            TagEnd::TableHead | TagEnd::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    let text = render_table(&t.rows);
                    push_block(&mut self.blocks, BlockKind::Table, &text, None);
                }
            }
            _ => {}
        }
    }
}

/// Parse Markdown source into blocks.
pub(crate) fn blocks(src: &str) -> Vec<Block> {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_FOOTNOTES);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut w = Walker::default();
    for ev in Parser::new_ext(src, opts) {
        w.event(ev);
    }
    while !w.frames.is_empty() {
        w.close();
    }
    w.blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use BlockKind::*;

    fn check(src: &str, want: &[(BlockKind, &str)]) {
        let got: Vec<(BlockKind, String)> =
            blocks(src).into_iter().map(|b| (b.kind, b.text)).collect();
        let want: Vec<(BlockKind, String)> =
            want.iter().map(|(k, t)| (*k, t.to_string())).collect();
        assert_eq!(got, want, "source:\n{src}");
    }

    #[test]
    fn structure() {
        check(
            "# T\n\npara *one*\nline two",
            &[(Heading(1), "T"), (Paragraph, "para one line two")],
        );
        check(
            "### Deep `code` [link](http://x)",
            &[(Heading(3), "Deep code link")],
        );
        check(
            "Setext\n======\n\nSub\n---",
            &[(Heading(1), "Setext"), (Heading(2), "Sub")],
        );
        check(
            "- a\n- b **bold**\n",
            &[(ListItem, "a"), (ListItem, "b bold")],
        );
        check(
            "1. a\n\n   more\n2. b",
            &[(ListItem, "a more"), (ListItem, "b")],
        );
        check(
            "- outer\n  - inner 1\n  - inner 2\n- next",
            &[
                (ListItem, "outer"),
                (ListItem, "inner 1"),
                (ListItem, "inner 2"),
                (ListItem, "next"),
            ],
        );
        check(
            "- [x] done\n- [ ] todo",
            &[(ListItem, "done"), (ListItem, "todo")],
        );
        check(
            "```rust\nfn main() {\n    x();\n}\n```",
            &[(Code, "fn main() {\n    x();\n}")],
        );
        check("    indented\n    code", &[(Code, "indented\ncode")]);
        check("> quoted\n> text", &[(Paragraph, "quoted text")]);
        check(
            "| A | B |\n|---|---|\n| 1 | *2* |\n| x |  |",
            &[(Table, "A | B\n1 | 2\nx |")],
        );
        check("<div>raw html</div>\n\ntext", &[(Paragraph, "text")]);
        check("![alt text](img.png)", &[(Paragraph, "alt text")]);
        check("a ~~b~~ c", &[(Paragraph, "a b c")]);
        check("---\n\n***", &[]);
    }

    #[test]
    fn title_is_first_h1() {
        let p = parse(b"## Intro\n\n# Real Title\n\n# Second").unwrap();
        assert_eq!(p.title.as_deref(), Some("Real Title"));
        let p = parse(b"## Only h2").unwrap();
        assert_eq!(p.title, None);
    }
}
