/* Portal Cek Bansos: optional enhancement of the region cascade, the desa search and the complaint form.
   The forms work fully without this file. No dependencies, no innerHTML, no storage.
   Every message comes from the page (data-* attributes, translated by the server), none is written here. */
// The text of data-<key> on `el`, with each {name} replaced by values[name].
const portalMessage = (el, key, values = {}) => String((el && el.dataset[key]) || '')
  .replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));

/* Error summary: focused on load (for browsers that ignore autofocus on it); a link moves focus
   to its field and shows the field's label above it, as the fragment alone would hide the label. */
(() => {
  'use strict';
  const summary = document.getElementById('ringkasan-kesalahan');
  if (!summary) return;
  if (document.activeElement !== summary) summary.focus();
  summary.addEventListener('click', (e) => {
    const link = e.target.closest('a[href^="#"]');
    const target = link && document.getElementById(link.getAttribute('href').slice(1));
    if (!target) return;
    e.preventDefault();
    const label = document.querySelector('label[for="' + target.id + '"]') || target;
    label.scrollIntoView();
    target.focus({ preventScroll: true });
  });
})();

(() => {
  'use strict';
  const doc = document;
  doc.documentElement.classList.add('js');
  const $ = (id) => doc.getElementById(id);
  const form = ($('provinsi') || {}).form; // the lookup or the complaint form
  if (!form) return;

  // provinsi -> kabupaten -> kecamatan -> desa, following data-child.
  const chain = [];
  for (let s = $('provinsi'); s && s.tagName === 'SELECT' && chain.length < 4;
    s = s.dataset.child ? $(s.dataset.child) : null) chain.push(s);
  if (chain.length < 2) return;

  const status = $('wilayah-status');
  const say = (el, msg) => { if (el) el.textContent = msg; };
  const FAIL = portalMessage(status, 'failed');
  const newCtrl = () => (window.AbortController ? new AbortController() : { abort() {} });

  // The JSON of a region answer ({wilayah: [...], ...}); throws on anything else.
  const getJson = async (url, ctrl) => {
    const t = setTimeout(() => ctrl.abort(), 20000);
    try {
      const r = await fetch(url, { headers: { Accept: 'application/json' }, signal: ctrl.signal });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const data = await r.json();
      if (!data || !Array.isArray(data.wilayah)) throw new Error('bad response');
      return data;
    } finally {
      clearTimeout(t);
    }
  };
  const getList = async (url, ctrl) => (await getJson(url, ctrl)).wilayah;

  // Keep only the placeholder.
  const clear = (sel) => { sel.length = 1; sel.value = ''; sel.disabled = true; };
  // Show the no-JS "Lanjut" buttons again when the API cannot be reached.
  const fallback = () => form.querySelectorAll('.js-hide').forEach((b) => {
    if (b.type === 'submit') b.classList.add('js-show');
  });

  let seq = 0;
  let loadCtrl = null;
  // Clear every select after chain[i]; if chain[i] has a value, fill chain[i + 1].
  // Resolves true only if the child was filled and no newer load started meanwhile.
  const load = async (i, focus) => {
    const my = ++seq;
    if (loadCtrl) loadCtrl.abort();
    for (let j = i + 1; j < chain.length; j++) clear(chain[j]);
    const sel = chain[i];
    const child = chain[i + 1];
    if (!child || !sel.value) { say(status, ''); return false; }
    const ctrl = loadCtrl = newCtrl();
    say(status, portalMessage(status, 'loading'));
    let list;
    try {
      list = await getList('/api/wilayah/' + encodeURIComponent(sel.value), ctrl);
    } catch (e) {
      if (my === seq) { say(status, FAIL); fallback(); }
      return false;
    }
    if (my !== seq) return false;
    for (const w of list) child.add(new Option(String(w.nama), String(w.kode)));
    child.disabled = false;
    say(status, '');
    if (focus) child.focus();
    return true;
  };

  chain.slice(0, -1).forEach((sel, i) => sel.addEventListener('change', () => load(i, true)));

  // A browser may restore a parent's value on reload without its children: refill them.
  for (let i = 0; i < chain.length - 1; i++) {
    if (chain[i].value && chain[i + 1].length <= 1) { load(i, false); break; }
  }

  // Desa search.
  const input = $('desa-cari');
  const sform = $('desa-cari-form');
  const out = $('desa-cari-hasil');
  if (!input || !sform || !out) return;
  const sstatus = $('desa-cari-status') || status;

  // Select a search result in every level of the cascade, fetching what is missing.
  const pick = async (w) => {
    const parts = String(w.kode).split('.');
    const want = (i) => parts.slice(0, i + 1).join('.');
    out.textContent = '';
    for (let i = 0; i < chain.length; i++) {
      const sel = chain[i];
      const next = chain[i + 1];
      const same = sel.value === want(i);
      sel.value = want(i);
      if (sel.value !== want(i)) { say(status, FAIL); return; }
      sel.disabled = false;
      if (!next) break;
      const ready = same && !next.disabled && [...next.options].some((o) => o.value === want(i + 1));
      if (!ready && !(await load(i, false))) return;
    }
    say(status, portalMessage(status, 'picked', { desa: w.nama, induk: w.induk }));
    const next = $(sform.dataset.focusAfter || 'nama');
    if (next) next.focus();
  };

  let timer = 0;
  let sseq = 0;
  let sctrl = null;
  const search = async (explicit) => {
    clearTimeout(timer);
    const q = input.value.trim();
    const my = ++sseq;
    if (sctrl) sctrl.abort();
    if (q.replace(/[^0-9A-Za-z\u00C0-\u024F]/g, '').length < 3) {
      out.textContent = '';
      say(sstatus, q || explicit ? portalMessage(sstatus, 'tooShort') : '');
      return;
    }
    const ctrl = sctrl = newCtrl();
    let data;
    try {
      data = await getJson('/api/wilayah/cari?q=' + encodeURIComponent(q), ctrl);
    } catch (e) {
      if (my === sseq) say(sstatus, portalMessage(sstatus, 'failed'));
      return;
    }
    if (my !== sseq) return;
    const list = data.wilayah;
    out.textContent = '';
    for (const w of list) {
      const li = doc.createElement('li');
      const b = doc.createElement('button');
      const small = doc.createElement('small');
      b.type = 'button';
      b.textContent = String(w.nama) + ' ';
      small.textContent = String(w.induk || '');
      b.appendChild(small);
      b.addEventListener('click', () => pick(w));
      li.appendChild(b);
      out.appendChild(li);
    }
    const more = Number(data.lainnya) || 0;
    if (data.terlalu_pendek) say(sstatus, portalMessage(sstatus, 'tooShort'));
    else if (!list.length) say(sstatus, portalMessage(sstatus, 'none'));
    else say(sstatus, portalMessage(sstatus, more ? 'more' : 'found', { n: list.length, more }));
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 300, false);
  });
  sform.addEventListener('submit', (e) => { e.preventDefault(); search(true); });
})();

