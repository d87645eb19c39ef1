/** The configuration could not be loaded: a bad value, an unknown key or option, or an unreadable file. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "E_CONFIG";
  /** One line per problem, without the "Invalid config: " prefix the message adds. */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === "string" ? [problems] : problems;
    super(list.map((problem) => `Invalid config: ${problem}`).join("\n"));
    this.problems = list;
  }
}
