/**
 * The grammars of the JSON schemas requests ask for (`json_schema`), built once per schema: compiling
 * one is far slower than a token, and a game asks for the same few schemas again and again. The most
 * recent `grammarCacheSize` are kept; a schema outside the supported subset is E_BAD_SCHEMA.
 */
import type { Llama, LlamaJsonSchemaGrammar } from "node-llama-cpp";
import { ProtocolError } from "../../../protocol/errorCodes.js";
import { JsonSchemaSubsetError, toGrammarSchema } from "./checkJsonSchemaSubset.js";

const grammarCacheSize = 16;

export class JsonSchemaGrammars {
  private readonly grammars = new Map<string, Promise<LlamaJsonSchemaGrammar<never>>>();

  async grammarFor(llama: Llama, schema: Record<string, unknown>): Promise<LlamaJsonSchemaGrammar<never>> {
    let grammarSchema: Record<string, unknown>;
    try {
      grammarSchema = toGrammarSchema(schema);
    } catch (error) {
      if (!(error instanceof JsonSchemaSubsetError)) throw error;
      throw new ProtocolError("E_BAD_SCHEMA", `json_schema is not supported: ${error.message}`);
    }
    const key = JSON.stringify(grammarSchema);
    let grammar = this.grammars.get(key);
    if (grammar === undefined) {
      grammar = llama.createGrammarForJsonSchema(grammarSchema as never) as Promise<LlamaJsonSchemaGrammar<never>>;
      this.grammars.set(key, grammar);
      if (this.grammars.size > grammarCacheSize) this.grammars.delete(this.grammars.keys().next().value as string);
    }
    try {
      return await grammar;
    } catch (error) {
      this.grammars.delete(key);
      throw new ProtocolError("E_BAD_SCHEMA", `json_schema is not supported: ${(error as Error).message}`);
    }
  }

  /** Grammars belong to the llama instance that built them: dropped when it goes. */
  clear(): void {
    this.grammars.clear();
  }
}
