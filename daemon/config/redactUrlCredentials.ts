/**
 * A URL as it may be shown (config --print, logs, status): user name and password replaced, so a
 * broker or mirror URL written as mqtt://user:secret@host never prints its secret. Text that is not
 * a URL with credentials is returned unchanged.
 */
export function redactUrlCredentials(text: string): string {
  if (!text.includes("@") || !URL.canParse(text)) return text;
  const url = new URL(text);
  if (url.username === "" && url.password === "") return text;
  // The user name can be a secret too (a token used as the user name), so both go.
  url.username = "redacted";
  if (url.password !== "") url.password = "redacted";
  return url.toString();
}
