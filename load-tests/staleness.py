#!/usr/bin/env python3
"""Staleness of the eligibility read model: how long from an insurer's registration (POST
/insurer/v1/qualifications answered 201) until OQSsiquc01 answers it as valid. Run it alone or while onshi-load
loads the server; prints the distribution in ms. Usage: staleness.py [base-url] [count]"""
import json, sys, time, urllib.request

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 50
run = int(time.time()) % 100000

def post(path, body, ctype):
    req = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

out = []
for i in range(count):
    number = f"{run:05d}{i:04d}"
    rec = {"person_id": f"stale-{number}", "insurer_number": "01130012", "insurer_name": "全国健康保険協会東京支部",
           "card_classification": "01", "symbol": "7777", "number": number, "branch": "00",
           "personal_family": "1", "name": "鮮度　試験", "name_kana": "ｾﾝﾄﾞ ｼｹﾝ", "sex": "1",
           "birth_date": "19800101", "insured_name": "鮮度　試験", "address": "東京都", "postal_code": "100-0001",
           "qualification_date": "20200401", "card_issued": "20200401"}
    q = (f"<XmlMsg><MessageHeader><QualificationConfirmationDate>20261120</QualificationConfirmationDate>"
         f"<MedicalInstitutionCode>1310112345</MedicalInstitutionCode></MessageHeader><MessageBody>"
         f"<QualificationConfirmSearchInfo><InsurerNumber>01130012</InsurerNumber><InsuredCardSymbol>7777"
         f"</InsuredCardSymbol><InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>"
         f"<InsuredBranchNumber>00</InsuredBranchNumber><Birthdate>19800101</Birthdate>"
         f"<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>"
         f"</QualificationConfirmSearchInfo></MessageBody></XmlMsg>").encode()
    status, body = post("/insurer/v1/qualifications", json.dumps(rec).encode(), "application/json")
    if status != 201:
        sys.exit(f"registration refused: {status} {body[:200]!r}")
    t0 = time.perf_counter()
    while True:
        _, ans = post("/oqs/v1/req/OQSsiquc01req_stale.xml", q, "application/xml")
        if b"<QualificationValidity>1</QualificationValidity>" in ans:
            break
        if time.perf_counter() - t0 > 30:
            sys.exit("not visible after 30 s")
    out.append((time.perf_counter() - t0) * 1000)
    time.sleep(0.05)

out.sort()
pick = lambda q: out[min(len(out) - 1, int(q * len(out)))]
print(f"registration → visible, {len(out)} registrations: p50 {pick(0.5):.1f} ms  p90 {pick(0.9):.1f} ms  "
      f"p99 {pick(0.99):.1f} ms  max {out[-1]:.1f} ms")
