/** The web page's style sheet: one column on phones, a grid from tablet width; light and dark. */
export const pageStyles = `:root {
  color-scheme: light dark;
  --bg: #f7f7f5; --fg: #1d1d1b; --muted: #5f5f5a; --card: #ffffff; --line: #d8d8d2;
  --accent: #0b6bcb; --good: #1a7f37; --warn: #b35900; --bad: #c4302b;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #141413; --fg: #ececea; --muted: #a3a39d; --card: #1f1f1d; --line: #3a3a36; --accent: #5aa9ff; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.4; }
header, main { max-width: 72rem; margin: 0 auto; padding: 0 1rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: .5rem; }
h1 { font-size: 1.4rem; margin: .8rem 0 .2rem; }
h2 { font-size: 1.1rem; margin: 0 0 .6rem; }
.muted { color: var(--muted); font-weight: normal; }
section { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: 1rem; margin: 0 0 1rem; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: .5rem; background: var(--card); padding: .3rem .6rem; z-index: 1; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .6rem 1rem; margin: 0; }
.figures div { min-width: 0; }
dt { font-size: .8rem; color: var(--muted); }
dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
dd.good { color: var(--good); } dd.warn { color: var(--warn); } dd.bad { color: var(--bad); }
progress { width: 100%; margin-top: .6rem; }
details { margin-top: .8rem; }
summary { cursor: pointer; }
#plan-reasons { font-size: .85rem; padding-left: 1.2rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: 1rem; }
figure { margin: 0; }
figcaption { font-size: .85rem; color: var(--muted); }
svg { width: 100%; height: 6rem; background: var(--bg); border: 1px solid var(--line); border-radius: .3rem; }
svg polyline { fill: none; stroke: var(--accent); stroke-width: 2; vector-effect: non-scaling-stroke; }
svg circle { fill: var(--accent); }
.chart-range { font-size: .75rem; color: var(--muted); margin: .2rem 0 0; }
.transcript { max-height: 24rem; overflow-y: auto; display: flex; flex-direction: column; gap: .5rem; margin-bottom: .8rem; }
.transcript:empty { display: none; }
.turn { padding: .5rem .7rem; border-radius: .4rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.turn.user { background: var(--bg); align-self: flex-end; max-width: 90%; }
.turn.assistant { border: 1px solid var(--line); max-width: 100%; }
.turn.failed { border-color: var(--bad); }
.turn .meta { display: block; font-size: .75rem; color: var(--muted); margin-top: .3rem; }
label { display: block; font-size: .85rem; margin: .5rem 0 .2rem; }
label.check { display: flex; gap: .4rem; align-items: center; }
textarea, input[type=number], input[type=password] {
  width: 100%; font: inherit; padding: .45rem; border: 1px solid var(--line); border-radius: .3rem;
  background: var(--bg); color: var(--fg);
}
.row { display: grid; grid-template-columns: 1fr 1fr; gap: .8rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .6rem; }
button { font: inherit; padding: .5rem 1rem; min-height: 2.75rem; border-radius: .3rem; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; }
button[type=submit] { background: var(--accent); border-color: var(--accent); color: #fff; }
button:disabled { opacity: .5; cursor: default; }
dialog { border: 1px solid var(--line); border-radius: .5rem; background: var(--card); color: var(--fg); max-width: min(28rem, 92vw); }
@media (max-width: 30rem) {
  header, main { padding: 0 .5rem; }
  section { padding: .75rem; }
  .row { grid-template-columns: 1fr; }
  .figures { grid-template-columns: 1fr 1fr; }
}
`;
