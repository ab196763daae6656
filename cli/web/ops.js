// The operator console's control panels (after app.js, whose `$` and `api` it uses): the medication batches, the
// disasters, the facilities and their certificates, forced outcomes and faults, snapshots and the usage statistics
// as charts, in views (tabs) read when shown. Batches and rules refresh every few seconds while shown, so a batch
// finishing shows without reloading.
'use strict';

const cell = (tr, text) => { const td = document.createElement('td'); td.textContent = text === null || text === undefined ? '' : String(text); tr.append(td); return td; };
const button = (label, aria, onclick) => {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-label', aria);
  b.addEventListener('click', onclick);
  return b;
};
const problem = (r) => (r.json && r.json.error ? `${r.json.error.code}: ${r.json.error.message}${r.json.error.details ? ' — ' + r.json.error.details.join('; ') : ''}` : `HTTP ${r.status}`);
const parse = (text) => { try { return JSON.parse(text); } catch (e) { return undefined; } };
// Fills a table body: one row per item (`values` gives its cells), or one row saying `empty`.
function fill(tbody, items, empty, values) {
  tbody.replaceChildren();
  if (!items.length) {
    const tr = document.createElement('tr');
    cell(tr, empty).colSpan = tbody.closest('table').querySelectorAll('thead th').length;
    tbody.append(tr);
  }
  for (const item of items) {
    const tr = document.createElement('tr');
    for (const v of values(item)) cell(tr, v);
    tbody.append(tr);
  }
}
// What each refreshed panel shows: redrawn only when it changed, so polling never takes the focus or a click away.
const shown = new Map();
const changed = (panel, data) => {
  const key = JSON.stringify(data);
  if (shown.get(panel) === key) return false;
  shown.set(panel, key);
  return true;
};

// ---- medication batches ---------------------------------------------------------------------------------------
const BATCH_STATE = { done: '完了 done', running: '実行中 running', pending: '待機 pending' };
async function showBatches() {
  const r = await api('GET', '/medication/v1/batches');
  if (r.status !== 200 || !changed('batches', r.json)) return;
  fill($('batches'), r.json, 'レセプトなし — no claims received yet', (b) => [
    String(b.batch_at).replace('T', ' '), BATCH_STATE[b.state] || b.state, b.files, b.pending, b.receipts]);
}
$('batch-run').addEventListener('click', async () => {
  const r = await api('POST', '/medication/v1/batches/run');
  $('batch-status').textContent = r.status === 200 ? `${r.json.files_extracted} ファイル抽出 — files extracted` : problem(r);
  showBatches();
});

// ---- disasters ------------------------------------------------------------------------------------------------
async function showDisasters() {
  const r = await api('GET', '/admin/v1/disasters');
  if (r.status !== 200) return;
  fill($('disasters'), r.json, '宣言なし — none declared', (d) => [d.name, [...(d.prefectures || []).map((p) => `都道府県 ${p}`), ...(d.districts || []).map((x) => `郡市区 ${x}`)].join(', '), `${d.starts_on} – ${d.ends_on}`]);
}
$('d-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const prefectures = $('d-prefs').value.split(/[ ,]+/).filter(Boolean).map(Number);
  const districts = $('d-districts').value.split(/[ ,]+/).filter(Boolean);
  const r = await api('POST', '/admin/v1/disasters', { name: $('d-name').value, prefectures, districts, from: $('d-from').value, to: $('d-to').value });
  $('d-status').textContent = r.status === 201 ? '宣言しました — declared' : problem(r);
  showDisasters();
});

