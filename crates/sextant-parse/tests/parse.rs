//! Data-driven tests of sextant-parse against the committed fixtures in
//! tests/data/fixtures/ (regenerate them with tests/data/make-fixtures.sh).

use std::path::PathBuf;

use sextant_parse::{parse_bytes, parse_file, BlockKind, Format, ParseError, Parsed};
use BlockKind::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/fixtures")
        .join(name)
}

/// What a case expects of a parsed fixture.
enum Expect {
    /// `Parsed::title`.
    Title(Option<&'static str>),
    /// The detected format.
    Is(Format),
    /// The exact sequence of (level, text) of all heading blocks.
    Headings(&'static [(u8, &'static str)]),
    /// Some block of this kind contains the text (within that one block).
    Has(BlockKind, &'static str),
    /// Some block of any kind contains the text.
    Any(&'static str),
    /// A block containing the text is on this 1-based page.
    OnPage(u32, &'static str),
    /// No block contains the text (e.g. script or markup leaking through).
    Lacks(&'static str),
    /// At least this many blocks of this kind.
    AtLeast(usize, BlockKind),
    /// Blocks are non-empty, trimmed, carry no markup; pages only for PDF.
    Clean,
    /// Parsing fails with this error variant.
    Fails(&'static str),
}
use Expect::*;

fn dump(p: &Parsed) -> String {
    let mut s = format!("title: {:?}\n", p.title);
    for b in &p.blocks {
        s += &format!("  {:?} p{:?}: {:?}\n", b.kind, b.page, b.text);
    }
    s
}

fn variant(e: &ParseError) -> &'static str {
    match e {
        ParseError::Unsupported { .. } => "Unsupported",
        ParseError::NoText { .. } => "NoText",
        ParseError::Malformed { .. } => "Malformed",
        ParseError::Io(_) => "Io",
    }
}

fn check(name: &str, expected: Expect) {
    let result = parse_file(&fixture(name));
    if let Fails(want) = expected {
        match result {
            Err(e) => {
                assert_eq!(variant(&e), want, "{name}: wrong error: {e}");
                assert!(!e.to_string().is_empty());
            }
            Ok(p) => panic!("{name}: expected {want} error, parsed:\n{}", dump(&p)),
        }
        return;
    }
    let p = match result {
        Ok(p) => p,
        Err(e) => panic!("{name}: parse failed: {e}"),
    };
    let ctx = dump(&p);
    let find = |kind: Option<BlockKind>, text: &str| {
        p.blocks
            .iter()
            .find(|b| kind.is_none_or(|k| b.kind == k) && b.text.contains(text))
    };
    match expected {
        Title(t) => assert_eq!(p.title.as_deref(), t, "{name}:\n{ctx}"),
        Is(f) => assert_eq!(p.format, f, "{name}"),
        Headings(want) => {
            let got: Vec<(u8, &str)> = p
                .blocks
                .iter()
                .filter_map(|b| match b.kind {
                    Heading(n) => Some((n, b.text.as_str())),
                    _ => None,
                })
                .collect();
            assert_eq!(got, want, "{name}:\n{ctx}");
        }
        Has(kind, text) => {
            assert!(
                find(Some(kind), text).is_some(),
                "{name}: no {kind:?} containing {text:?}:\n{ctx}"
            )
        }
        Any(text) => assert!(
            find(None, text).is_some(),
            "{name}: no block containing {text:?}:\n{ctx}"
        ),
        OnPage(page, text) => {
            let b = find(None, text)
                .unwrap_or_else(|| panic!("{name}: no block containing {text:?}:\n{ctx}"));
            assert_eq!(b.page, Some(page), "{name}: {text:?}:\n{ctx}");
        }
        Lacks(text) => assert!(
            find(None, text).is_none(),
            "{name}: unexpected {text:?}:\n{ctx}"
        ),
        AtLeast(n, kind) => {
            let c = p.blocks.iter().filter(|b| b.kind == kind).count();
            assert!(c >= n, "{name}: {c} {kind:?} blocks, want >= {n}:\n{ctx}");
        }
        Clean => {
            assert!(!p.blocks.is_empty(), "{name}: no blocks");
            for b in &p.blocks {
                assert!(!b.text.trim().is_empty(), "{name}: empty block:\n{ctx}");
                assert_eq!(b.text.trim(), b.text, "{name}: untrimmed block:\n{ctx}");
                assert_eq!(
                    b.page.is_some(),
                    p.format == Format::Pdf,
                    "{name}: page:\n{ctx}"
                );
                if !matches!(b.kind, Table | Code) {
                    assert!(
                        !b.text.contains('\n'),
                        "{name}: newline in {:?}:\n{ctx}",
                        b.text
                    );
                    assert!(
                        !b.text.contains("  "),
                        "{name}: double space in {:?}:\n{ctx}",
                        b.text
                    );
                }
                for markup in ["<p", "</", "**", "](", "&amp;", "&nbsp;", "w:t", "\u{0}"] {
                    assert!(
                        !b.text.contains(markup),
                        "{name}: markup {markup:?} in {:?}",
                        b.text
                    );
                }
            }
        }
        Fails(_) => unreachable!(),
    }
}

/// Headings of the Markdown source, as kept by Markdown, HTML and DOCX.
const HEADINGS: &[(u8, &str)] = &[
    (1, "Mongolia"),
    (2, "Introduction"),
    (2, "Geography"),
    (3, "Area"),
    (2, "Government"),
    (3, "Executive branch"),
    (2, "Economy"),
];
const CAPITAL: &str = "The capital is Ulaanbaatar.";
const COORDS: &str = "46 00 N, 105 00 E";
const TABLE: &str =
    "Measure | Value\nTotal | 1,564,116 sq km\nLand | 1,553,556 sq km\nWater | 10,560 sq km";

#[test]
fn markdown() {
    check("mongolia.md", Is(Format::Markdown));
    check("mongolia.md", Clean);
    check("mongolia.md", Title(Some("Mongolia")));
    check("mongolia.md", Headings(HEADINGS));
    check("mongolia.md", Has(Paragraph, CAPITAL));
    check("mongolia.md", Has(Paragraph, COORDS));
    check("mongolia.md", Has(Table, TABLE));
    check(
        "mongolia.md",
        Has(ListItem, "copper, molybdenum and tungsten"),
    );
    check(
        "mongolia.md",
        Has(
            ListItem,
            "The cabinet is proposed by the prime minister in consultation with the president",
        ),
    );
    check("mongolia.md", AtLeast(7, ListItem));
    check("mongolia.md", Lacks("|---"));
}

#[test]
fn html() {
    check("mongolia.html", Is(Format::Html));
    check("mongolia.html", Clean);
    check("mongolia.html", Title(Some("Mongolia")));
    check("mongolia.html", Headings(HEADINGS));
    check("mongolia.html", Has(Paragraph, CAPITAL));
    check("mongolia.html", Has(Paragraph, COORDS));
    check("mongolia.html", Has(Table, TABLE));
    check("mongolia.html", Has(ListItem, "phosphates, tin and nickel"));
    check("mongolia.html", AtLeast(7, ListItem));
    check("mongolia.html", Lacks("font-family")); // <style> content
    check("mongolia.html", Lacks("line-height"));
}

#[test]
fn docx() {
    check("mongolia.docx", Is(Format::Docx));
    check("mongolia.docx", Clean);
    check("mongolia.docx", Title(Some("Mongolia")));
    check("mongolia.docx", Headings(HEADINGS));
    check("mongolia.docx", Has(Paragraph, CAPITAL));
    check("mongolia.docx", Has(Paragraph, COORDS));
    check("mongolia.docx", Has(Table, TABLE));
    check("mongolia.docx", Has(ListItem, "gold, silver and iron"));
    check("mongolia.docx", AtLeast(7, ListItem));
}

#[test]
fn pdf() {
    check("mongolia.pdf", Is(Format::Pdf));
    check("mongolia.pdf", Clean);
    check("mongolia.pdf", Title(Some("Mongolia")));
    check("mongolia.pdf", Has(Heading(1), "Mongolia"));
    check("mongolia.pdf", Any(CAPITAL));
    check("mongolia.pdf", Any(COORDS));
    check("mongolia.pdf", OnPage(1, COORDS));
    check("mongolia.pdf", OnPage(2, CAPITAL));
    check(
        "mongolia.pdf",
        OnPage(2, "dismantlement of the Soviet Union."),
    );
    check("mongolia.pdf", Any("Romano-Germanic"));
    check("mongolia.pdf", AtLeast(10, Paragraph));
    // Headings are found by font size; Heading 3 is body-sized, so it is not.
    check(
        "mongolia.pdf",
        Headings(&[
            (1, "Mongolia"),
            (2, "Introduction"),
            (2, "Geography"),
            (2, "Government"),
            (2, "Economy"),
        ]),
    );
    check(
        "mongolia.pdf",
        Has(ListItem, "copper, molybdenum and tungsten"),
    );
    check("mongolia.pdf", AtLeast(4, ListItem));
    check("mongolia.pdf", Lacks("•"));
}

#[test]
fn pdf_errors() {
    check("scanned.pdf", Fails("NoText"));
    check("broken.pdf", Fails("Malformed"));
    let err = parse_file(&fixture("scanned.pdf")).unwrap_err();
    assert!(err.to_string().contains("OCR is not supported"), "{err}");
    let err = parse_file(&fixture("broken.pdf")).unwrap_err();
    assert!(err.to_string().contains("malformed pdf"), "{err}");
}

#[test]
fn wrong_or_missing_files() {
    check("mongolia.xyz", Fails("Unsupported"));
    check("mongolia", Fails("Unsupported"));
    check("does-not-exist.md", Fails("Io"));
    let err = parse_file(&fixture("mongolia.xyz")).unwrap_err();
    assert!(err.to_string().contains(".xyz"), "{err}");
    let err = parse_file(&fixture("does-not-exist.md")).unwrap_err();
    assert!(err.to_string().contains("does-not-exist.md"), "{err}");
}

#[test]
fn bytes_in_the_wrong_format() {
    let html = std::fs::read(fixture("mongolia.html")).unwrap();
    let md = std::fs::read(fixture("mongolia.md")).unwrap();
    let cases: &[(Format, &[u8], &str)] = &[
        (Format::Pdf, &html, "Malformed"),
        (Format::Docx, &md, "Malformed"),
        (Format::Pdf, b"", "Malformed"),
        (Format::Docx, b"", "Malformed"),
        (Format::Text, b"", "NoText"),
        (Format::Markdown, b"\n \n", "NoText"),
    ];
    for (format, bytes, want) in cases {
        let err = parse_bytes(*format, bytes).unwrap_err();
        assert_eq!(variant(&err), *want, "{format}: {err}");
    }
    // Truncated real documents: errors, never panics.
    let pdf = std::fs::read(fixture("mongolia.pdf")).unwrap();
    let docx = std::fs::read(fixture("mongolia.docx")).unwrap();
    for cut in [10, 100, 1000, pdf.len() / 2] {
        let _ = parse_bytes(Format::Pdf, &pdf[..cut]);
    }
    for cut in [10, 100, 1000, docx.len() / 2] {
        assert!(
            parse_bytes(Format::Docx, &docx[..cut]).is_err(),
            "docx cut at {cut}"
        );
    }
}

#[test]
fn text_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.TXT");
    std::fs::write(
        &path,
        "First para\nstill first.\n\n\n  Second  para.  \r\n\r\nThird",
    )
    .unwrap();
    let p = parse_file(&path).unwrap();
    assert_eq!(p.format, Format::Text);
    assert_eq!(p.title, None);
    let texts: Vec<_> = p
        .blocks
        .iter()
        .map(|b| (b.kind, b.text.as_str(), b.page))
        .collect();
    assert_eq!(
        texts,
        [
            (Paragraph, "First para still first.", None),
            (Paragraph, "Second para.", None),
            (Paragraph, "Third", None),
        ]
    );
    // The Markdown source read as plain text keeps its markup as text.
    let md = std::fs::read(fixture("mongolia.md")).unwrap();
    let p = parse_bytes(Format::Text, &md).unwrap();
    assert_eq!(p.blocks[0].text, "# Mongolia");
    assert!(p.blocks.iter().any(|b| b.text.contains(CAPITAL)));
}

/// Print what each fixture parses to: `cargo test -p sextant-parse -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump_fixtures() {
    for name in [
        "mongolia.md",
        "mongolia.html",
        "mongolia.docx",
        "mongolia.pdf",
    ] {
        let p = parse_file(&fixture(name)).unwrap();
        println!("== {name}\n{}", dump(&p));
    }
    for name in ["scanned.pdf", "broken.pdf", "mongolia.xyz", "missing.md"] {
        println!("== {name}: {}", parse_file(&fixture(name)).unwrap_err());
    }
}
