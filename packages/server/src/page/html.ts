/**
 * The local page: one self-contained HTML document (CSS and JS inlined, no CDN).
 */
import { formatBytes, type ImageLimits } from '@lookalike/core';
import { PAGE_JS } from './script.js';
import { PAGE_CSS } from './style.js';

/** The Content-Security-Policy the page is served with. */
export const PAGE_CSP =
  "default-src 'none'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface PageOptions {
  /** The configured image limits, quoted under the drop zone. */
  limits: ImageLimits;
}

/** The page's HTML. */
export function renderPage(options: PageOptions): string {
  const upTo = formatBytes(options.limits.maxBytes);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lookalike · find similar fashion items</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header class="top">
  <div class="brand"><span class="logo" aria-hidden="true">◎</span>Lookalike <small>visual fashion search</small></div>
  <div id="status" role="status" aria-live="polite">Loading status…</div>
</header>
<main>
  <div id="untrained-banner" class="banner warn" data-testid="untrained-banner" role="alert" hidden>
    ⚠ Untrained model: results are not meaningful. Run <code>npx lookalike models fetch</code> to get the real ImageNet weights, then reindex.
  </div>
  <div class="layout">
    <section class="panel" aria-label="Your photo">
      <div id="drop" tabindex="0" role="button" aria-label="Choose, drop or paste a photo">
        <div class="big" aria-hidden="true"><svg width="40" height="40" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"><path d="M4 8h3l2-3h6l2 3h3a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1z"/><circle cx="12" cy="13" r="3.5"/></svg></div>
        <strong>Drop a photo here</strong>
        <p>or paste it with Ctrl+V</p>
        <span class="btn">Choose a photo</span>
        <p>JPEG, PNG, WebP, GIF, AVIF, HEIC or TIFF · up to ${upTo}</p>
      </div>
      <input id="file" data-testid="file-input" type="file" accept="image/*,.heic,.heif" hidden>
      <div id="preview" hidden><img id="preview-img" alt="Your photo"><span id="preview-name"></span></div>
      <div class="filters">
        <label>Gender<select id="gender" data-testid="filter-gender"><option value="">Any</option></select></label>
        <label>Article type<select id="articleType" data-testid="filter-articleType"><option value="">Any</option></select></label>
      </div>
    </section>
    <section aria-label="Results">
      <div id="error" class="banner error" data-testid="error" role="alert" hidden></div>
      <div id="notices"></div>
      <div id="results-head" class="results-head" hidden><h2 id="results-title">Closest matches</h2><span id="results-info"></span></div>
      <div id="grid"><div class="empty">Your 6 closest catalog items will appear here.</div></div>
      <details id="collage" class="collage" data-testid="collage" hidden open>
        <summary>Collage (what the chat bots post)</summary>
        <img id="collage-img" alt="Collage of the results">
      </details>
    </section>
  </div>
  <footer>Runs entirely on this machine. Photos are not stored.</footer>
</main>
<script>${PAGE_JS}</script>
</body>
</html>`;
}
