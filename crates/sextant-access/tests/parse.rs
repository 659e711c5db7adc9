//! Data-driven tests of marking parsing: one line per input, with the canonical banner it
//! must produce or a substring of the error it must raise.

use sextant_access::{Level, Marking, MarkingError};

/// `input` parses, its banner is `expected`, and banner and portion both parse back to it.
#[track_caller]
fn check(input: &str, expected: &str) {
    let m = match Marking::parse(input) {
        Ok(m) => m,
        Err(e) => panic!("{input:?} should parse, got error: {e}"),
    };
    assert_eq!(m.banner(), expected, "banner of {input:?}");
    assert_eq!(m.to_string(), expected, "Display of {input:?}");
    assert_eq!(
        Marking::parse(&m.banner()),
        Ok(m.clone()),
        "banner round trip of {input:?}"
    );
    assert_eq!(
        Marking::parse(&m.portion()),
        Ok(m.clone()),
        "portion round trip of {input:?}"
    );
    assert_eq!(input.parse::<Marking>(), Ok(m), "FromStr of {input:?}");
}

/// `input` is rejected with an error whose message contains `want`.
#[track_caller]
fn check_err(input: &str, want: &str) {
    match Marking::parse(input) {
        Ok(m) => panic!("{input:?} should be rejected, parsed as {:?}", m.banner()),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(want),
                "error for {input:?} is {msg:?}, expected it to contain {want:?}"
            );
        }
    }
}

#[test]
fn levels() {
    check("UNCLASSIFIED", "UNCLASSIFIED");
    check("U", "UNCLASSIFIED");
    check("(U)", "UNCLASSIFIED");
    check("( U )", "UNCLASSIFIED");
    check("unclassified", "UNCLASSIFIED");
    check("Unclassified", "UNCLASSIFIED");
    check("CUI", "CUI");
    check("(CUI)", "CUI");
    check("cui", "CUI");
    check("C", "CONFIDENTIAL");
    check("(C)", "CONFIDENTIAL");
    check("CONFIDENTIAL", "CONFIDENTIAL");
    check("confidential", "CONFIDENTIAL");
    check("S", "SECRET");
    check("(S)", "SECRET");
    check("secret", "SECRET");
    check("SECRET", "SECRET");
    check("TS", "TOP SECRET");
    check("(TS)", "TOP SECRET");
    check("ts", "TOP SECRET");
    check("TOP SECRET", "TOP SECRET");
    check("top secret", "TOP SECRET");
    check("TOP   SECRET", "TOP SECRET");
    check("TOP_SECRET", "TOP SECRET");
    check("top-secret", "TOP SECRET");
    check("(TOP SECRET)", "TOP SECRET");
    check("  SECRET  ", "SECRET");
    check("\tSECRET\n", "SECRET");
}

