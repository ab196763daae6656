// The operator console: the clock, the scenarios (set the stage, step, check) and the live request journal, over
// the admin API (plain JavaScript,
// no framework, nothing fetched from the network). In strict mode the operator token is asked once per tab.
'use strict';

const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem('onshi-operator') || '';
}

async function api(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token()) headers.Authorization = 'Bearer ' + token();
  let r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401 || r.status === 403) {
    const t = prompt('運用者トークン / operator token (<home>/operator-token)');
    if (t) {
      sessionStorage.setItem('onshi-operator', t.trim());
      headers.Authorization = 'Bearer ' + t.trim();
      r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    }
  }
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

// ---- clock ----------------------------------------------------------------------------------------------------
let frozen = false;
async function showClock() {
  const r = await fetch('/admin/v1/clock');
  const c = await r.json();
  frozen = c.frozen;
  $('clock-now').textContent = c.now.replace('T', ' ');
  $('clock-state').textContent = c.frozen ? '（停止中 / frozen）' : '（進行中 / running）';
}
async function changeClock(body) {
  const r = await api('POST', '/admin/v1/clock', body);
  if (r.status !== 200) alert(r.json && r.json.error ? r.json.error.message : 'refused');
  await showClock();
}
for (const b of document.querySelectorAll('[data-advance]')) {
  b.addEventListener('click', () => changeClock({ advance: b.dataset.advance }));
}
$('clock-freeze').addEventListener('click', () => changeClock({ frozen: !frozen }));
$('clock-set').addEventListener('submit', (e) => {
  e.preventDefault();
  changeClock({ set: $('clock-at').value });
});

// ---- scenarios ------------------------------------------------------------------------------------------------
async function showScenarios() {
  const r = await fetch('/admin/v1/scenarios');
  const list = (await r.json()).scenarios;
  const ul = $('scenarios');
  ul.replaceChildren();
  for (const s of list) {
    const li = document.createElement('li');
    const t = document.createElement('span');
    t.textContent = `${s.title} — ${s.title_en} (${s.steps})`;
    t.title = s.description;
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = '準備 / set stage';
    b.setAttribute('aria-label', `set the stage of ${s.title_en}`);
    b.addEventListener('click', async () => {
      $('sc-status').textContent = '…';
      const r = await api('POST', `/admin/v1/scenarios/${s.name}/setup`);
      $('sc-steps').replaceChildren();
      $('sc-status').textContent = r.status === 200
        ? `${s.title}: 準備完了 / stage set — 次へ / step, or 確認 / check`
        : (r.json && r.json.error ? r.json.error.message : 'refused');
      await showClock();
    });
    const step = document.createElement('button');
    step.type = 'button';
    step.textContent = '次へ / step';
    step.setAttribute('aria-label', `perform the next step of ${s.title_en}`);
    step.addEventListener('click', async () => {
      const r = await api('POST', `/admin/v1/scenarios/${s.name}/step`);
      if (r.status !== 200) { $('sc-status').textContent = r.json && r.json.error ? r.json.error.message : 'refused'; return; }
      if (r.json.report) stepReport(r.json.report);
      $('sc-status').textContent = r.json.finished
        ? `${s.title}: 終了 / finished`
        : `${s.title}: 次は ${r.json.next} / ${r.json.of} — next: step ${r.json.next} of ${r.json.of}`;
      await showClock();
    });
    const check = document.createElement('button');
    check.type = 'button';
    check.textContent = '確認 / check';
    check.setAttribute('aria-label', `set the stage of ${s.title_en} and check every step`);
    check.addEventListener('click', async () => {
      $('sc-status').textContent = '…';
      $('sc-steps').replaceChildren();
      const r = await api('POST', `/admin/v1/scenarios/${s.name}/check`);
      if (r.status !== 200) { $('sc-status').textContent = r.json && r.json.error ? r.json.error.message : 'refused'; return; }
      for (const x of r.json.steps) stepReport(x);
      $('sc-status').textContent = `${s.title}: ${r.json.passed ? '合格 PASS' : '不合格 FAIL'}`;
      await showClock();
    });
    const buttons = document.createElement('span');
    buttons.append(b, step, check);
    li.append(t, buttons);
    ul.append(li);
  }
}
function stepReport(x) {
  const li = document.createElement('li');
  li.value = x.step;
  li.className = x.passed ? 'pass' : 'fail';
  li.textContent = `${x.passed ? '✓' : '✗'} ${x.say}${x.failures.length ? ' — ' + x.failures.join('; ') : ''}`;
  $('sc-steps').append(li);
}

// ---- journal --------------------------------------------------------------------------------------------------
let last = 0;
let filter = '';
const rows = new Map();
function query() {
  const q = new URLSearchParams();
  for (const [k, id] of [['facility', 'j-facility'], ['kind', 'j-kind'], ['outcome', 'j-outcome']]) {
    if ($(id).value.trim()) q.set(k, $(id).value.trim());
  }
  return q.toString();
}
async function pollJournal() {
  const q = new URLSearchParams(filter);
  q.set('after', String(last));
  q.set('limit', '200');
  const r = await api('GET', '/admin/v1/journal?' + q.toString());
  if (r.status !== 200) return;
  const entries = r.json.entries.slice().reverse();
  const tbody = $('journal');
  for (const e of entries) {
    last = Math.max(last, e.id);
    const tr = document.createElement('tr');
    tr.tabIndex = 0;
    tr.dataset.id = String(e.id);
    for (const v of [e.id, e.at.replace('T', ' '), e.transport, e.kind, e.facility || '-', e.outcome, e.micros, e.marks.join(' ')]) {
      const td = document.createElement('td');
      td.textContent = String(v);
      tr.append(td);
    }
    const open = () => showEntry(e.id, tr);
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (k) => { if (k.key === 'Enter' || k.key === ' ') { k.preventDefault(); open(); } });
    tbody.prepend(tr);
    rows.set(e.id, tr);
  }
  while (tbody.children.length > 500) tbody.lastElementChild.remove();
}
async function showEntry(id, tr) {
  for (const r of document.querySelectorAll('tbody tr[aria-selected]')) r.removeAttribute('aria-selected');
  tr.setAttribute('aria-selected', 'true');
  const r = await api('GET', `/admin/v1/journal/${id}`);
  const text = (b) => (b ? (b.text !== undefined ? b.text : `(${b.binary_bytes} bytes, binary)`) : '（保存なし / not kept）');
  $('j-request').textContent = r.status === 200 ? text(r.json.request) : '';
  $('j-answer').textContent = r.status === 200 ? text(r.json.answer) : '';
}
$('j-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  filter = query();
  last = 0;
  $('journal').replaceChildren();
  pollJournal();
});

// Every panel's first data on screen: the console's `onshi:ready` (User Timing) mark is set by ops.js.
const consoleReady = Promise.all([showClock(), showScenarios(), pollJournal()]);
setInterval(showClock, 1000);
setInterval(pollJournal, 1000);
