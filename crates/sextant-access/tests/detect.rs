//! Detection of leading portion marks and banner lines in running text.

use sextant_access::{banner_line, portion_mark};

/// `text` starts with a portion mark whose banner is `banner` and after which the
/// paragraph continues with `rest`.
#[track_caller]
fn check_portion(text: &str, banner: &str, rest: &str) {
    match portion_mark(text) {
        Some(Ok((m, n))) => {
            assert_eq!(m.banner(), banner, "marking of {text:?}");
            assert_eq!(&text[n..], rest, "text after the mark in {text:?}");
        }
        other => panic!("{text:?}: expected a mark, got {other:?}"),
    }
}

#[track_caller]
fn check_portion_none(text: &str) {
    assert_eq!(
        portion_mark(text),
        None,
        "{text:?} is not a portion-mark candidate"
    );
}

#[track_caller]
fn check_portion_err(text: &str, want: &str) {
    match portion_mark(text) {
        Some(Err(e)) => assert!(e.to_string().contains(want), "{text:?}: {e}"),
        other => panic!("{text:?}: expected a malformed mark, got {other:?}"),
    }
}

#[test]
fn portion_marks() {
    check_portion(
        "(S//NF) The fleet sails.",
        "SECRET//NOFORN",
        "The fleet sails.",
    );
    check_portion("(U) Open.", "UNCLASSIFIED", "Open.");
    check_portion("(U)", "UNCLASSIFIED", "");
    check_portion("(U)\tTabbed.", "UNCLASSIFIED", "Tabbed.");
    check_portion("(U)\n\nNext line.", "UNCLASSIFIED", "Next line.");
    check_portion("(U)Glued.", "UNCLASSIFIED", "Glued.");
    check_portion("  (S) Indented.", "SECRET", "Indented.");
    check_portion("(C) Text.", "CONFIDENTIAL", "Text.");
    check_portion("(CUI) Text.", "CUI", "Text.");
    check_portion("(CUI//SP-PRVCY) Text.", "CUI//SP-PRVCY", "Text.");
    check_portion("(TS) Text.", "TOP SECRET", "Text.");
    check_portion("(SECRET) Text.", "SECRET", "Text.");
    check_portion("(UNCLASSIFIED) Text.", "UNCLASSIFIED", "Text.");
    check_portion(
        "(CONFIDENTIAL//NOFORN) Text.",
        "CONFIDENTIAL//NOFORN",
        "Text.",
    );
    check_portion("(TOP SECRET//SI) Text.", "TOP SECRET//SI", "Text.");
    check_portion(
        "(TS//SI//REL TO USA, FVEY) The (parenthesised) rest.",
        "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL",
        "The (parenthesised) rest.",
    );
    check_portion("(S // NF) Spaced.", "SECRET//NOFORN", "Spaced.");
    check_portion("(S ) Spaced.", "SECRET", "Spaced.");
    check_portion(
        "(S//nf) Lowercase tail.",
        "SECRET//NOFORN",
        "Lowercase tail.",
    );
    check_portion(
        "(U//FOUO) Legacy.",
        "UNCLASSIFIED//FOR OFFICIAL USE ONLY",
        "Legacy.",
    );
    check_portion(
        "(TS//HCS-P/SI-G ABCD/TK//OC/NF) x",
        "TOP SECRET//HCS-P/SI-G ABCD/TK//ORCON/NOFORN",
        "x",
    );
    check_portion("(S) Naïve café.", "SECRET", "Naïve café.");
}

#[test]
fn not_portion_marks() {
    for text in [
        "(a) item",
        "(CIA) said",
        "(USA) won",
        "(See below)",
        "(See annex) Open.",
        "(s) lowercase level",
        "(u) lowercase level",
        "(Secret) meeting",
        "(SECRET SERVICE) agents",
        "(SI) alone",
        "(UN) resolution",
        "(TSA) screening",
        "(SS) ship",
        "(CUIRASS) armour",
        "(C3) systems",
        "(1) first",
        "(ts) lower",
        "Text (S) later.",
        "S//NF no parenthesis",
        "",
        "(",
        "()",
        "(S",
        "(S/NF) single slash",
        "[S] brackets",
    ] {
        check_portion_none(text);
    }
}