#[test]
fn foreign_disclosure() {
    check("SECRET//NOFORN", "SECRET//NOFORN");
    check("(S//NF)", "SECRET//NOFORN");
    check("S//NF", "SECRET//NOFORN");
    check("SECRET//NF", "SECRET//NOFORN");
    check("(S//NOFORN)", "SECRET//NOFORN");
    check("(SECRET//NOFORN)", "SECRET//NOFORN");
    check("s//nf", "SECRET//NOFORN");
    check("Secret//NoForn", "SECRET//NOFORN");
    check("SECRET // NOFORN", "SECRET//NOFORN");
    check("SECRET  //  NOFORN", "SECRET//NOFORN");
    check("(S // NF)", "SECRET//NOFORN");
    check("( S//NF )", "SECRET//NOFORN");
    check("SECRET//NF/NF", "SECRET//NOFORN");
    check("SECRET//NOFORN/NF", "SECRET//NOFORN");
    check("U//NF", "UNCLASSIFIED//NOFORN");
    check("(C//REL TO USA, GBR)", "CONFIDENTIAL//REL TO USA, GBR");
    check("(C//REL TO GBR, USA)", "CONFIDENTIAL//REL TO USA, GBR");
    check("S//REL TO USA,GBR", "SECRET//REL TO USA, GBR");
    check("S//REL TO USA ,  GBR", "SECRET//REL TO USA, GBR");
    check("S//REL  TO  USA, GBR", "SECRET//REL TO USA, GBR");
    check("s//rel to usa, gbr", "SECRET//REL TO USA, GBR");
    check("S//REL TO USA, USA, GBR", "SECRET//REL TO USA, GBR");
    check("S//REL TO USA, GBR, GBR", "SECRET//REL TO USA, GBR");
    check("S//REL TO USA, GBR, AUS", "SECRET//REL TO USA, AUS, GBR");
    check("U//REL TO USA, GBR", "UNCLASSIFIED//REL TO USA, GBR");
    check(
        "TOP SECRET//SI/TK//REL TO USA, AUS, CAN, GBR, NZL",
        "TOP SECRET//SI/TK//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check(
        "(TS//SI//REL TO USA, FVEY)",
        "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check(
        "TS//SI//REL TO USA, FVEY",
        "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check(
        "TOP SECRET//SI//REL TO USA, FVEY",
        "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check(
        "(TOP SECRET//SI//REL TO USA, FVEY)",
        "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check(
        "TS//TK/SI//REL TO NZL, GBR, CAN, AUS, USA",
        "TOP SECRET//SI/TK//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check(
        "S//REL TO USA, FVEY, GBR",
        "SECRET//REL TO USA, AUS, CAN, GBR, NZL",
    );
    check("S//REL TO USA, NATO", "SECRET//REL TO USA, NATO");
    check("S//REL TO USA, ACGU", "SECRET//REL TO USA, ACGU");
    check(
        "S//REL TO USA, NATO, FRA, DEU",
        "SECRET//REL TO USA, DEU, FRA, NATO",
    );
    check(
        "S//REL TO USA, FVEY, NATO",
        "SECRET//REL TO USA, AUS, CAN, GBR, NZL, NATO",
    );
    check(
        "S//REL TO USA, FVEY, DEU",
        "SECRET//REL TO USA, AUS, CAN, DEU, GBR, NZL",
    );
}

#[test]
fn sci() {
    check("TOP SECRET//SI/TK//NOFORN", "TOP SECRET//SI/TK//NOFORN");
    check(
        "TOP SECRET//HCS-P/SI-G ABCD/TK//ORCON/NOFORN",
        "TOP SECRET//HCS-P/SI-G ABCD/TK//ORCON/NOFORN",
    );
    check(
        "(TS//HCS-P/SI-G ABCD/TK//OC/NF)",
        "TOP SECRET//HCS-P/SI-G ABCD/TK//ORCON/NOFORN",
    );
    check(
        "TS//TK/SI-G ABCD/HCS-P//NF/OC",
        "TOP SECRET//HCS-P/SI-G ABCD/TK//ORCON/NOFORN",
    );
    check("TS//SI-G ABCD EFGH", "TOP SECRET//SI-G ABCD EFGH");
    check("TS//SI-G EFGH ABCD", "TOP SECRET//SI-G ABCD EFGH");
    check("TS//SI-G ABCD/SI-G EFGH", "TOP SECRET//SI-G ABCD EFGH");
    check("TS//SI/SI-G", "TOP SECRET//SI-G");
    check("TS//SI-G/SI", "TOP SECRET//SI-G");
    check("TS//SI-G/SI-G ABCD", "TOP SECRET//SI-G ABCD");
    check("TS//SI-G-ECI XYZ", "TOP SECRET//SI-ECI XYZ-G");
    check("TS//SI-G/SI-ECI XYZ", "TOP SECRET//SI-ECI XYZ-G");
    check("TS//SI-ECI XYZ-G ABCD", "TOP SECRET//SI-ECI XYZ-G ABCD");
    check("TS//SI - G  ABCD", "TOP SECRET//SI-G ABCD");
    check("TS//si-g abcd/tk", "TOP SECRET//SI-G ABCD/TK");
    check("TS//KDK/RSV/BUR", "TOP SECRET//BUR/KDK/RSV");
    check("TS//HCS-O-P", "TOP SECRET//HCS-O-P");
    check("TS//HCS-P/HCS-O", "TOP SECRET//HCS-O-P");
    check("C//SI", "CONFIDENTIAL//SI");
    check("S//SI/TK//NF", "SECRET//SI/TK//NOFORN");
    check("TS//SI/SI//NF", "TOP SECRET//SI//NOFORN");
    check(
        "TOP SECRET // SI / TK // REL TO USA , AUS",
        "TOP SECRET//SI/TK//REL TO USA, AUS",
    );
    check("( TS // SI // NF )", "TOP SECRET//SI//NOFORN");
    check("TOP SECRET//SI//NF", "TOP SECRET//SI//NOFORN");
    check("TS//SI//NOFORN", "TOP SECRET//SI//NOFORN");
}

