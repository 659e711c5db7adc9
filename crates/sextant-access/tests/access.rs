//! Clearance tables: who may see what, and how grants and citizenship are validated.

use sextant_access::{Access, Level, Marking, MarkingError};

fn m(s: &str) -> Marking {
    match Marking::parse(s) {
        Ok(m) => m,
        Err(e) => panic!("test marking {s:?} does not parse: {e}"),
    }
}

fn access(level: Level, grants: &[&str], citizenship: &str) -> Access {
    match Access::new(level, grants, citizenship) {
        Ok(a) => a,
        Err(e) => panic!("test access {grants:?}/{citizenship} is invalid: {e}"),
    }
}

/// (clearance, grants, citizenship, marking, may see?)
#[track_caller]
fn check_see(level: Level, grants: &[&str], citizenship: &str, marking: &str, want: bool) {
    let a = access(level, grants, citizenship);
    assert_eq!(
        a.may_see(&m(marking)),
        want,
        "{level} {grants:?} {citizenship} looking at {marking}"
    );
}

#[test]
fn levels() {
    for cleared in Level::ALL {
        for marked in Level::ALL {
            let a = access(cleared, &[], "USA");
            let mk = Marking::parse(marked.name()).unwrap();
            assert_eq!(
                a.may_see(&mk),
                marked <= cleared,
                "{cleared} looking at {marked}"
            );
        }
    }
}

#[test]
fn sci_compartments() {
    use Level::TopSecret as TS;
    check_see(TS, &["SI"], "USA", "TS//SI", true);
    check_see(TS, &["SI"], "USA", "TS//SI-G", false);
    check_see(TS, &["SI"], "USA", "TS//SI-G ABCD", false);
    check_see(TS, &["SI-G"], "USA", "TS//SI-G ABCD", false);
    check_see(TS, &["SI-G ABCD"], "USA", "TS//SI-G ABCD", true);
    check_see(TS, &["SI-G ABCD"], "USA", "TS//SI-G", true);
    check_see(TS, &["SI-G ABCD"], "USA", "TS//SI", true);
    check_see(TS, &["SI-G ABCD"], "USA", "TS//SI-G EFGH", false);
    check_see(TS, &["SI-G ABCD"], "USA", "TS//SI-G ABCD EFGH", false);
    check_see(
        TS,
        &["SI-G ABCD", "SI-G EFGH"],
        "USA",
        "TS//SI-G ABCD EFGH",
        true,
    );
    check_see(TS, &["SI-G ABCD EFGH"], "USA", "TS//SI-G ABCD EFGH", true);
    check_see(TS, &["SI-G ABCD"], "USA", "TS//SI/TK", false);
    check_see(TS, &["SI", "TK"], "USA", "TS//SI/TK", true);
    check_see(TS, &["HCS-P"], "USA", "TS//HCS-P", true);
    check_see(TS, &["HCS-P"], "USA", "TS//HCS-O", false);
    check_see(TS, &["HCS"], "USA", "TS//HCS-P", false);
    check_see(TS, &["HCS-O-P"], "USA", "TS//HCS-O/HCS-P", true);
    check_see(TS, &["si-g abcd"], "USA", "TS//SI-G ABCD", true);
    check_see(
        TS,
        &["SI-ECI XYZ-G ABCD"],
        "USA",
        "TS//SI-G ABCD/SI-ECI XYZ",
        true,
    );
    check_see(Level::Secret, &["SI"], "USA", "TS//SI", false);
    check_see(TS, &[], "USA", "TS//SI", false);
}

#[test]
fn sap_programs() {
    use Level::TopSecret as TS;
    check_see(
        TS,
        &["BUTTERED POPCORN"],
        "USA",
        "S//SAR-BUTTERED POPCORN",
        true,
    );
    check_see(TS, &["BUTTERED POPCORN"], "USA", "S//SAR-BP", false);
    check_see(TS, &["SAR-BP"], "USA", "S//SAR-BP", true);
    check_see(TS, &["bp"], "USA", "S//SAR-BP", true);
    check_see(TS, &["BP"], "USA", "S//SAR-BP/GB", false);
    check_see(TS, &["BP", "GB"], "USA", "S//SAR-BP/GB", true);
    // An SCI grant never satisfies a SAP program of the same name, and vice versa.
    check_see(TS, &["TK"], "USA", "S//SAR-TK", false);
    check_see(TS, &["SAR-TK"], "USA", "S//SAR-TK", true);
    check_see(TS, &["SAR-TK"], "USA", "S//TK", false);
    check_see(TS, &["SI", "BP"], "USA", "TS//SI//SAR-BP//NF", true);
}

