/**
 * The request-field tables of docs/protocol.md, generated from clientMessageSchema.ts so that the
 * documented fields, types and defaults can never drift from what the parser accepts. Each table
 * sits between a begin marker naming the message type and an end marker; the prose around it stays
 * hand-written. writeProtocolDocs.ts rewrites the file; a test keeps it equal.
 */
import { clientMessageSchemas, type FieldSchema } from "./clientMessageSchema.js";
import { describeExpectation } from "./describeExpectation.js";

const beginMarker = /<!-- Generated request fields: (\w+)\. [^>]*-->\n/g;
const endMarker = "<!-- End of generated request fields. -->";

function tableCell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function defaultCell(schema: FieldSchema, required: boolean): string {
  if (required) return "required";
  if (schema["x-default"] !== undefined) return schema["x-default"];
  if (schema.default !== undefined) return `\`${JSON.stringify(schema.default)}\``;
  return "none";
}

/** The Field | Type | Default | Meaning table of one message type (its `type` field is the heading). */
export function renderRequestFieldTable(messageType: string): string {
  const schema = Object.hasOwn(clientMessageSchemas, messageType) ? clientMessageSchemas[messageType] : undefined;
  if (schema === undefined) throw new Error(`no schema for message type '${messageType}'`);
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties ?? {})
    .filter(([field]) => field !== "type")
    .map(([field, property]) =>
      [
        `\`${field}\``,
        describeExpectation(property),
        defaultCell(property, required.has(field)),
        property.description ?? "",
      ]
        .map(tableCell)
        .join(" | "),
    )
    .map((row) => `| ${row} |`);
  return ["| Field | Type | Default | Meaning |", "|---|---|---|---|", ...rows, ""].join("\n");
}

/** `markdown` with every generated table replaced by its current rendering. */
export function withGeneratedRequestTables(markdown: string): string {
  return markdown.replace(
    new RegExp(`(${beginMarker.source})[\\s\\S]*?${endMarker}`, "g"),
    (_whole, begin: string, messageType: string) => `${begin}${renderRequestFieldTable(messageType)}${endMarker}`,
  );
}

/** The message types whose tables the markdown holds, in order. */
export function generatedRequestTables(markdown: string): string[] {
  return [...markdown.matchAll(beginMarker)].map((match) => match[1] ?? "");
}