#[test]
fn sap() {
    check("TS//SAR-BP", "TOP SECRET//SAR-BP");
    check("S//SAR-BP/GB", "SECRET//SAR-BP/GB");
    check("S//SAR-GB/SAR-BP", "SECRET//SAR-BP/GB");
    check("S//SAR-BP/SAR-BP", "SECRET//SAR-BP");
    check(
        "S//SPECIAL ACCESS REQUIRED-BUTTERED POPCORN",
        "SECRET//SAR-BUTTERED POPCORN",
    );
    check("S//sar-buttered  popcorn", "SECRET//SAR-BUTTERED POPCORN");
    check("TS//SI//SAR-BP//NF", "TOP SECRET//SI//SAR-BP//NOFORN");
    check("S//SAR-BP-J12", "SECRET//SAR-BP-J12");
    // A program id that bare would read as a dissemination control or SCI system keeps
    // its own prefix so the canonical form re-parses.
    check("S//SAR-NC", "SECRET//SAR-NC");
    check("S//SAR-A/SAR-NC", "SECRET//SAR-A/SAR-NC");
    check("S//SAR-SI/SAR-A", "SECRET//SAR-A/SAR-SI");
}

#[test]
fn cui() {
    check("CUI//SP-PRVCY", "CUI//SP-PRVCY");
    check("CUI//SP-PRVCY//NOFORN", "CUI//SP-PRVCY//NOFORN");
    check("(CUI//SP-PRVCY//NF)", "CUI//SP-PRVCY//NOFORN");
    check("cui//sp-prvcy", "CUI//SP-PRVCY");
    check("CUI//PRVCY/LEI", "CUI//LEI/PRVCY");
    check("CUI//PRVCY/SP-CTI", "CUI//SP-CTI/PRVCY");
    check("CUI//FED ONLY", "CUI//FED ONLY");
    check("CUI//FEDONLY", "CUI//FED ONLY");
    check("CUI//SP-PRVCY//FED ONLY", "CUI//SP-PRVCY//FED ONLY");
    check("CUI//PRVCY//REL TO USA, GBR", "CUI//PRVCY//REL TO USA, GBR");
    check("CUI//PRVCY//PROPIN", "CUI//PRVCY//PROPIN");
    check("CUI//NOCON", "CUI//NOCONTRACT");
    check("CUI//NF", "CUI//NOFORN");
}

#[test]
fn fouo_and_other_controls() {
    check("(U//FOUO)", "UNCLASSIFIED//FOR OFFICIAL USE ONLY");
    check("UNCLASSIFIED//FOUO", "UNCLASSIFIED//FOR OFFICIAL USE ONLY");
    check(
        "UNCLASSIFIED//FOR OFFICIAL USE ONLY",
        "UNCLASSIFIED//FOR OFFICIAL USE ONLY",
    );
    check("U//FOUO/NF", "UNCLASSIFIED//FOR OFFICIAL USE ONLY/NOFORN");
    check(
        "S//RELIDO/REL TO USA, GBR/PROPIN/NOCONTRACT/IMCON/ORCON",
        "SECRET//ORCON/IMCON/NOCONTRACT/PROPIN/REL TO USA, GBR/RELIDO",
    );
    check("S//PR/NF/OC", "SECRET//ORCON/NOFORN/PROPIN");
    check("S//IMC", "SECRET//IMCON");
    check("S//NC", "SECRET//NOCONTRACT");
    check("S//RELIDO", "SECRET//RELIDO");
    check("S//FED ONLY/NF", "SECRET//NOFORN/FED ONLY");
    check(
        "S//REL TO USA, GBR/RELIDO",
        "SECRET//REL TO USA, GBR/RELIDO",
    );
    check("TS//OC/OC/ORCON", "TOP SECRET//ORCON");
}