#[test]
fn foreign_disclosure() {
    use Level::TopSecret as TS;
    check_see(TS, &[], "GBR", "S//NF", false);
    check_see(TS, &[], "USA", "S//NF", true);
    check_see(TS, &[], "GBR", "S//REL TO USA, GBR", true);
    check_see(TS, &[], "gbr", "S//REL TO USA, GBR", true);
    check_see(TS, &[], "AUS", "S//REL TO USA, GBR", false);
    check_see(TS, &[], "NZL", "S//REL TO USA, FVEY", true);
    check_see(TS, &[], "DEU", "S//REL TO USA, FVEY", false);
    check_see(TS, &[], "GBR", "C//REL TO USA, AUS", false);
    // Classified without a release decision: US only.
    check_see(TS, &[], "GBR", "S", false);
    check_see(TS, &[], "GBR", "C", false);
    check_see(TS, &[], "USA", "S", true);
    // Tetragraphs other than FVEY are opaque: a member's citizen is not matched.
    check_see(TS, &[], "GBR", "S//REL TO USA, NATO", false);
    check_see(TS, &[], "USA", "S//REL TO USA, NATO", true);
    // Unclassified and CUI without FD&R go to anyone.
    check_see(TS, &[], "GBR", "U", true);
    check_see(TS, &[], "FRA", "CUI", true);
    check_see(TS, &[], "FRA", "CUI//SP-PRVCY", true);
    check_see(TS, &[], "GBR", "U//NF", false);
    check_see(TS, &[], "GBR", "U//REL TO USA, GBR", true);
    check_see(TS, &[], "FRA", "U//REL TO USA, GBR", false);
    check_see(TS, &[], "GBR", "CUI//SP-PRVCY//NOFORN", false);
    // RELIDO never widens releasability.
    check_see(TS, &[], "GBR", "S//RELIDO", false);
    // Handling controls do not gate reading.
    check_see(TS, &[], "USA", "S//OC/PR/IMC/NC/FED ONLY", true);
    check_see(TS, &[], "GBR", "S//OC/REL TO USA, GBR", true);
    check_see(Level::Unclassified, &[], "GBR", "U//FOUO", true);
    check_see(Level::Unclassified, &[], "USA", "CUI", false);
}

#[test]
fn releasable_to_direct() {
    let nf = m("S//NF");
    let rel = m("S//REL TO USA, GBR");
    let u = m("U");
    assert!(nf.releasable_to("USA") && nf.releasable_to("usa"));
    assert!(!nf.releasable_to("GBR"));
    assert!(rel.releasable_to("GBR") && rel.releasable_to(" gbr "));
    // Malformed citizenships fail closed, even for unclassified.
    for bad in ["", "US", "GB", "USAA", "NATO", "FVEY", "U5A", "GBR,USA"] {
        assert!(!u.releasable_to(bad), "{bad:?}");
        assert!(!rel.releasable_to(bad), "{bad:?}");
    }
}

#[test]
fn construction_and_accessors() {
    let a = access(
        Level::TopSecret,
        &["si-g abcd", "TK", "BUTTERED  POPCORN", "SAR-TK"],
        "usa",
    );
    assert_eq!(a.level(), Level::TopSecret);
    assert_eq!(a.citizenship(), "USA");
    assert_eq!(
        a.grants(),
        [
            "BUTTERED POPCORN",
            "SAR-TK",
            "SI",
            "SI-G",
            "SI-G ABCD",
            "TK"
        ]
    );
    // grants() feeds back into new() unchanged.
    let b = Access::new(a.level(), a.grants(), a.citizenship()).unwrap();
    assert_eq!(a, b);
    // Owned and borrowed grant lists both work.
    let owned: Vec<String> = vec!["SI".into()];
    assert!(Access::new(Level::Secret, &owned, "GBR").is_ok());
    assert!(Access::new(Level::Secret, owned, "GBR").is_ok());
    assert!(Access::new(Level::Secret, Vec::<&str>::new(), "GBR").is_ok());
}

#[test]
fn invalid_access() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&[], "US", "invalid citizenship \"US\""),
        (&[], "", "invalid citizenship \"\""),
        (&[], "NATO", "invalid citizenship \"NATO\""),
        (&[], "U5A", "invalid citizenship \"U5A\""),
        (&[""], "USA", "invalid grant \"\": empty grant"),
        (&["  "], "USA", "empty grant"),
        (&["SI/TK"], "USA", "one grant per entry"),
        (&["SI, TK"], "USA", "one grant per entry"),
        (&["SI-"], "USA", "malformed SCI marking \"SI-\""),
        (
            &["SI ABCD"],
            "USA",
            "sub-compartments must follow a compartment",
        ),
        (&["SAR-"], "USA", "empty program identifier"),
        (&["-BP"], "USA", "malformed SAP marking"),
    ];
    for (grants, cit, want) in cases {
        match Access::new(Level::TopSecret, grants.iter(), cit) {
            Ok(a) => panic!("{grants:?}/{cit:?} should be rejected, got {a:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{grants:?}/{cit:?}: {e}"),
        }
    }
    assert_eq!(
        Access::new(Level::Secret, ["SI"], "XX"),
        Err(MarkingError::InvalidCitizenship("XX".to_string()))
    );
}