#[test]
fn malformed_portion_marks() {
    check_portion_err("(S//NOFRN) text", "unknown dissemination control \"NOFRN\"");
    check_portion_err("(S//NF text", "unbalanced parentheses");
    check_portion_err("(S//NF\n) text", "unbalanced parentheses");
    check_portion_err("(S//", "unbalanced parentheses");
    check_portion_err("(TS//XK-G) x", "unknown SCI control system \"XK\"");
    check_portion_err("(U//SI) x", "SCI marking on an UNCLASSIFIED portion");
    check_portion_err("(S//REL TO GBR) x", "REL TO list must include USA");
    check_portion_err("(C//) x", "trailing \"//\"");
    check_portion_err("(S//NF/REL TO USA, GBR) x", "cannot appear together");
    check_portion_err("(S//NF (see note)) x", "unexpected character '('");
}

#[track_caller]
fn check_banner(line: &str, banner: &str) {
    match banner_line(line) {
        Some(Ok(m)) => assert_eq!(m.banner(), banner, "{line:?}"),
        other => panic!("{line:?}: expected a banner, got {other:?}"),
    }
}

#[test]
fn banner_lines() {
    check_banner("SECRET", "SECRET");
    check_banner("TOP SECRET", "TOP SECRET");
    check_banner("UNCLASSIFIED", "UNCLASSIFIED");
    check_banner("CUI", "CUI");
    check_banner("CONFIDENTIAL", "CONFIDENTIAL");
    check_banner("TOP SECRET//SI/TK//NOFORN", "TOP SECRET//SI/TK//NOFORN");
    check_banner("  SECRET//NOFORN  ", "SECRET//NOFORN");
    check_banner("SECRET // NOFORN", "SECRET//NOFORN");
    check_banner("SECRET//NF", "SECRET//NOFORN");
    check_banner(
        "UNCLASSIFIED//FOR OFFICIAL USE ONLY",
        "UNCLASSIFIED//FOR OFFICIAL USE ONLY",
    );
    check_banner("CUI//SP-PRVCY", "CUI//SP-PRVCY");
    check_banner(
        "CONFIDENTIAL//REL TO USA, GBR",
        "CONFIDENTIAL//REL TO USA, GBR",
    );
    check_banner(
        "TOP SECRET//SI//REL TO USA, FVEY",
        "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check_banner(
        "TOP SECRET//HCS-P/SI-G ABCD/TK//ORCON/NOFORN",
        "TOP SECRET//HCS-P/SI-G ABCD/TK//ORCON/NOFORN",
    );
}

#[test]
fn not_banner_lines() {
    for line in [
        "SECRET SERVICE",
        "Secret meetings",
        "secret//noforn",
        "Secret",
        "S//NF",
        "TS//SI",
        "(S//NF)",
        "TOP SECRET information follows",
        "SECRETARY",
        "CUIRASS",
        "CONFIDENTIALITY",
        "The SECRET//NF",
        "SECRET//NOFORN applies to this paragraph",
        "",
        "   ",
        "TOP  SECRET//SI",
    ] {
        assert_eq!(
            banner_line(line),
            None,
            "{line:?} is not a banner candidate"
        );
    }
}

#[test]
fn malformed_banner_lines() {
    let cases = [
        ("SECRET//NOFRN", "unknown dissemination control \"NOFRN\""),
        ("TOP SECRET//XK-G", "unknown SCI control system \"XK\""),
        ("SECRET//", "trailing \"//\""),
        (
            "SECRET//NOFORN//REL TO USA, GBR",
            "duplicate dissemination control section",
        ),
        ("UNCLASSIFIED//SI", "SCI marking on an UNCLASSIFIED portion"),
        (
            "SECRET//NOFORN AND MORE",
            "unknown dissemination control \"NOFORN AND MORE\"",
        ),
        ("SECRET//REL TO USA", "must name a country besides USA"),
        ("SECRET////NOFORN", "empty section"),
    ];
    for (line, want) in cases {
        match banner_line(line) {
            Some(Err(e)) => assert!(e.to_string().contains(want), "{line:?}: {e}"),
            other => panic!("{line:?}: expected a malformed banner, got {other:?}"),
        }
    }
}