#[test]
fn malformed() {
    check_err(
        "SECRT//NF",
        "unknown classification level \"SECRT\" in \"SECRT//NF\"",
    );
    check_err("SECRT", "unknown classification level \"SECRT\"");
    check_err(
        "SECRET/NOFORN",
        "unknown classification level \"SECRET/NOFORN\"",
    );
    check_err(
        "SECRET NOFORN",
        "unknown classification level \"SECRET NOFORN\"",
    );
    check_err("S-//NF", "unknown classification level \"S-\"");
    check_err("TOP SECRET-//SI", "unknown classification level");
    check_err("RESTRICTED", "unknown classification level \"RESTRICTED\"");
    check_err("", "empty marking");
    check_err("   ", "empty marking");
    check_err("()", "empty marking");
    check_err("( )", "empty marking");
    check_err("(S//NF", "unbalanced parentheses");
    check_err("S//NF)", "unbalanced parentheses");
    check_err("(", "unbalanced parentheses");
    check_err("((S))", "unexpected character '('");
    check_err("SECRET//(NF", "unexpected character '('");
    check_err("SECRET//(NF)", "unbalanced parentheses");
    check_err("SECRET//NOFORN;", "unexpected character ';'");
    check_err("SECRET.", "unexpected character '.'");
    check_err("SECRÉT", "unexpected character 'É'");
    check_err("//NF", "missing classification level");
    check_err("SECRET////NF", "empty section");
    check_err("SECRET// //NF", "empty section");
    check_err("SECRET//NF//", "trailing \"//\"");
    check_err("SECRET//", "trailing \"//\"");
    check_err("(S//)", "trailing \"//\"");
    check_err("SECRET///NF", "empty \"/\" entry");
    check_err("SECRET//NF/", "empty \"/\" entry");
    check_err("TS//SI//TK", "duplicate SCI section");
    check_err(
        "SECRET//NF//ORCON",
        "duplicate dissemination control section",
    );
    check_err("SECRET//NF//NF", "duplicate dissemination control section");
    check_err("S//SAR-A//SAR-B", "duplicate SAP section");
    check_err(
        "SECRET//NOFORN//SI",
        "SCI section after the dissemination control section",
    );
    check_err("TS//SAR-BP//SI", "SCI section after the SAP section");
    check_err(
        "CUI//NOFORN//SP-PRVCY",
        "CUI category section after the dissemination control section",
    );
}

#[test]
fn malformed_dissemination() {
    check_err("S//NOFRN", "unknown dissemination control \"NOFRN\"");
    check_err("(S//NOFRN)", "unknown dissemination control \"NOFRN\"");
    check_err(
        "SECRET//NOFORN/ORCN",
        "unknown dissemination control \"ORCN\"",
    );
    check_err(
        "SECRET//NO FORN",
        "unknown dissemination control \"NO FORN\"",
    );
    check_err(
        "SECRET//RELTO USA, GBR",
        "unknown dissemination control \"RELTO USA, GBR\"",
    );
    check_err("TS//XK", "unknown dissemination control \"XK\"");
    check_err("SECRET//FOUO", "FOUO marking on a SECRET portion");
    check_err("CUI//FOUO", "FOUO marking on a CUI portion");
    check_err(
        "SECRET//NOFORN/REL TO USA, GBR",
        "\"NOFORN\" and \"REL TO\" cannot appear together",
    );
    check_err(
        "(S//NF/REL TO USA, GBR)",
        "\"NOFORN\" and \"REL TO\" cannot appear together",
    );
    check_err(
        "(S//REL TO USA, GBR/NF)",
        "\"NOFORN\" and \"REL TO\" cannot appear together",
    );
    check_err(
        "SECRET//REL TO USA, GBR/REL TO USA, AUS",
        "\"REL TO\" appears more than once",
    );
    check_err("SECRET//REL TO GBR", "REL TO list must include USA");
    check_err("SECRET//REL TO GBR, AUS", "REL TO list must include USA");
    check_err("SECRET//REL TO FVEY", "REL TO list must include USA");
    check_err(
        "SECRET//REL TO USA",
        "REL TO list must name a country besides USA",
    );
    check_err(
        "SECRET//REL TO USA, USA",
        "REL TO list must name a country besides USA",
    );
    check_err("SECRET//REL TO", "empty REL TO list");
    check_err("SECRET//REL TO USA,, GBR", "empty country code");
    check_err("SECRET//REL TO USA, GBR,", "empty country code");
    check_err("SECRET//REL TO USA, XY", "unknown country code \"XY\"");
    check_err("SECRET//REL TO USA, GBRX", "unknown country code \"GBRX\"");
    check_err("SECRET//REL TO USA, U5A", "unknown country code \"U5A\"");
    check_err("SECRET//REL TO USA GBR", "unknown country code \"USA GBR\"");
    check_err("SECRET//REL TO USA, EURO", "unknown country code \"EURO\"");
}

