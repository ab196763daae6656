// The 資格確認端末 screen: a query by insurance-card data sent as a real request file (POST /oqs/v1/req/…), its
// answer shown like the terminal's confirmation screen. Demo personas fill the form.
'use strict';

const $ = (id) => document.getElementById(id);
const FIELDS = {
  MedicalInstitutionCode: 'f-facility', QualificationConfirmationDate: 'f-date', InsurerNumber: 'f-insurer',
  InsuredCardSymbol: 'f-symbol', InsuredIdentificationNumber: 'f-number', InsuredBranchNumber: 'f-branch',
  Birthdate: 'f-birth',
};
const VALIDITY = {
  1: ['有効', 'valid', 'ok'], 2: ['無効', 'invalid', 'warn'], 3: ['無効（新しい資格あり）', 'invalid: a newer qualification exists', 'warn'],
  4: ['該当資格なし', 'no such qualification', 'warn'], 5: ['複数該当', 'several match', 'warn'], 6: ['有効（未登録）', 'valid (unregistered)', 'ok'],
};
const ROWS = [
  ['Name', '氏名', 'name'], ['NameKana', 'カナ氏名', 'kana'], ['Birthdate', '生年月日', 'birth date'],
  ['InsurerName', '保険者名', 'insurer'], ['InsurerNumber', '保険者番号', 'insurer number'],
  ['InsuredCardSymbol', '記号', 'symbol'], ['InsuredIdentificationNumber', '番号', 'number'],
  ['InsuredBranchNumber', '枝番', 'branch'], ['QualificationDate', '資格取得年月日', 'qualified from'],
  ['DisqualificationDate', '資格喪失年月日', 'qualified until'], ['InsuredPartialContributionRatio', '一部負担金割合', 'co-payment'],
  ['ElderlyRecipientContributionRatio', '高齢受給者 負担割合', 'elderly co-payment'],
  ['LimitApplicationCertificateClassificationFlag', '限度額適用区分', '限度額 class'],
  ['SpecificDiseasesDiseaseCategory', '特定疾病', 'specific disease'], ['SpecificDiseasesSelfPay', '特定疾病 自己負担限度額', 'self-pay limit'],
];

const text = (el, name) => { const e = el.getElementsByTagName(name)[0]; return e ? e.textContent : null; };
const esc = (s) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' }[c]));

async function personas() {
  const r = await fetch('/ui/personas.json');
  const list = await r.json();
  for (const p of list) {
    const o = document.createElement('option');
    o.value = JSON.stringify(p.fields);
    o.textContent = p.name;
    $('persona').append(o);
  }
}
$('persona').addEventListener('change', () => {
  if (!$('persona').value) return;
  const f = JSON.parse($('persona').value);
  for (const [el, id] of Object.entries(FIELDS)) if (f[el] !== undefined) $(id).value = f[el];
  $('f-consent').checked = f.LimitApplicationCertificateRelatedConsFlg === '1';
});

$('query').addEventListener('submit', async (e) => {
  e.preventDefault();
  const v = (id) => esc($(id).value.trim());
  const xml = '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>'
    + `<QualificationConfirmationDate>${v('f-date')}</QualificationConfirmationDate>`
    + `<MedicalInstitutionCode>${v('f-facility')}</MedicalInstitutionCode>`
    + `<ArbitraryFileIdentifier>terminal-${Date.now()}</ArbitraryFileIdentifier></MessageHeader>`
    + '<MessageBody><QualificationConfirmSearchInfo>'
    + `<InsurerNumber>${v('f-insurer')}</InsurerNumber><InsuredCardSymbol>${v('f-symbol')}</InsuredCardSymbol>`
    + `<InsuredIdentificationNumber>${v('f-number')}</InsuredIdentificationNumber><InsuredBranchNumber>${v('f-branch')}</InsuredBranchNumber>`
    + `<Birthdate>${v('f-birth')}</Birthdate>`
    + `<LimitApplicationCertificateRelatedConsFlg>${$('f-consent').checked ? 1 : 0}</LimitApplicationCertificateRelatedConsFlg>`
    + '</QualificationConfirmSearchInfo></MessageBody></XmlMsg>';
  const r = await fetch('/oqs/v1/req/OQSsiquc01req_terminal.xml', { method: 'POST', body: xml, headers: { 'Content-Type': 'application/xml' } });
  const doc = new DOMParser().parseFromString(await r.text(), 'application/xml');
  show(doc);
});

