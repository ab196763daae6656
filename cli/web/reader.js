// The virtual card reader: place a demo card, identify by face or PIN (the lockout included), 初回登録, the consent
// screens (the 2025 kinds and the prescription form) — through the reader API, exactly as a real flow; the face XML
// it writes to the facility's face/ folder is shown.
'use strict';

const $ = (id) => document.getElementById(id);
const KINDS = ['medication', 'clinical', 'surgery', 'checkup', 'limit_certificate', 'specific_disease', 'diagnosis_name',
  'infectious', 'allergy', 'contraindication', 'test', 'prescription_info'];
let session = null;

function say(ja, en) {
  $('screen').textContent = ja + (en ? ` — ${en}` : '');
}
function step(name) {
  for (const id of ['identify', 'register', 'consent']) $(id).hidden = id !== name;
}
async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}) });
  return { status: r.status, json: await r.json() };
}
const base = () => `/reader/v1/${encodeURIComponent($('facility').value.trim())}/sessions`;

function refused(r) {
  step(null);
  const e = r.json.error || {};
  say(e.message || '処理できませんでした', e.code);
  session = null;
}
function next(r) {
  if (r.status >= 400) {
    if (r.json.error && r.json.error.code === 'pin_wrong') { say(r.json.error.message, 'pin_wrong'); return; }
    if (r.json.error && r.json.error.code === 'face_no_match') { say(r.json.error.message, 'face_no_match: enter the PIN'); return; }
    refused(r);
    return;
  }
  if (r.json.face_file) {
    step(null);
    $('face-file').textContent = r.json.face_file;
    $('face-xml').textContent = r.json.xml;
    say('受付が完了しました。', 'done: the face result is in the face/ folder');
    session = null;
    return;
  }
  if (r.json.session) session = r.json.session;
  if (r.json.next === 'identify') { step('identify'); say('本人確認の方法を選んでください。', 'identify: face or PIN'); }
  if (r.json.next === 'register') { step('register'); say('健康保険証として利用登録しますか。', '初回登録: register?'); }
  if (r.json.next === 'consent') { step('consent'); say('情報提供に同意しますか。', 'consent screens'); }
}

$('place').addEventListener('click', async () => {
  $('face-file').textContent = '';
  $('face-xml').textContent = '';
  next(await post(base(), { terminal: 'T1', card_serial: $('card').value }));
});
$('face-ok').addEventListener('click', async () => next(await post(`${base()}/${session}/identify`, { method: 'face', match: true })));
$('face-ng').addEventListener('click', async () => next(await post(`${base()}/${session}/identify`, { method: 'face', match: false })));
$('pin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const pin = $('pin').value;
  $('pin').value = '';
  next(await post(`${base()}/${session}/identify`, { method: 'pin', pin }));
});
$('reg-yes').addEventListener('click', async () => next(await post(`${base()}/${session}/register`, { register: true })));
$('reg-no').addEventListener('click', async () => next(await post(`${base()}/${session}/register`, { register: false })));
$('consent').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = {};
  for (const k of KINDS) body[k] = $(`k-${k}`).checked;
  body.prescription = document.querySelector('input[name="rx"]:checked').value;
  next(await post(`${base()}/${session}/consent`, body));
});
// ---- a new demo card: issued by the consent service (POST /consent/v1/cards) for an insured person of the registry;
// not yet registered for insurance use, so placing it starts with 初回登録.
async function persons() {
  const r = await fetch('/insurer/v1/qualifications?limit=200');
  if (r.status !== 200) return;
  const seen = new Set();
  for (const q of await r.json()) {
    const p = q.record.person_id;
    if (seen.has(p)) continue;
    seen.add(p);
    const o = document.createElement('option');
    o.value = p;
    o.textContent = `${q.record.name} (${q.record.birth_date}) — ${p}`;
    $('nc-person').append(o);
  }
}
$('card-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const pin = $('nc-pin').value;
  const r = await post('/consent/v1/cards', { person_id: $('nc-person').value, pin });
  if (r.status !== 201) {
    $('nc-status').textContent = (r.json.error && r.json.error.message) || `HTTP ${r.status}`;
    return;
  }
  const o = document.createElement('option');
  o.value = r.json.serial;
  o.textContent = `${$('nc-person').selectedOptions[0].textContent.split(' (')[0]} — 新規 new ${r.json.serial} (PIN ${pin})`;
  $('card').append(o);
  $('card').value = r.json.serial;
  $('nc-pin').value = '';
  $('nc-status').textContent = `発行しました — issued ${r.json.serial}; 置くと初回登録から / place it: 初回登録 first`;
});
step(null);
// The first render with its data: a User Timing mark (load-tests/web_render.sh reads it).
persons().finally(() => performance.mark('onshi:ready'));