/* Complaint form and receipt: one submit per tap, phone location on request, copy and print. */
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const say = (el, msg) => { if (el) el.textContent = msg; };

  // A double tap must not send the form twice (the server also deduplicates by token).
  document.querySelectorAll('form[method=post]').forEach((f) => f.addEventListener('submit', (e) => {
    if (e.submitter && e.submitter.hasAttribute('formaction')) return; // a step, not a send
    if (f.dataset.sent) { e.preventDefault(); return; }
    f.dataset.sent = '1';
    setTimeout(() => { delete f.dataset.sent; }, 15000);
  }));

  // Fields that belong to one jenis of complaint follow the choice (CSS :has() does the same
  // where it exists; this is for browsers without it).
  const kinds = document.querySelectorAll('input[name=jenis]');
  document.querySelectorAll('[data-jenis]').forEach((block) => {
    const sync = () => {
      const chosen = document.querySelector('input[name=jenis]:checked');
      block.hidden = !chosen || chosen.value !== block.dataset.jenis;
    };
    kinds.forEach((k) => k.addEventListener('change', sync));
    sync();
  });

  // Photos too large would be refused with the whole request (413) and the typed form lost:
  // say so before sending.
  const photos = $('foto');
  if (photos) {
    photos.addEventListener('change', () => {
      const files = Array.from(photos.files || []);
      const total = files.reduce((sum, f) => sum + f.size, 0);
      const big = files.some((f) => f.size > Number(photos.dataset.maxBytes));
      const most = Number(photos.dataset.maxFiles);
      photos.setCustomValidity(big || total > Number(photos.dataset.maxTotal) || files.length > most
        ? portalMessage(photos, 'tooBig') : '');
      photos.reportValidity();
    });
    photos.form.addEventListener('submit', (e) => {
      if (!photos.checkValidity()) { e.preventDefault(); photos.reportValidity(); }
    });
  }

  const gps = $('lokasi-tombol');
  if (gps && navigator.geolocation) {
    gps.addEventListener('click', () => {
      say($('lokasi-status'), portalMessage(gps, 'searching'));
      navigator.geolocation.getCurrentPosition((pos) => {
        $('lintang').value = pos.coords.latitude.toFixed(6);
        $('bujur').value = pos.coords.longitude.toFixed(6);
        say($('lokasi-status'), portalMessage(gps, 'added'));
      }, () => say($('lokasi-status'), portalMessage(gps, 'failed')),
      { enableHighAccuracy: true, timeout: 20000 });
    });
  }

  const copy = $('salin-kode');
  if (copy) {
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(copy.dataset.code);
        say($('salin-status'), portalMessage(copy, 'copied'));
      } catch (err) {
        // No clipboard (an http page, an old browser): select the code so a long press copies it.
        const code = $('kode-aduan');
        if (code && window.getSelection) {
          const range = document.createRange();
          range.selectNodeContents(code);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
        }
        say($('salin-status'), portalMessage(copy, 'failed'));
      }
    });
  }
  const print = $('cetak');
  if (print) print.addEventListener('click', () => window.print());
})();
