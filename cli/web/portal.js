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

const STATE = { valid: '有効 valid', lost: '喪失 lost', expired: '期限切れ expired', not_yet: '開始前 not yet' };
const VALUES = [['bmi', 'BMI', ''], ['waist', '腹囲 waist', 'cm'], ['systolic', '収縮期血圧 systolic', 'mmHg'],
  ['diastolic', '拡張期血圧 diastolic', 'mmHg'], ['hba1c', 'HbA1c', '%'], ['glucose', '空腹時血糖 glucose', 'mg/dL'],
  ['tg', '中性脂肪 TG', 'mg/dL'], ['hdl', 'HDL', 'mg/dL'], ['ldl', 'LDL', 'mg/dL']];

/// The checkups as the portal shows them: one column per fiscal year, one row per followed value and judgment.
function checkups(view) {
  const years = view ? view.checkups.slice().sort((a, b) => a.date.localeCompare(b.date)) : [];
  if (!years.length) { table('c-head', 'c-table', []); return; }
  const judgment = (j) => (j ? (j.label || j.submitted || j.computed || '') : '');
  const rows = [
    ['実施日 date', ...years.map((y) => y.date)],
    ['健診機関 institution', ...years.map((y) => y.institution || '')],
    ['メタボリックシンドローム判定 metabolic', ...years.map((y) => judgment(y.metabolic))],
    ['保健指導レベル guidance level', ...years.map((y) => judgment(y.level))],
    ...VALUES.map(([k, label, unit]) => [`${label}${unit ? ` (${unit})` : ''}`, ...years.map((y) => (y.values[k] === undefined ? '—' : String(y.values[k])))]),
  ];
  $('c-head').replaceChildren();
  $('c-table').replaceChildren();
  const tr = document.createElement('tr');
  for (const h of ['項目 item', ...years.map((y) => `${y.fiscal_year}年度 FY${y.fiscal_year}`)]) {
    const th = document.createElement('th'); th.scope = 'col'; th.textContent = h; tr.append(th);
  }
  $('c-head').append(tr);
  for (const r of rows) {
    const row = document.createElement('tr');
    r.forEach((v, i) => {
      const c = document.createElement(i === 0 ? 'th' : 'td');
      if (i === 0) c.scope = 'row';
      c.textContent = v;
      row.append(c);
    });
    $('c-table').append(row);
  }
}

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
  const quals = await get(`/eligibility/v1/persons/${p}/qualifications`);
  table('q-head', 'q-table', quals ? quals.qualifications.map((q) => {
    const row = {
      '状態 state': STATE[q.state] || q.state, '保険者 insurer': `${q.record.insurer_name} (${q.record.insurer_number})`,
      '記号・番号 symbol・number': `${q.record.symbol || ''}・${q.record.number}（${q.record.branch}）`,
      '資格取得日 from': q.record.qualification_date, '資格喪失日 until': q.record.disqualification_date || '',
    };
    // 一部負担金割合 as the answers carry it: for 後期高齢者 only.
    if (q.record.partial_contribution_percent) row['負担割合 co-payment'] = `${q.record.partial_contribution_percent / 10}割`;
    return row;
  }) : []);
  checkups(await get(`/checkup/v1/persons/${p}/results`));
  table('a-head', 'a-table', list(await get(`/consent/v1/persons/${p}/access-log`)));
});

// Nothing to fetch before the login: the page is ready as it is (a User Timing mark, load-tests/web_render.sh).
performance.mark('onshi:ready');
