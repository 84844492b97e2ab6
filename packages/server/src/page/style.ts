/** The local page's stylesheet (inlined; no external assets). */
export const PAGE_CSS = `
:root {
  --bg: #f4f5f8; --card: #fff; --ink: #111827; --muted: #6b7280; --line: #e2e5eb;
  --accent: #4f46e5; --accent-soft: #eef2ff; --warn-bg: #fef3c7; --warn-line: #f59e0b; --warn-ink: #92400e;
  --err-bg: #fef2f2; --err-line: #fca5a5; --err-ink: #991b1b; --info-bg: #e0f2fe; --info-ink: #075985;
  --radius: 14px; --shadow: 0 1px 2px rgba(16,24,40,.06), 0 4px 12px rgba(16,24,40,.06);
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body { background: var(--bg); color: var(--ink); font: 15px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header.top { display: flex; align-items: center; justify-content: space-between; gap: 16px; padding: 14px 28px; background: var(--card); border-bottom: 1px solid var(--line); flex-wrap: wrap; }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 700; font-size: 20px; letter-spacing: -.01em; }
.brand .logo { width: 30px; height: 30px; border-radius: 9px; background: linear-gradient(135deg, #6366f1, #ec4899); display: grid; place-items: center; color: #fff; font-size: 16px; }
.brand small { font-weight: 400; color: var(--muted); font-size: 13px; }
#status { color: var(--muted); font-size: 13px; text-align: right; }
#status b { color: var(--ink); font-weight: 600; }
main { max-width: 1120px; margin: 0 auto; padding: 22px 24px 60px; }
.banner { border-radius: var(--radius); padding: 12px 16px; margin-bottom: 16px; font-weight: 600; }
.banner code { background: rgba(255,255,255,.6); border-radius: 6px; padding: 1px 6px; font-size: 13px; }
.banner.warn { background: var(--warn-bg); border: 1.5px solid var(--warn-line); color: var(--warn-ink); }
.banner.info { background: var(--info-bg); border: 1px solid #7dd3fc; color: var(--info-ink); font-weight: 500; }
.banner.error { background: var(--err-bg); border: 1px solid var(--err-line); color: var(--err-ink); }
[hidden] { display: none !important; }
.layout { display: grid; grid-template-columns: 320px 1fr; gap: 22px; align-items: start; }
@media (max-width: 860px) { .layout { grid-template-columns: 1fr; } }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); box-shadow: var(--shadow); padding: 16px; }
#drop { border: 2px dashed #c7cbe0; border-radius: 12px; padding: 22px 14px; text-align: center; cursor: pointer; transition: border-color .15s, background .15s; background: #fafbff; }
#drop.over { border-color: var(--accent); background: var(--accent-soft); }
#drop .big { line-height: 0; margin-bottom: 8px; color: var(--accent); }
#drop p { margin: 6px 0; color: var(--muted); font-size: 13px; }
#drop strong { color: var(--ink); font-size: 15px; }
.btn { display: inline-block; background: var(--accent); color: #fff; border: 0; border-radius: 9px; padding: 8px 14px; font: inherit; font-weight: 600; cursor: pointer; }
.btn:focus-visible, select:focus-visible { outline: 3px solid #a5b4fc; outline-offset: 2px; }
#preview { margin-top: 14px; display: flex; gap: 12px; align-items: center; }
#preview img { width: 76px; height: 76px; object-fit: contain; border-radius: 10px; border: 1px solid var(--line); background: #fff; }
#preview span { color: var(--muted); font-size: 13px; word-break: break-all; }
.filters { margin-top: 16px; display: grid; gap: 10px; }
.filters label { display: grid; gap: 4px; font-size: 13px; color: var(--muted); font-weight: 600; }
select { font: inherit; padding: 7px 10px; border-radius: 9px; border: 1px solid var(--line); background: #fff; color: var(--ink); }
.results-head { display: flex; justify-content: space-between; align-items: baseline; margin: 0 0 12px; }
.results-head h2 { margin: 0; font-size: 19px; }
.results-head span { color: var(--muted); font-size: 13px; }
#grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 14px; }
@media (max-width: 640px) { #grid { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); overflow: hidden; box-shadow: var(--shadow); position: relative; }
.card .img { aspect-ratio: 1 / 1; background: #fff; display: grid; place-items: center; border-bottom: 1px solid var(--line); }
.card img { width: 100%; height: 100%; object-fit: contain; }
.card .rank { position: absolute; top: 10px; left: 10px; width: 30px; height: 30px; border-radius: 50%; background: rgba(17,24,39,.88); color: #fff; display: grid; place-items: center; font-weight: 700; font-size: 14px; }
.card .body { padding: 10px 12px 12px; }
.card .name { font-weight: 700; font-size: 14px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.card .name a { color: inherit; text-decoration: none; }
.card .name a:hover, .card .name a:focus-visible { color: var(--accent); text-decoration: underline; }
.card .price { font-weight: 700; font-size: 13.5px; margin-top: 2px; }
.card .more { margin-top: 10px; width: 100%; background: var(--accent-soft); color: var(--accent); border: 1px solid #c7d2fe; border-radius: 9px; padding: 6px 10px; font: inherit; font-size: 13px; font-weight: 600; cursor: pointer; }
.card .more:hover { background: #e0e7ff; }
.card .more:focus-visible { outline: 3px solid #a5b4fc; outline-offset: 2px; }
.card .sub { color: var(--muted); font-size: 12.5px; margin-top: 2px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.card .sim { display: flex; align-items: center; gap: 8px; margin-top: 8px; font-weight: 700; color: var(--accent); font-size: 13px; }
.card .bar { flex: 1; height: 7px; background: #e5e7eb; border-radius: 4px; overflow: hidden; }
.card .bar i { display: block; height: 100%; background: var(--accent); border-radius: 4px; }
.empty { color: var(--muted); text-align: center; padding: 56px 12px; border: 1px dashed var(--line); border-radius: var(--radius); background: var(--card); }
details.collage { margin-top: 18px; }
details.collage summary { cursor: pointer; font-weight: 600; color: var(--muted); margin-bottom: 10px; }
details.collage img { max-width: 100%; border-radius: 12px; border: 1px solid var(--line); box-shadow: var(--shadow); }
.spinner { width: 18px; height: 18px; border: 3px solid #c7d2fe; border-top-color: var(--accent); border-radius: 50%; animation: spin .8s linear infinite; display: inline-block; vertical-align: middle; }
@keyframes spin { to { transform: rotate(360deg); } }
footer { text-align: center; color: var(--muted); font-size: 12px; margin-top: 28px; }
`;
