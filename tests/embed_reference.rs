//! The candle embedder against reference vectors computed once by sentence-transformers
//! (`models/reference/make_reference.py`): cosine >= 0.999 for every sentence, batched or not.

mod common;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn matches_sentence_transformers_reference() {
    let raw =
        std::fs::read_to_string(common::repo().join("tests/data/minilm_reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let sentences: Vec<String> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let vectors: Vec<Vec<f32>> = reference["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    assert!(sentences.len() >= 20);
    let embedder = sextant_models::load_default_embedder(&common::models_dir())
        .expect("run `sextant models fetch` first");
    assert_eq!(embedder.dim(), 384);

    // One batch with all lengths mixed (exercises padding and truncation)...
    let batched = embedder.embed(&sentences).unwrap();
    let mut worst = 1f32;
    for (i, (got, want)) in batched.iter().zip(&vectors).enumerate() {
        let c = cosine(got, want);
        worst = worst.min(c);
        assert!(
            c >= 0.999,
            "sentence {i} {:?}: cosine {c}",
            &sentences[i][..sentences[i].len().min(60)]
        );
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length");
    }
    eprintln!("lowest cosine to sentence-transformers: {worst:.7}");
    // ...and one at a time: padding must not change a vector.
    for (i, s) in sentences.iter().enumerate() {
        let one = embedder.embed_one(s).unwrap();
        assert!(
            cosine(&one, &batched[i]) > 0.99999,
            "sentence {i} differs between batched and single"
        );
    }
}

#[test]
fn similar_sentences_are_closer_than_unrelated_ones() {
    let e = sextant_models::load_default_embedder(&common::models_dir()).unwrap();
    let v = e
        .embed(&[
            "The capital of Mongolia is Ulaanbaatar.".to_string(),
            "Ulaanbaatar is Mongolia's capital city.".to_string(),
            "Coffee exports dominate the economy of Burundi.".to_string(),
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.3);
}
