/**
 * The web page's HTML: no inline script or style (the Content-Security-Policy allows only files of
 * the daemon's own origin). Landmarks, labels and a visible focus order follow the reading order:
 * status, charts, playground. The scripts fill it in (browser/main.ts).
 */
export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>tinyllamad</title>
<link rel="stylesheet" href="/ui/page.css">
<script type="module" src="/ui/main.js"></script>
</head>
<body>
<a class="skip" href="#playground">Skip to the playground</a>
<header>
  <h1>tinyllamad <span id="node-title" class="muted"></span></h1>
  <p id="connection" role="status" class="muted">connecting…</p>
</header>
<main>
<section id="status" aria-labelledby="status-heading">
  <h2 id="status-heading">Status</h2>
  <dl id="status-list" class="figures">
    <div><dt>Node</dt><dd data-field="node_id">–</dd></div>
    <div><dt>State</dt><dd data-field="state">–</dd></div>
    <div><dt>Model</dt><dd data-field="model">–</dd></div>
    <div><dt>Quantization</dt><dd data-field="quantization">–</dd></div>
    <div><dt>Backend</dt><dd data-field="backend">–</dd></div>
    <div><dt>Threads / cores</dt><dd data-field="threads">–</dd></div>
    <div><dt>Tokens/s</dt><dd data-field="tokens_per_s">–</dd></div>
    <div><dt>Queue</dt><dd data-field="queue">–</dd></div>
    <div><dt>Temperature</dt><dd data-field="temperature">–</dd></div>
    <div><dt>Uptime</dt><dd data-field="uptime">–</dd></div>
    <div><dt>MQTT</dt><dd data-field="mqtt">–</dd></div>
    <div><dt>Fleet</dt><dd data-field="fleet">–</dd></div>
    <div><dt>Version</dt><dd data-field="version">–</dd></div>
  </dl>
  <progress id="model-progress" max="1" value="0" hidden aria-label="model progress"></progress>
  <details id="plan">
    <summary>Why this backend (the HAL plan)</summary>
    <ul id="plan-reasons"></ul>
  </details>
</section>
<section id="charts" aria-labelledby="charts-heading">
  <h2 id="charts-heading">Last 15 minutes</h2>
  <div class="charts">
    <figure><figcaption>Tokens/s</figcaption><svg id="chart-tokens" role="img" aria-label="tokens per second, last 15 minutes" viewBox="0 0 300 100" preserveAspectRatio="none"></svg><p class="chart-range" id="chart-tokens-range"></p></figure>
    <figure><figcaption>Queue depth</figcaption><svg id="chart-queue" role="img" aria-label="queued requests, last 15 minutes" viewBox="0 0 300 100" preserveAspectRatio="none"></svg><p class="chart-range" id="chart-queue-range"></p></figure>
    <figure><figcaption>Temperature °C</figcaption><svg id="chart-temperature" role="img" aria-label="temperature, last 15 minutes" viewBox="0 0 300 100" preserveAspectRatio="none"></svg><p class="chart-range" id="chart-temperature-range"></p></figure>
  </div>
</section>
<section id="playground" aria-labelledby="playground-heading">
  <h2 id="playground-heading">Playground</h2>
  <div id="transcript" class="transcript" aria-live="polite" aria-label="conversation"></div>
  <form id="chat-form" novalidate>
    <label for="message">Message</label>
    <textarea id="message" rows="3" required placeholder="Ask the model… (Ctrl+Enter sends)"></textarea>
    <div class="actions">
      <button type="submit" id="send">Send</button>
      <button type="button" id="cancel" disabled>Cancel</button>
      <button type="button" id="clear">Clear chat</button>
    </div>
    <p id="answer-stats" class="muted" role="status"></p>
    <details id="settings" open>
      <summary>Settings</summary>
      <label for="system-prompt">System prompt</label>
      <textarea id="system-prompt" rows="2"></textarea>
      <div class="row">
        <div><label for="temperature">Temperature</label><input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7"></div>
        <div><label for="max-tokens">Max tokens</label><input id="max-tokens" type="number" min="1" step="1" value="128"></div>
      </div>
      <label for="stop">Stop strings (one per line)</label>
      <textarea id="stop" rows="2"></textarea>
      <label class="check"><input id="json-mode" type="checkbox"> JSON-schema mode</label>
      <label for="json-schema">JSON schema</label>
      <textarea id="json-schema" rows="4" disabled>{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}</textarea>
    </details>
  </form>
</section>
</main>
<dialog id="token-dialog" aria-labelledby="token-heading">
  <form id="token-form" method="dialog">
    <h2 id="token-heading">Token</h2>
    <p>This node needs its token (http.token). It is kept in this tab only (sessionStorage) and sent as a header or WebSocket subprotocol, never in the address.</p>
    <label for="token-input">Token</label>
    <input id="token-input" type="password" autocomplete="off" required>
    <div class="actions"><button type="submit" id="token-save">Use token</button></div>
  </form>
</dialog>
</body>
</html>
`;
