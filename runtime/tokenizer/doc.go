// Package tokenizer turns text into token ids and back, reading its vocabulary from the
// tokenizer.ggml.* metadata of a GGUF file, with the same results as llama.cpp.
//
// Two tokenizer models are supported, the ones llama-family models use:
//   - "llama": SentencePiece (BPE variant) as llama.cpp's llm_tokenizer_spm runs it. Spaces
//     become U+2581, a space is put before the text when add_space_prefix is on, pieces merge
//     pairwise by vocabulary score (highest first, leftmost on ties), and what no token covers
//     falls back to the <0xNN> byte tokens.
//   - "gpt2": byte-level BPE. The text is first cut into words by the pre-tokenizer that
//     tokenizer.ggml.pre names (see PreTokenizers), each word's bytes are mapped to printable
//     characters with GPT-2's byte-to-unicode table, and the ranked merges of
//     tokenizer.ggml.merges are applied lowest rank first. "gemma4" vocabularies (BPE on raw
//     UTF-8 with <0xNN> byte tokens) are read too.
//
// Pre-tokenizer patterns need lookahead, which Go's regexp lacks: the common ones (GPT-2,
// Llama 3, Qwen2, ...) are hand-written splitters that mirror llama.cpp's unicode.cpp, and the
// rest run on a small backtracking matcher with std::regex semantics, including llama.cpp's
// trick of collapsing each non-ASCII code point to one byte of its Unicode category.
//
// Special tokens (control, user-defined and unknown tokens) are matched in the text before
// tokenization: user-defined ones always, control ones only when EncodeOptions.ParseSpecial is
// set, as llama_tokenize's parse_special does.
//
// A Tokenizer is immutable once built and safe for concurrent use.
package tokenizer
