// The language of every page: Japanese with English labels beside (default), Japanese only, or English first — a
// toggle in the header, remembered in the browser (localStorage). English text is in `.en` elements.
'use strict';

(function () {
  const MODES = [['both', '日本語＋English'], ['ja', '日本語のみ'], ['en', 'English first']];
  const apply = (m) => {
    document.body.classList.toggle('lang-ja', m === 'ja');
    document.body.classList.toggle('lang-en', m === 'en');
    document.documentElement.lang = m === 'en' ? 'en' : 'ja';
  };
  const mode = localStorage.getItem('onshi-lang') || 'both';
  apply(mode);
  const header = document.querySelector('header');
  if (!header) return;
  const label = document.createElement('label');
  label.className = 'lang';
  label.textContent = '表示言語 / language ';
  const select = document.createElement('select');
  select.id = 'lang';
  for (const [v, t] of MODES) {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = t;
    select.append(o);
  }
  select.value = mode;
  select.addEventListener('change', () => {
    localStorage.setItem('onshi-lang', select.value);
    apply(select.value);
  });
  label.append(select);
  header.append(label);
}());
