//! Roll-up tables: `join` of two portion marks and `rollup` of many, by expected banner.

use sextant_access::Marking;

fn m(s: &str) -> Marking {
    match Marking::parse(s) {
        Ok(m) => m,
        Err(e) => panic!("test marking {s:?} does not parse: {e}"),
    }
}

/// a + b (in both orders) rolls up to `expected`, which dominates both parts.
#[track_caller]
fn check_join(a: &str, b: &str, expected: &str) {
    let (ma, mb) = (m(a), m(b));
    let j = ma.join(&mb);
    assert_eq!(j.banner(), expected, "{a} + {b}");
    assert_eq!(mb.join(&ma), j, "{b} + {a} differs from {a} + {b}");
    assert!(
        j.dominates(&ma) && j.dominates(&mb),
        "{expected} must dominate {a} and {b}"
    );
    assert_eq!(
        Marking::parse(&j.banner()),
        Ok(j.clone()),
        "round trip of {expected}"
    );
}

#[test]
fn join_table() {
    // Levels.
    check_join("(U)", "(U)", "UNCLASSIFIED");
    check_join("(U)", "(CUI)", "CUI");
    check_join("(C)", "(S)", "SECRET");
    check_join("(S)", "(TS)", "TOP SECRET");
    check_join("(U)", "(C)", "CONFIDENTIAL");
    // NOFORN wins.
    check_join("(S//NF)", "(U)", "SECRET//NOFORN");
    check_join("(S)", "(S//NF)", "SECRET//NOFORN");
    check_join("(S)", "(U//NF)", "SECRET//NOFORN");
    check_join("(S//REL TO USA, GBR)", "(C//NF)", "SECRET//NOFORN");
    check_join("(TS//SI)", "(S//TK//NF)", "TOP SECRET//SI/TK//NOFORN");
    // REL TO lists intersect.
    check_join(
        "(S//REL TO USA, GBR)",
        "(S//REL TO USA, AUS, GBR)",
        "SECRET//REL TO USA, GBR",
    );
    check_join(
        "(S//REL TO USA, GBR)",
        "(S//REL TO USA, AUS)",
        "SECRET//NOFORN",
    );
    check_join(
        "(S//REL TO USA, FVEY)",
        "(S//REL TO USA, GBR, DEU)",
        "SECRET//REL TO USA, GBR",
    );
    check_join(
        "(S//REL TO USA, FVEY)",
        "(C//REL TO USA, FVEY)",
        "SECRET//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check_join(
        "(S//REL TO USA, NATO)",
        "(S//REL TO USA, GBR)",
        "SECRET//NOFORN",
    );
    check_join(
        "(S//REL TO USA, NATO, GBR)",
        "(S//REL TO USA, NATO)",
        "SECRET//REL TO USA, NATO",
    );
    check_join(
        "(CUI//REL TO USA, GBR)",
        "(S//REL TO USA, GBR, AUS)",
        "SECRET//REL TO USA, GBR",
    );
    // Unclassified parts without FD&R do not restrict.
    check_join(
        "(S//REL TO USA, FVEY)",
        "(U)",
        "SECRET//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check_join("(S//REL TO USA, GBR)", "(CUI)", "SECRET//REL TO USA, GBR");
    check_join(
        "(U//REL TO USA, GBR)",
        "(U)",
        "UNCLASSIFIED//REL TO USA, GBR",
    );
    // A classified part without FD&R is US-only: alone it leaves no FD&R marking, mixed
    // with a REL TO part it gives NOFORN (the associative reading; see the crate docs).
    check_join("(S)", "(C)", "SECRET");
    check_join("(S//REL TO USA, GBR)", "(C)", "SECRET//NOFORN");
    check_join("(U//REL TO USA, GBR)", "(S)", "SECRET//NOFORN");
    // Handling controls, SCI and SAP unite.
    check_join("(S//OC)", "(C//NF)", "SECRET//ORCON/NOFORN");
    check_join("(S//OC)", "(S//OC)", "SECRET//ORCON");
    check_join("(S//OC/PR)", "(TS//IMC)", "TOP SECRET//ORCON/IMCON/PROPIN");
    check_join("(S//NC)", "(S//RELIDO)", "SECRET//NOCONTRACT/RELIDO");
    check_join("(S//RELIDO)", "(S//NF)", "SECRET//NOFORN/RELIDO");
    check_join("(CUI//FED ONLY)", "(S)", "SECRET//FED ONLY");
    check_join("(S//SAR-BP)", "(TS//SAR-GB)", "TOP SECRET//SAR-BP/GB");
    check_join("(S//SAR-BP)", "(S//SAR-BP)", "SECRET//SAR-BP");
    check_join(
        "(TS//SI-G ABCD)",
        "(TS//SI-G EFGH)",
        "TOP SECRET//SI-G ABCD EFGH",
    );
    check_join("(TS//SI)", "(TS//SI-G ABCD)", "TOP SECRET//SI-G ABCD");
    check_join("(TS//HCS-P)", "(S//HCS-O)", "TOP SECRET//HCS-O-P");
    check_join(
        "(TS//SI//SAR-BP//OC/NF)",
        "(S//TK//SAR-GB//REL TO USA, GBR)",
        "TOP SECRET//SI/TK//SAR-BP/GB//ORCON/NOFORN",
    );
    // CUI categories and FOUO live only at their own level.
    check_join("(CUI//SP-PRVCY)", "(CUI//LEI)", "CUI//SP-PRVCY/LEI");
    check_join("(CUI//SP-PRVCY)", "(U)", "CUI//SP-PRVCY");
    check_join("(CUI//SP-PRVCY)", "(C)", "CONFIDENTIAL");
    check_join("(CUI//SP-PRVCY//NF)", "(S)", "SECRET//NOFORN");
    check_join("(U//FOUO)", "(U)", "UNCLASSIFIED//FOR OFFICIAL USE ONLY");
    check_join(
        "(U//FOUO)",
        "(U//NF)",
        "UNCLASSIFIED//FOR OFFICIAL USE ONLY/NOFORN",
    );
    check_join("(U//FOUO)", "(CUI)", "CUI");
    check_join("(U//FOUO)", "(S)", "SECRET");
}

#[test]
fn rollup_of_many() {
    assert_eq!(Marking::rollup(&[]).banner(), "UNCLASSIFIED");
    assert_eq!(Marking::rollup(std::iter::empty()), Marking::unclassified());
    let parts = [
        m("(U)"),
        m("(S//REL TO USA, FVEY)"),
        m("(C//REL TO USA, GBR, CAN)"),
        m("(TS//SI//REL TO USA, GBR, AUS, CAN)"),
    ];
    assert_eq!(
        Marking::rollup(&parts).banner(),
        "TOP SECRET//SI//REL TO USA, CAN, GBR"
    );
    let parts = [
        m("(U)"),
        m("(S//OC)"),
        m("(C//SAR-BP)"),
        m("(U//NF)"),
        m("(CUI//SP-PRVCY)"),
    ];
    assert_eq!(
        Marking::rollup(&parts).banner(),
        "SECRET//SAR-BP//ORCON/NOFORN"
    );
    let parts = [
        m("(U)"),
        m("(CUI//SP-PRVCY)"),
        m("(U//FOUO)"),
        m("(CUI//LEI//FED ONLY)"),
    ];
    assert_eq!(
        Marking::rollup(&parts).banner(),
        "CUI//SP-PRVCY/LEI//FED ONLY"
    );
    let v: Vec<Marking> = parts.to_vec();
    assert_eq!(Marking::rollup(v.iter().rev()), Marking::rollup(&v));
}

/// The three table rules "NOFORN wins", "REL TO intersection down to USA is NOFORN" and
/// "a classified part without FD&R leaves no FD&R" cannot all hold with an associative
/// join. This is the grouping that would differ; both groupings give NOFORN here.
#[test]
fn classified_without_fdr_mixed_with_rel_to_is_associative() {
    let c = m("(C)");
    let gbr = m("(S//REL TO USA, GBR)");
    let aus = m("(S//REL TO USA, AUS)");
    let left = c.join(&gbr).join(&aus);
    let right = c.join(&gbr.join(&aus));
    assert_eq!(left, right);
    assert_eq!(left.banner(), "SECRET//NOFORN");
}

#[test]
fn join_identity_and_idempotence_examples() {
    let u = Marking::unclassified();
    for s in [
        "(TS//SI//REL TO USA, FVEY)",
        "(CUI//SP-PRVCY)",
        "(U//FOUO)",
        "(S)",
        "(U//REL TO USA, GBR)",
    ] {
        let x = m(s);
        assert_eq!(x.join(&u), x, "{s} + U");
        assert_eq!(u.join(&x), x, "U + {s}");
        assert_eq!(x.join(&x), x, "{s} + {s}");
    }
}

#[test]
fn dominance_table() {
    let yes = [
        ("SECRET", "CONFIDENTIAL"),
        ("SECRET", "SECRET//NOFORN"),
        ("SECRET//NOFORN", "SECRET"),
        ("SECRET//NOFORN", "SECRET//REL TO USA, GBR"),
        ("SECRET", "SECRET//REL TO USA, GBR"),
        ("SECRET//REL TO USA, GBR", "SECRET//REL TO USA, AUS, GBR"),
        ("SECRET//REL TO USA, GBR", "UNCLASSIFIED"),
        ("TOP SECRET//SI-G ABCD", "SECRET//SI"),
        ("TOP SECRET//SI-G ABCD", "SECRET//SI-G"),
        ("TOP SECRET//SAR-BP/GB", "SECRET//SAR-GB"),
        ("SECRET//ORCON", "SECRET"),
        ("SECRET", "CUI//SP-PRVCY"),
        ("CONFIDENTIAL", "UNCLASSIFIED//FOUO"),
        ("CUI//SP-PRVCY/LEI", "CUI//LEI"),
        ("UNCLASSIFIED//FOUO/NOFORN", "UNCLASSIFIED//FOUO"),
    ];
    let no = [
        ("CONFIDENTIAL", "SECRET"),
        ("SECRET//REL TO USA, GBR", "SECRET"),
        ("SECRET//REL TO USA, GBR", "SECRET//NOFORN"),
        ("SECRET//REL TO USA, AUS, GBR", "SECRET//REL TO USA, GBR"),
        ("TOP SECRET//SI", "SECRET//SI-G"),
        ("TOP SECRET//SI-G ABCD", "SECRET//SI-G EFGH"),
        ("TOP SECRET//SAR-BP", "SECRET//SAR-GB"),
        ("SECRET", "SECRET//ORCON"),
        ("CUI//LEI", "CUI//SP-PRVCY"),
        ("UNCLASSIFIED", "UNCLASSIFIED//FOUO"),
        ("UNCLASSIFIED", "UNCLASSIFIED//NOFORN"),
        (
            "UNCLASSIFIED//REL TO USA, GBR",
            "UNCLASSIFIED//REL TO USA, GBR, NATO/RELIDO",
        ),
    ];
    for (a, b) in yes {
        assert!(m(a).dominates(&m(b)), "{a} should dominate {b}");
    }
    for (a, b) in no {
        assert!(!m(a).dominates(&m(b)), "{a} should not dominate {b}");
    }
}
