fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::env::args().nth(2).unwrap();
    let mut f = std::fs::File::open(&path).unwrap();
    let ct = candle_core::quantized::gguf_file::Content::read(&mut f).unwrap();
    for k in ["tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.chat_template"] {
        println!("{k} = {:?}", ct.metadata.get(k));
    }
    let tok = sextant_models::generate::tokenizer::from_gguf(&ct).unwrap();
    let enc = tok.encode_fast(text.as_str(), false).unwrap();
    println!("{:?}", enc.get_tokens());
    println!("{:?}", enc.get_ids());
}
