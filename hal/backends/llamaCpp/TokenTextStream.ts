/**
 * Turns generated tokens into text pieces without ever splitting a UTF-8 character: a token that
 * ends inside a multi-byte character is held until the character is complete.
 */
import type { LlamaModel, Token } from "node-llama-cpp";

const incompleteCharacter = "\uFFFD";
/** A UTF-8 character spans at most 4 byte tokens. */
const maxHeldTokens = 4;
/** Preceding tokens passed to the detokenizer so word-initial spaces come out right. */
const contextTokens = 8;

export class TokenTextStream {
  private readonly held: Token[] = [];
  private readonly emitted: Token[] = [];

  /** precedingTokens: the prompt's tail, so the first generated word keeps its leading space. */
  constructor(
    private readonly model: LlamaModel,
    precedingTokens: readonly Token[] = [],
  ) {
    this.emitted.push(...precedingTokens.slice(-contextTokens));
  }

  /** Adds one token; returns the text that became final (possibly ""). */
  push(token: Token): string {
    this.held.push(token);
    const text = this.model.detokenize(this.held, false, this.emitted.slice(-contextTokens));
    if (text.endsWith(incompleteCharacter) && this.held.length < maxHeldTokens) return "";
    this.emitted.push(...this.held);
    this.held.length = 0;
    return text;
  }

  /** Text of tokens still held when generation ends. */
  flush(): string {
    if (this.held.length === 0) return "";
    const text = this.model.detokenize(this.held, false, this.emitted.slice(-contextTokens));
    this.emitted.push(...this.held);
    this.held.length = 0;
    return text;
  }
}