#[test]
fn malformed_sci_sap_cui() {
    check_err("UNCLASSIFIED//SI", "SCI marking on an UNCLASSIFIED portion");
    check_err("(U//SI)", "SCI marking on an UNCLASSIFIED portion");
    check_err("CUI//SI", "SCI marking on a CUI portion");
    check_err("U//SAR-BP", "SAP marking on an UNCLASSIFIED portion");
    check_err("CUI//SAR-BP", "SAP marking on a CUI portion");
    check_err(
        "SECRET//SP-PRVCY",
        "CUI category marking on a SECRET portion",
    );
    check_err(
        "UNCLASSIFIED//SP-PRVCY",
        "CUI category marking on an UNCLASSIFIED portion",
    );
    check_err("TOP SECRET//SX-G ABCD", "unknown SCI control system \"SX\"");
    check_err("TOP SECRET//SI/XK", "unknown SCI control system \"XK\"");
    check_err("TOP SECRET//XK-G/TK", "unknown SCI control system \"XK\"");
    check_err("TOP SECRET//SI-", "malformed SCI marking \"SI-\"");
    check_err("TOP SECRET//SI--G", "empty compartment");
    check_err(
        "TOP SECRET//SI ABCD",
        "sub-compartments must follow a compartment",
    );
    check_err("TOP SECRET//SI-G AB_CD", "letters and digits");
    check_err(
        "TOP SECRET//SI/NOFORN",
        "\"NOFORN\" is a dissemination control but appears in the SCI section",
    );
    check_err(
        "TOP SECRET//NF/SI",
        "\"SI\" is an SCI marking but appears in the dissemination control section",
    );
    check_err("S//SAR-", "empty program identifier");
    check_err("S//SAR-SAR-BP", "repeated \"SAR-\" prefix");
    check_err("S//SAR-BP!", "unexpected character '!'");
    check_err("S//SAR-BP_1", "malformed SAP marking");
    check_err(
        "S//SAR-BP/NF",
        "\"NF\" is a dissemination control but appears in the SAP section",
    );
    check_err(
        "C//SAR-BP/SI",
        "\"SI\" is an SCI marking but appears in the SAP section",
    );
    check_err("S//BP/SAR-GB", "a SAP section must start with \"SAR-\"");
    check_err("CUI//NOFRN", "unknown dissemination control \"NOFRN\"");
    check_err("CUI//ORCN", "unknown dissemination control \"ORCN\"");
    check_err(
        "CUI//PRVCY/NOFORN",
        "\"NOFORN\" is a dissemination control but appears in the CUI category section",
    );
    check_err("CUI//PRVCY/PROPIN", "\"PROPIN\" is a dissemination control");
    check_err("CUI//PRIV ACT", "malformed CUI category \"PRIV ACT\"");
    check_err("CUI//SP-", "malformed CUI category");
    check_err("CUI//1ABC", "malformed CUI category");
}

