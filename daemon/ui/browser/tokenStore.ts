/**
 * The node's token (http.token), asked once and kept in this tab's sessionStorage: gone when the tab
 * closes, never in localStorage, the URL or a cookie. Sent as `Authorization: Bearer` (fetch) or as
 * the WebSocket subprotocol `tinyllamad.bearer.<base64url>` (a browser cannot set WebSocket headers).
 */
const storageKey = "tinyllamad.token";
let asking: Promise<string> | undefined;

export function storedToken(): string | null {
  return sessionStorage.getItem(storageKey);
}

export function forgetToken(): void {
  sessionStorage.removeItem(storageKey);
}

/** Opens the token dialog (once, however many parts ask at the same time) and stores the answer. */
export function askForToken(): Promise<string> {
  asking ??= new Promise<string>((resolve) => {
    const dialog = document.getElementById("token-dialog") as HTMLDialogElement;
    const form = document.getElementById("token-form") as HTMLFormElement;
    const input = document.getElementById("token-input") as HTMLInputElement;
    input.value = "";
    form.addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        const token = input.value.trim();
        input.value = "";
        sessionStorage.setItem(storageKey, token);
        dialog.close();
        asking = undefined;
        resolve(token);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
  return asking;
}

export function authorizationHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Subprotocols for `new WebSocket(url, protocols)`: the server picks "tinyllamad" and never echoes the token. */
export function webSocketProtocols(): string[] {
  const token = storedToken();
  return token ? ["tinyllamad", `tinyllamad.bearer.${base64url(token)}`] : ["tinyllamad"];
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