// ---- facilities and certificates ------------------------------------------------------------------------------
async function showFacilities() {
  const r = await api('GET', '/portal/v1/facilities');
  if (r.status !== 200) return;
  const tbody = $('facilities');
  tbody.replaceChildren();
  for (const f of r.json) {
    const rec = f.record;
    const tr = document.createElement('tr');
    cell(tr, rec.code);
    cell(tr, rec.name);
    cell(tr, rec.status);
    const certs = cell(tr, (rec.certificates || []).length ? '' : '—');
    for (const c of rec.certificates || []) {
      const line = document.createElement('div');
      line.textContent = `${c.terminal} (${c.not_before}–${c.not_after}${c.revoked_on ? ', 失効 revoked ' + c.revoked_on : ''}) `;
      if (!c.revoked_on) {
        line.append(button('失効 revoke', `revoke the certificate of ${rec.code} ${c.terminal} ${c.serial}`, async () => {
          const x = await api('POST', `/portal/v1/facilities/${rec.code}/certificates/${c.sha256}/revoke`);
          $('f-status').textContent = x.status < 300 ? `${rec.code} ${c.terminal}: 失効しました — revoked` : problem(x);
          showFacilities();
        }));
      }
      certs.append(line);
    }
    const td = document.createElement('td');
    td.append(button('証明書発行 issue', `issue a terminal certificate for ${rec.code}`, async () => {
      const c = await api('POST', `/portal/v1/facilities/${rec.code}/certificates`, { terminal: $('f-terminal').value.trim() });
      $('f-status').textContent = c.status === 201 ? `${rec.code}: 発行しました — issued ${c.json.certificate.serial} (PEM below; key shown once)` : problem(c);
      $('f-pem').hidden = c.status !== 201;
      if (c.status === 201) $('f-pem').textContent = c.json.cert_pem + c.json.key_pem;
      showFacilities();
    }));
    tr.append(td);
    tbody.append(tr);
  }
}

// ---- forced outcomes and faults -------------------------------------------------------------------------------
function rules(list, ul, what, path) {
  if (!changed(ul.id, list)) return;
  ul.replaceChildren();
  if (!list.length) { const li = document.createElement('li'); li.textContent = 'なし — none'; ul.append(li); }
  for (const rule of list) {
    const li = document.createElement('li');
    const t = document.createElement('code');
    const { id, ...rest } = rule;
    t.textContent = `#${id} ${JSON.stringify(rest)}`;
    li.append(t, button('削除 remove', `remove ${what} ${id}`, async () => { await api('DELETE', `${path}/${id}`); showControls(); }));
    ul.append(li);
  }
}
async function showControls() {
  const [f, g] = await Promise.all([api('GET', '/admin/v1/forced'), api('GET', '/admin/v1/faults')]);
  if (f.status === 200) rules(f.json.forced, $('forced'), 'forced outcome', '/admin/v1/forced');
  if (g.status === 200) rules(g.json.faults, $('faults'), 'fault', '/admin/v1/faults');
}
for (const [form, text, status, path] of [['forced-form', 'forced-spec', 'forced-status', '/admin/v1/forced'], ['fault-form', 'fault-spec', 'fault-status', '/admin/v1/faults']]) {
  $(form).addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = parse($(text).value);
    if (body === undefined) { $(status).textContent = 'JSON が正しくありません — not JSON'; return; }
    const r = await api('POST', path, body);
    $(status).textContent = r.status === 201 || r.status === 200 ? '追加しました — added' : problem(r);
    showControls();
  });
}

// ---- snapshots ------------------------------------------------------------------------------------------------
async function showSnapshots() {
  const r = await api('GET', '/admin/v1/snapshots');
  if (r.status !== 200) return;
  const ul = $('snapshots');
  ul.replaceChildren();
  for (const s of r.json.snapshots) {
    const li = document.createElement('li');
    const t = document.createElement('span');
    t.textContent = `${s.name} — ${s.clock.replace('T', ' ')} (${Math.round(s.bytes / 1048576)} MiB)`;
    const restore = button('復元 restore', `restore snapshot ${s.name}`, async () => {
      $('snap-status').textContent = '…';
      const x = await api('POST', `/admin/v1/snapshots/${s.name}/restore`);
      $('snap-status').textContent = x.status === 200 ? `${s.name}: 復元しました — restored` : problem(x);
      refreshAll();
    });
    const del = button('削除 delete', `delete snapshot ${s.name}`, async () => {
      const x = await api('DELETE', `/admin/v1/snapshots/${s.name}`);
      $('snap-status').textContent = x.status < 300 ? `${s.name}: 削除しました — deleted` : problem(x);
      showSnapshots();
    });
    li.append(t, restore, del);
    ul.append(li);
  }
}
$('snap-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('snap-status').textContent = '…';
  const r = await api('POST', '/admin/v1/snapshots', { name: $('snap-name').value.trim() });
  $('snap-status').textContent = r.status < 300 ? `${$('snap-name').value}: 保存しました — saved` : problem(r);
  showSnapshots();
});
$('snap-reset').addEventListener('click', async () => {
  $('snap-status').textContent = '…';
  const r = await api('POST', '/admin/v1/reset');
  $('snap-status').textContent = r.status === 200 ? 'デモ状態に戻しました — back to the demo state' : problem(r);
  refreshAll();
});

