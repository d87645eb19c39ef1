/**
 * Headers on every response of the web page (the page, its scripts, its status stream): scripts,
 * styles, images and connections from the daemon's own origin only (no CDN, no inline script), never
 * framed (clickjacking), never sniffed as another type, no referrer (the page's address names the board).
 */
export const pageSecurityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};