function show(doc) {
  const banner = $('r-banner');
  const table = $('r-table');
  table.replaceChildren();
  if (text(doc, 'SegmentOfResult') === '9') {
    banner.className = 'warn';
    banner.textContent = `エラー ${text(doc, 'ErrorCode')}: ${text(doc, 'ErrorMessage')}`;
    return;
  }
  if (text(doc, 'ProcessingResultStatus') === '2') {
    banner.className = 'warn';
    banner.textContent = `照会エラー ${text(doc, 'ProcessingResultCode')}: ${text(doc, 'ProcessingResultMessage')}`;
    return;
  }
  const [ja, en, cls] = VALIDITY[text(doc, 'QualificationValidity')] || ['?', '?', 'warn'];
  banner.className = cls;
  banner.textContent = `資格 ${ja} — ${en}`;
  const info = text(doc, 'ProcessingResultMessage');
  if (info) banner.textContent += ` ／ ${info}`;
  const results = doc.getElementsByTagName('ResultOfQualificationConfirmation');
  for (let i = 0; i < results.length; i++) {
    if (results.length > 1) {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.colSpan = 2;
      th.textContent = `該当 ${i + 1} / result ${i + 1}`;
      tr.append(th);
      table.append(tr);
    }
    for (const [el, ja2, en2] of ROWS) {
      const value = text(results[i], el);
      if (value === null || value.trim() === '') continue;
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = `${ja2} ${en2}`;
      const td = document.createElement('td');
      td.textContent = value.trim();
      tr.append(th, td);
      table.append(tr);
    }
  }
}

// ---- views: 薬剤情報 (YZKsiquc01) and 特定健診情報 (TKKsiquc01) of the person on the form ----------------------------
function patientHeader(v) {
  return `<MedicalInstitutionCode>${v('f-facility')}</MedicalInstitutionCode><InsurerNumber>${v('f-insurer')}</InsurerNumber>`
    + `<InsuranceCardSymbol>${v('f-symbol')}</InsuranceCardSymbol><InsuredPersonIdentificationNumber>${v('f-number')}</InsuredPersonIdentificationNumber>`
    + `<BranchNumber>${v('f-branch')}</BranchNumber><ArbitraryFileIdentifier>terminal-${Date.now()}</ArbitraryFileIdentifier>`;
}
function request(stem, body) {
  const v = (id) => esc($(id).value.trim());
  const xml = `<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>${patientHeader(v)}</MessageHeader><MessageBody>${body}</MessageBody></XmlMsg>`;
  return fetch(`/oqs/v1/req/${stem}req_terminal.xml`, { method: 'POST', body: xml, headers: { 'Content-Type': 'application/xml' } });
}
async function view(stem, body, render) {
  const r = await request(stem, body);
  const doc = new DOMParser().parseFromString(await r.text(), 'application/xml');
  $('v-head').replaceChildren();
  $('v-table').replaceChildren();
  $('v-pdf').hidden = true;
  if (text(doc, 'ResultCode') !== '1') {
    $('v-banner').className = 'warn';
    $('v-banner').textContent = `閲覧できません — refused: ${text(doc, 'MessageContents') || text(doc, 'ErrorMessage') || ''}`;
    return;
  }
  $('v-banner').className = 'ok';
  render(doc);
}
function table(head, rows) {
  const tr = document.createElement('tr');
  for (const h of head) { const th = document.createElement('th'); th.scope = 'col'; th.textContent = h; tr.append(th); }
  $('v-head').append(tr);
  for (const r of rows) {
    const row = document.createElement('tr');
    for (const c of r) { const td = document.createElement('td'); td.textContent = c || ''; row.append(td); }
    $('v-table').append(row);
  }
}
$('view-yzk').addEventListener('click', () => view('YZKsiquc01',
  '<FileCategory>2</FileCategory><PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag>',
  (doc) => {
    const rows = [];
    for (const m of doc.getElementsByTagName('MeTrMonthInf')) {
      for (const d of m.getElementsByTagName('DiDateInf')) {
        for (const g of d.getElementsByTagName('DrugInf')) {
          rows.push([text(m, 'MeTrMonth'), text(d, 'DiDate'), text(m, 'MeTrDiHNm'), text(g, 'DrugN'), text(g, 'DrugC'), text(g, 'UsageN'), text(g, 'Times')]);
        }
      }
    }
    $('v-banner').textContent = rows.length ? `薬剤情報 ${rows.length} 件 — medication lines` : '該当する薬剤情報はありません — no medication in this period';
    table(['診療月 month', '調剤日 date', '医療機関 facility', '薬剤 drug', 'コード code', '用法 usage', '回数 times'], rows);
  }));