// ---- usage statistics -----------------------------------------------------------------------------------------
const METHODS = [['mynumber_card', 'マイナ保険証', '#1f6fb5'], ['insurance_card', '保険証', '#e08a1e'], ['bulk', '一括照会', '#6b9e3a']];
async function showUsage() {
  const month = $('u-month').value.trim();
  const q = month ? `&month=${encodeURIComponent(month)}` : '';
  $('u-csv').href = `/admin/v1/statistics?by=facility&format=csv${q}`;
  const r = await api('GET', `/admin/v1/statistics?by=facility${q}`);
  const chart = $('u-chart');
  chart.replaceChildren();
  if (r.status !== 200) { chart.textContent = problem(r); return; }
  // Bars: confirmations per facility type, one colour per method.
  const byType = new Map();
  for (const row of r.json.rows) {
    const t = byType.get(row.facility_type) || { mynumber_card: 0, insurance_card: 0, bulk: 0 };
    for (const [k] of METHODS) t[k] += row[k];
    byType.set(row.facility_type, t);
  }
  const max = Math.max(1, ...[...byType.values()].map((t) => t.mynumber_card + t.insurance_card + t.bulk));
  const legend = document.createElement('p');
  legend.className = 'legend';
  for (const [, label, colour] of METHODS) { const s = document.createElement('span'); s.style.background = colour; legend.append(s, label); }
  const bars = document.createElement('div');
  bars.className = 'bars';
  if (!byType.size) bars.textContent = '記録なし — nothing counted yet';
  for (const [type, t] of byType) {
    const name = document.createElement('span');
    name.textContent = type;
    const bar = document.createElement('span');
    bar.className = 'bar';
    for (const [k, label, colour] of METHODS) {
      const s = document.createElement('span');
      s.style.width = `${(100 * t[k]) / max}%`;
      s.style.background = colour;
      s.title = `${label}: ${t[k]}`;
      bar.append(s);
    }
    const total = document.createElement('span');
    total.textContent = METHODS.map(([k, label]) => `${label} ${t[k]}`).join(' · ');
    bars.append(name, bar, total);
  }
  chart.append(legend, bars);
  fill($('u-facilities'), r.json.rows, '記録なし — nothing counted yet', (row) => [row.month, `${row.facility} (${row.facility_type})`,
    row.mynumber_card, row.insurance_card, row.bulk, row.requery, row.requery_unpresented, row.mynumber_rate === null ? '—' : `${(100 * row.mynumber_rate).toFixed(1)} %`]);
}
$('u-form').addEventListener('submit', (e) => { e.preventDefault(); showUsage(); });

// ---- the views (tabs): only the shown view's panels are laid out, read and refreshed -------------------------------
const VIEWS = {
  run: { load: [], poll: [] },
  state: { load: [showBatches, showDisasters, showFacilities], poll: [showBatches] },
  controls: { load: [showControls, showSnapshots], poll: [showControls] },
  usage: { load: [showUsage], poll: [] },
};
let view = 'run';
function show(name) {
  view = VIEWS[name] ? name : 'run';
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.dataset.tab !== view;
  for (const t of document.querySelectorAll('[role=tab]')) t.setAttribute('aria-selected', String(t.id === `tab-${view}`));
  if (location.hash.slice(1) !== view) history.replaceState(null, '', view === 'run' ? location.pathname : `#${view}`);
  return Promise.all(VIEWS[view].load.map((f) => f()));
}
for (const t of document.querySelectorAll('[role=tab]')) t.addEventListener('click', () => show(t.id.slice(4)));
function refreshAll() {
  return show(view);
}
// The first render with the shown view's data: a User Timing mark (load-tests/web_render.sh reads it).
Promise.all([consoleReady, show(location.hash.slice(1))]).finally(() => performance.mark('onshi:ready'));
setInterval(() => { for (const f of VIEWS[view].poll) f(); }, 3000);