#[test]
fn level_from_str_and_display() {
    for l in Level::ALL {
        assert_eq!(l.name().parse::<Level>(), Ok(l));
        assert_eq!(l.abbrev().parse::<Level>(), Ok(l));
        assert_eq!(l.name().to_lowercase().parse::<Level>(), Ok(l));
        assert_eq!(l.abbrev().to_lowercase().parse::<Level>(), Ok(l));
        assert_eq!(l.to_string(), l.name());
    }
    assert_eq!("top_secret".parse::<Level>(), Ok(Level::TopSecret));
    assert_eq!("Top-Secret".parse::<Level>(), Ok(Level::TopSecret));
    assert_eq!(" ts ".parse::<Level>(), Ok(Level::TopSecret));
    assert_eq!("cui".parse::<Level>(), Ok(Level::Cui));
    for bad in [
        "",
        "SECRT",
        "TOP",
        "TOPSECRET",
        "_SECRET",
        "SECRET-",
        "S//NF",
        "T S",
    ] {
        let err = bad.parse::<Level>().unwrap_err();
        assert!(
            matches!(err, MarkingError::UnknownLevel(_)),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(
        "SECRT".parse::<Level>().unwrap_err().to_string(),
        "unknown classification level \"SECRT\" (expected UNCLASSIFIED, CUI, CONFIDENTIAL, SECRET, TOP SECRET or U, C, S, TS)"
    );
    let names: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "UNCLASSIFIED",
            "CUI",
            "CONFIDENTIAL",
            "SECRET",
            "TOP SECRET"
        ]
    );
    let abbrevs: Vec<&str> = Level::ALL.iter().map(|l| l.abbrev()).collect();
    assert_eq!(abbrevs, ["U", "CUI", "C", "S", "TS"]);
    assert!(Level::ALL.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn accessors_and_portions() {
    let m = Marking::parse("TOP SECRET//HCS-P/SI-G ABCD EFGH/TK//SAR-BP/GB//ORCON/NOFORN").unwrap();
    assert_eq!(m.level(), Level::TopSecret);
    assert_eq!(
        m.sci(),
        ["HCS", "HCS-P", "SI", "SI-G", "SI-G ABCD", "SI-G EFGH", "TK"]
    );
    assert_eq!(m.sap(), ["BP", "GB"]);
    assert_eq!(
        m.portion(),
        "(TS//HCS-P/SI-G ABCD EFGH/TK//SAR-BP/GB//OC/NF)"
    );
    assert_eq!(Marking::unclassified().portion(), "(U)");
    assert_eq!(Marking::unclassified().banner(), "UNCLASSIFIED");
    assert_eq!(Marking::unclassified().level(), Level::Unclassified);
    assert!(Marking::unclassified().sci().is_empty() && Marking::unclassified().sap().is_empty());
    let portions = [
        ("SECRET//NOFORN", "(S//NF)"),
        (
            "TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL",
            "(TS//SI//REL TO USA, FVEY)",
        ),
        (
            "SECRET//REL TO USA, AUS, CAN, DEU, GBR, NZL",
            "(S//REL TO USA, DEU, FVEY)",
        ),
        (
            "SECRET//REL TO USA, AUS, CAN, GBR, NZL, NATO",
            "(S//REL TO USA, FVEY, NATO)",
        ),
        (
            "SECRET//REL TO USA, AUS, CAN, GBR",
            "(S//REL TO USA, AUS, CAN, GBR)",
        ),
        ("UNCLASSIFIED//FOUO", "(U//FOUO)"),
        ("CUI//SP-PRVCY//NOFORN", "(CUI//SP-PRVCY//NF)"),
        (
            "SECRET//ORCON/IMCON/NOCONTRACT/PROPIN/RELIDO/FED ONLY",
            "(S//OC/IMC/NC/PR/RELIDO/FED ONLY)",
        ),
        ("CONFIDENTIAL", "(C)"),
    ];
    for (input, portion) in portions {
        assert_eq!(
            Marking::parse(input).unwrap().portion(),
            portion,
            "portion of {input:?}"
        );
    }
}

#[test]
fn serde_as_banner_string() {
    let m = Marking::parse("(TS//SI//REL TO USA, FVEY)").unwrap();
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(json, "\"TOP SECRET//SI//REL TO USA, AUS, CAN, GBR, NZL\"");
    assert_eq!(serde_json::from_str::<Marking>(&json).unwrap(), m);
    assert_eq!(
        serde_json::from_str::<Marking>("\"(s//nf)\"")
            .unwrap()
            .banner(),
        "SECRET//NOFORN"
    );
    let err = serde_json::from_str::<Marking>("\"S//NOFRN\"").unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown dissemination control \"NOFRN\""),
        "{err}"
    );
    assert!(serde_json::from_str::<Marking>("42").is_err());
    assert_eq!(
        serde_json::to_string(&Level::TopSecret).unwrap(),
        "\"TOP SECRET\""
    );
    assert_eq!(
        serde_json::from_str::<Level>("\"ts\"").unwrap(),
        Level::TopSecret
    );
}

#[test]
fn errors_are_values() {
    // Errors are compared and cloned by callers (e.g. to report the first bad portion).
    let e = Marking::parse("SECRET//NOFORN/REL TO USA, GBR").unwrap_err();
    assert_eq!(e, MarkingError::NofornWithRelTo);
    assert_eq!(e.clone(), e);
    assert_eq!(Marking::parse(""), Err(MarkingError::Empty));
    assert_eq!(
        Marking::parse("S//NOFRN"),
        Err(MarkingError::UnknownDissem("NOFRN".to_string()))
    );
}
