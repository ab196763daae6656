// The patient portal (マイナポータル-like): log in with a demo card and its PIN, then the patient's own medication
// (with 自己負担相当額 and 削減可能額), checkups and access history, through the patient API with the patient's token.
'use strict';

const $ = (id) => document.getElementById(id);
let session = null;

/// Rows (objects) as a table: one column per key of the first rows, nested values as JSON.
function table(head, body, rows) {
  $(head).replaceChildren();
  $(body).replaceChildren();
  if (!rows.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.textContent = 'なし — none';
    tr.append(td);
    $(body).append(tr);
    return;
  }
  const keys = [...new Set(rows.slice(0, 20).flatMap((r) => Object.keys(r)))];
  const tr = document.createElement('tr');
  for (const k of keys) { const th = document.createElement('th'); th.scope = 'col'; th.textContent = k; tr.append(th); }
  $(head).append(tr);
  for (const r of rows) {
    const row = document.createElement('tr');
    for (const k of keys) {
      const td = document.createElement('td');
      const v = r[k];
      td.textContent = v === null || v === undefined ? '' : (typeof v === 'object' ? JSON.stringify(v) : String(v));
      row.append(td);
    }
    $(body).append(row);
  }
}
const list = (v) => (Array.isArray(v) ? v : (v && typeof v === 'object' ? (Object.values(v).find(Array.isArray) || [v]) : []));

async function get(path) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + session.token } });
  return r.status === 200 ? r.json() : null;
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/consent/v1/patients/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ card_serial: $('serial').value, pin: $('pin').value }),
  });
  $('pin').value = '';
  const j = await r.json();
  if (r.status !== 200) {
    $('who').textContent = (j.error && j.error.message) || 'ログインできません — refused';
    return;
  }
  session = j;
  $('who').textContent = `ログイン中 — logged in: ${j.person_id}`;
  const p = encodeURIComponent(j.person_id);
  const meds = await get(`/medication/v1/persons/${p}/medications`);
  if (meds) {
    $('m-total').textContent = `自己負担相当額 ${meds.self_pay_total_yen} 円 — self-pay; 削減可能額 ${meds.saving_total_yen} 円 — possible saving (${meds.count})`;
    table('m-head', 'm-table', meds.medications);
  }
  table('c-head', 'c-table', list(await get(`/checkup/v1/persons/${p}/results`)));
  table('a-head', 'a-table', list(await get(`/consent/v1/persons/${p}/access-log`)));
});
