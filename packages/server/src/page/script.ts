/**
 * The local page's script (plain browser JS, inlined; no bundler, no external assets).
 * Kept free of template literals so it can live in a TypeScript string.
 */
import { MAX_EXCLUDE } from '@lookalike/core';

export const PAGE_JS = `
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var drop = $('drop'), input = $('file'), grid = $('grid'), errorBox = $('error');
  var notices = $('notices'), banner = $('untrained-banner'), statusEl = $('status');
  var gender = $('gender'), articleType = $('articleType'), collage = $('collage'), collageImg = $('collage-img');
  var preview = $('preview'), previewImg = $('preview-img'), previewName = $('preview-name');
  var head = $('results-head'), headInfo = $('results-info'), headTitle = $('results-title');
  var lastFile = null, busy = false, pending = null, previewUrl = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function pct(s) {
    var p = Math.max(0, Math.min(1, s)) * 100;
    return p >= 99 && p < 100 ? (Math.floor(p * 10) / 10).toFixed(1) : String(Math.round(p));
  }
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }
  function fmtEta(s) {
    if (s === null || s === undefined || !isFinite(s)) return '?';
    s = Math.round(s); var m = Math.floor(s / 60), r = s % 60;
    return m + ':' + (r < 10 ? '0' : '') + r;
  }

  function renderStatus(s) {
    statusEl.textContent = '';
    var parts = [];
    var size = el('b', '', s.catalogSize.toLocaleString() + ' items');
    statusEl.appendChild(size);
    parts.push(' in the catalog · ' + s.weights.description);
    if (s.reindexing && s.reindexProgress) {
      var p = s.reindexProgress, ratio = p.total > 0 ? p.done / p.total : 0;
      parts.push(' · reindexing: ' + p.phase + ' ' + Math.floor(ratio * 100) + '% (ETA ' + fmtEta(p.etaSeconds) + ')');
    } else if (s.reindexing) {
      parts.push(' · reindexing…');
    }
    statusEl.appendChild(document.createTextNode(parts.join('')));
    banner.hidden = !s.weights.untrained;
    return s.reindexing;
  }

  function pollStatus() {
    fetch('/api/status').then(function (r) { return r.json(); }).then(function (s) {
      var again = renderStatus(s);
      setTimeout(pollStatus, again ? 1000 : 5000);
    }).catch(function () { setTimeout(pollStatus, 5000); });
  }

  function fillSelect(select, values) {
    values.forEach(function (v) { var o = el('option', '', v); o.value = v; select.appendChild(o); });
  }
  function loadFacets() {
    fetch('/api/facets').then(function (r) { return r.json(); }).then(function (f) {
      fillSelect(gender, f.genders || []);
      fillSelect(articleType, f.articleTypes || []);
    }).catch(function () {});
  }

  /** Only http(s) links become clickable (the server already drops other schemes). */
  function safeHref(u) { return typeof u === 'string' && /^https?:\\/\\//i.test(u) ? u : null; }

  /**
   * The chain a "More like this" press continues: what this answer excluded, then its results;
   * the newest ${MAX_EXCLUDE} ids (the server's limit), so a long chain never turns into an error.
   */
  function chainOf(a) {
    var seen = {}, out = [];
    (a.excluded || []).concat(a.results.map(function (r) { return r.id; })).forEach(function (id) {
      if (!seen[id]) { seen[id] = true; out.push(id); }
    });
    return out.slice(-${MAX_EXCLUDE});
  }

  function renderResults(a) {
    grid.textContent = '';
    notices.textContent = '';
    (a.notices || []).forEach(function (n) {
      if (n.code === 'UNTRAINED') return; // the banner already says it
      var b = el('div', 'banner ' + (n.level === 'warn' ? 'warn' : 'info'), n.text);
      b.setAttribute('data-testid', 'notice');
      b.setAttribute('data-code', n.code);
      notices.appendChild(b);
    });
    head.hidden = false;
    var source = a.sourceItemId ? a.moreOf || 'this item' : null;
    headTitle.textContent = source ? 'More like ' + source : 'Closest matches';
    headInfo.textContent = a.results.length + ' result' + (a.results.length === 1 ? '' : 's') + ' · request ' + a.requestId;
    if (a.results.length === 0) {
      grid.appendChild(el('div', 'empty', 'Nothing in the catalog matches these filters.'));
    }
    a.results.forEach(function (r) {
      var card = el('article', 'card');
      card.setAttribute('data-testid', 'result-card');
      card.setAttribute('data-item-id', r.id);
      var box = el('div', 'img');
      var img = el('img');
      img.src = r.imageUrl; img.alt = r.name; img.loading = 'lazy';
      box.appendChild(img);
      card.appendChild(box);
      card.appendChild(el('div', 'rank', String(r.rank)));
      var body = el('div', 'body');
      var name = el('div', 'name');
      var href = safeHref(r.link);
      if (href) {
        var link = el('a', '', r.name);
        link.href = href; link.target = '_blank'; link.rel = 'noopener noreferrer';
        link.setAttribute('data-testid', 'result-link');
        name.appendChild(link);
      } else {
        name.textContent = r.name;
      }
      name.title = r.name;
      body.appendChild(name);
      if (r.price) {
        var price = el('div', 'price', r.price);
        price.setAttribute('data-testid', 'result-price');
        body.appendChild(price);
      }
      body.appendChild(el('div', 'sub', r.subtitle || '—'));
      var sim = el('div', 'sim');
      var bar = el('div', 'bar'); var fill = el('i'); fill.style.width = Math.round(Math.max(0, Math.min(1, r.similarity)) * 100) + '%'; bar.appendChild(fill);
      sim.appendChild(bar);
      sim.appendChild(el('span', '', pct(r.similarity) + '% similar'));
      body.appendChild(sim);
      var more = el('button', 'more', 'More like this');
      more.type = 'button';
      more.setAttribute('data-testid', 'more-like-this');
      more.addEventListener('click', function () { moreLike(a, r); });
      body.appendChild(more);
      card.appendChild(body);
      grid.appendChild(card);
    });
    collageImg.src = a.collage;
    collage.hidden = false;
  }

  function showFailure(res) {
    grid.textContent = '';
    head.hidden = true;
    collage.hidden = true;
    showError((res.body && res.body.error && res.body.error.message) || 'Something went wrong. Please try again.');
  }

  function waiting(text) {
    grid.textContent = '';
    var wait = el('div', 'empty'); wait.appendChild(el('span', 'spinner')); wait.appendChild(document.createTextNode('  ' + text));
    grid.appendChild(wait);
  }

  /** "More like this" on a result: the item's stored vector searched again, the chain left out. */
  function moreLike(a, r) {
    if (busy) return;
    busy = true;
    document.body.setAttribute('data-busy', 'true');
    showError('');
    waiting('Looking for more like ' + r.name + '…');
    var body = JSON.stringify({ itemId: r.id, filters: a.filters || {}, exclude: chainOf(a) });
    fetch('/api/more', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body }).then(function (res) {
      return res.json().then(function (b) { return { ok: res.ok, body: b }; });
    }).then(function (res) {
      if (!res.ok) { showFailure(res); return; }
      res.body.moreOf = r.name;
      renderResults(res.body);
    }).catch(function () {
      grid.textContent = '';
      showError('The server did not answer. Is lookalike still running?');
    }).then(function () {
      busy = false;
      document.body.removeAttribute('data-busy');
      if (pending) { var next = pending; pending = null; search(next); }
    });
  }

  function search(file) {
    if (!file) return;
    lastFile = file;
    if (busy) { pending = file; return; }
    busy = true;
    document.body.setAttribute('data-busy', 'true');
    showError('');
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    previewImg.hidden = false;
    previewImg.onerror = function () { previewImg.hidden = true; };
    previewImg.src = previewUrl;
    previewName.textContent = file.name || 'pasted image';
    preview.hidden = false;
    waiting('Looking for lookalikes…');
    var form = new FormData();
    form.append('k', '6');
    if (gender.value) form.append('gender', gender.value);
    if (articleType.value) form.append('articleType', articleType.value);
    form.append('image', file, file.name || 'pasted.png');
    fetch('/api/similar', { method: 'POST', body: form }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) { showFailure(res); return; }
      renderResults(res.body);
    }).catch(function () {
      grid.textContent = '';
      showError('The server did not answer. Is lookalike still running?');
    }).then(function () {
      busy = false;
      document.body.removeAttribute('data-busy');
      if (pending) { var next = pending; pending = null; search(next); }
    });
  }

  drop.addEventListener('click', function () { input.click(); });
  drop.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
  input.addEventListener('change', function () { if (input.files && input.files[0]) search(input.files[0]); input.value = ''; });
  ['dragenter', 'dragover'].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove('over'); });
  });
  drop.addEventListener('drop', function (e) {
    var f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) search(f);
  });
  document.addEventListener('paste', function (e) {
    var items = (e.clipboardData && e.clipboardData.items) || [];
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind === 'file') { var f = items[i].getAsFile(); if (f) { search(f); e.preventDefault(); return; } }
    }
  });
  [gender, articleType].forEach(function (s) { s.addEventListener('change', function () { if (lastFile) search(lastFile); }); });

  loadFacets();
  pollStatus();
})();
`;
