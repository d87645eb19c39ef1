/**
 * An honest upper-bound guess of how many tokens a text is, for the NPU backend: the RKLLM 1.2.0 API
 * has no tokenize function and reports no prompt-token count.
 *
 * TinyLlama's 32k SentencePiece vocabulary averages about 4 UTF-8 bytes per token on English text and
 * about one token per character (3 bytes) on CJK text, so bytes ÷ 3 (plus BOS) over-counts English by
 * roughly a quarter and matches CJK; only text made of rare byte-fallback characters (one token per
 * byte) is under-counted. Over-counting makes E_PROMPT_TOO_LONG fire a little early, never late.
 */
const bytesPerToken = 3;

export function estimateTokenCount(text: string): number {
  return 1 + Math.ceil(Buffer.byteLength(text, "utf8") / bytesPerToken);
}
