// The virtual マイナ資格確認アプリ (docs/HOME.md): a code issued at the facility's terminal activates this device; the
// device then reads a card with the PIN or the facility's visual check and, for home care, records the consent
// screens — through the same API a real integration would call; the face XML it writes is shown.
'use strict';

const $ = (id) => document.getElementById(id);
let token = null;

async function call(path, body, auth) {
  const headers = { 'Content-Type': 'application/json' };
  if (auth) headers.Authorization = `Bearer ${auth}`;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
  return { status: r.status, json: await r.json().catch(() => ({})) };
}
const facility = () => encodeURIComponent($('facility').value);
const problem = (r) => (r.json.error ? `${r.json.error.message} (${r.json.error.code})` : `HTTP ${r.status}`);

$('issue').addEventListener('click', async () => {
  const r = await call(`/reader/v1/${facility()}/app/activations`, { device: '訪問用タブレット' });
  if (r.status !== 201) { $('code').textContent = problem(r); return; }
  $('code').textContent = `${r.json.activation_code}（${r.json.mode === 'limited' ? '資格確認限定型' : '居宅同意取得型'}）`;
  $('activation').value = r.json.activation_code;
});
$('activate').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await call('/app/v1/activate', { activation_code: $('activation').value.trim() });
  if (r.status !== 201) { $('device').textContent = `利用開始できません — ${problem(r)}`; return; }
  token = r.json.device_token;
  const limited = r.json.mode === 'limited';
  $('home').hidden = limited;
  $('device').textContent = `利用開始しました: ${r.json.facility}（${limited ? '資格確認限定型 qualification only' : '居宅同意取得型 home care'}）`;
});
$('read').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!token) { $('result').textContent = '先に利用開始してください — activate this device first'; return; }
  const pin = $('how-pin').checked;
  const body = { card_serial: $('card').value, identify: pin ? { method: 'pin', pin: $('pin').value } : { method: 'visual' } };
  $('pin').value = '';
  const care = $('care').value;
  if (!$('home').hidden && care) {
    body.care = care;
    body.consents = {};
    for (const k of ['medication', 'clinical', 'surgery', 'checkup']) body.consents[k] = $(`k-${k}`).checked;
  }
  const r = await call(`/reader/v1/${facility()}/app/confirm`, body, token);
  if (r.status !== 200) { $('result').textContent = `読み取れません — ${problem(r)}`; return; }
  $('result').textContent = r.json.consent_until
    ? `資格を確認し、同意を記録しました（${r.json.consent_until} まで） — confirmed, consent recorded`
    : '資格を確認しました — qualification confirmed';
  $('face-file').textContent = r.json.face_file;
  $('xml').textContent = r.json.xml;
});
performance.mark('onshi:ready');