$('view-sry').addEventListener('click', () => view('YZKsiquc01',
  '<FileCategory>4</FileCategory><PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag>',
  (doc) => {
    const rows = [];
    for (const m of doc.getElementsByTagName('MeTrMonthInf')) {
      for (const d of m.getElementsByTagName('DiDateInf')) {
        for (const p of d.getElementsByTagName('MeTrInf')) {
          const cls = text(p, 'MeTrIdCl');
          rows.push([text(m, 'MeTrMonth'), text(d, 'DiDate'), text(m, 'MeTrDiHNm'), cls === '50' ? `手術 surgery (${cls})` : cls, text(p, 'SinInfN'), text(p, 'SinInfCd'), text(p, 'Times')]);
        }
      }
    }
    $('v-banner').textContent = rows.length ? `診療情報 ${rows.length} 件 — clinical lines` : '該当する診療情報はありません — no clinical information in this period';
    table(['診療月 month', '診療日 date', '医療機関 facility', '診療識別 class', '診療行為 procedure', 'コード code', '回数 times'], rows);
  }));
// In a declared disaster the patient consents verbally and the clinic records it here, without the card (seed 003).
$('disaster-consent').addEventListener('click', async () => {
  const v = (id) => $(id).value.trim();
  const body = { insurer: v('f-insurer'), symbol: v('f-symbol'), number: v('f-number'), branch: v('f-branch') || null,
    consents: { medication: true, clinical: true, checkup: true } };
  const r = await fetch(`/reader/v1/${encodeURIComponent(v('f-facility'))}/disaster-consents`,
    { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  const j = await r.json().catch(() => ({}));
  $('v-banner').className = r.status === 201 ? 'ok' : 'warn';
  $('v-banner').textContent = r.status === 201
    ? `災害時の同意を記録しました（宣言 ${j.declaration}、${j.until} まで） — verbal consent recorded under declaration ${j.declaration}`
    : `記録できません — refused: ${(j.error && j.error.message) || r.status}`;
});
// The PDF forms (odd FileCategory): the answer is the PDF itself, or an XML error.
async function pdf(stem, body) {
  const r = await request(stem, body);
  const blob = await r.blob();
  $('v-head').replaceChildren();
  $('v-table').replaceChildren();
  if (blob.type !== 'application/pdf') {
    const doc = new DOMParser().parseFromString(await blob.text(), 'application/xml');
    $('v-pdf').hidden = true;
    $('v-banner').className = 'warn';
    $('v-banner').textContent = `閲覧できません — refused: ${text(doc, 'MessageContents') || text(doc, 'ErrorMessage') || ''}`;
    return;
  }
  $('v-banner').className = 'ok';
  $('v-banner').textContent = `PDF ${blob.size} bytes`;
  $('v-pdf').src = URL.createObjectURL(blob);
  $('v-pdf').hidden = false;
}
$('pdf-yzk').addEventListener('click', () => pdf('YZKsiquc01',
  '<FileCategory>3</FileCategory><PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag>'));
$('pdf-tkk').addEventListener('click', () => pdf('TKKsiquc01', '<FileCategory>1</FileCategory>'));
$('view-tkk').addEventListener('click', () => view('TKKsiquc01', '<FileCategory>2</FileCategory>', (doc) => {
  const rows = [];
  for (const c of doc.getElementsByTagName('SpecificHealthCheckupInfo')) {
    for (const i of c.getElementsByTagName('HealthCheckupResultAndQuestionInfo')) {
      rows.push([text(c, 'EffectiveTime'), text(i, 'ItemName'), text(i, 'DataValueName') || text(i, 'DataValue'), text(i, 'Unit')]);
    }
  }
  $('v-banner').textContent = rows.length ? `特定健診情報 ${rows.length} 項目 — checkup items` : '特定健診情報はありません — no checkups';
  table(['実施日 date', '項目 item', '値 value', '単位 unit'], rows);
}));

// ---- the facility's face results (polled: a new one appears without reloading), searchable by 照会番号 ----------
const CONSENTS = [['PharmacistsInfoConsFlg', '薬剤'], ['DiagnosisInfoConsFlg', '診療'], ['OperationInfoConsFlg', '手術'],
  ['SpecificHealthCheckupsInfoConsFlg', '健診'], ['LimitApplicationCertificateRelatedConsFlg', '限度額']];
const faces = [];
let faceSeq = 0;
let faceFacility = '';
function faceRows() {
  const want = $('face-ref').value.trim();
  const tbody = $('faces');
  tbody.replaceChildren();
  const shown = faces.filter((f) => !want || f.ref === want);
  if (!shown.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 5;
    td.textContent = want ? `照会番号 ${want} の結果はありません — no face result with this reference number` : 'まだありません — none yet';
    tr.append(td);
    tbody.append(tr);
  }
  for (const f of shown) {
    const tr = document.createElement('tr');
    tr.tabIndex = 0;
    const [ja] = VALIDITY[f.validity] || ['—'];
    for (const v of [f.at, f.ref || '—', f.name || '—', ja, f.consents]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    const open = () => {
      // The answer on the result screen, and the card data on the form so the views follow.
      show(f.doc);
      const set = (id, el) => { const x = text(f.doc, el); if (x !== null) $(id).value = x.trim(); };
      set('f-insurer', 'InsurerNumber'); set('f-symbol', 'InsuredCardSymbol'); set('f-number', 'InsuredIdentificationNumber');
      set('f-branch', 'InsuredBranchNumber'); set('f-birth', 'Birthdate');
      $('r-banner').focus();
    };
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (k) => { if (k.key === 'Enter' || k.key === ' ') { k.preventDefault(); open(); } });
    tbody.append(tr);
  }
}
async function pollFaces() {
  const code = $('f-facility').value.trim();
  if (code !== faceFacility) { faceFacility = code; faceSeq = 0; faces.length = 0; faceRows(); }
  if (!/^[0-9]{10}$/.test(code)) return;
  const r = await fetch(`/reader/v1/${code}/face?after=${faceSeq}`);
  if (r.status !== 200) return;
  const list = await r.json();
  for (const f of list) {
    faceSeq = Math.max(faceSeq, f.seq);
    const doc = new DOMParser().parseFromString(f.xml, 'application/xml');
    const consents = CONSENTS.filter(([el]) => text(doc, el) === '1').map(([, n]) => n).join('・') || '—';
    const at = (text(doc, 'ProcessExecutionTime') || '').replace(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/, '$1-$2-$3 $4:$5:$6');
    faces.unshift({ doc, at, ref: (text(doc, 'ReferenceNumber') || '').trim(), name: text(doc, 'Name'), validity: text(doc, 'QualificationValidity'), consents });
  }
  if (list.length) faceRows();
}
$('face-search').addEventListener('submit', (e) => { e.preventDefault(); faceRows(); });
$('r-banner').tabIndex = -1;
faceRows();
setInterval(pollFaces, 2000);

// The first render with its data: a User Timing mark (load-tests/web_render.sh reads it).
Promise.all([personas(), pollFaces(),
  fetch('/admin/v1/clock').then((r) => r.json()).then((c) => { $('f-date').value = c.compact.slice(0, 8); })])
  .finally(() => performance.mark('onshi:ready'));
