//! Writes checkups the way insurers' software does: an hc08 CDA document per person and the submission archive
//! (`<sender>_<receiver>_<YYYYMMDD><N>_<X>.zip` with `ix08_V08.xml` and `DATA/`), for the demo, the tests and the
//! synthetic nation.

use std::io::Write;

use chrono::NaiveDate;

use crate::cda::Value;
use crate::judge::Sex;

/// One person's checkup to write.
#[derive(Debug, Clone)]
pub struct Example {
    pub insurer: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub kana: String,
    pub sex: Sex,
    pub birth: NaiveDate,
    /// 010 or 020.
    pub program: &'static str,
    /// 10 register, 19 delete.
    pub report: &'static str,
    pub date: NaiveDate,
    pub institution: String,
    pub institution_name: String,
    /// Item code and value; `9N516…` (the doctor's name) is written as the author of `9N511…`.
    pub values: Vec<(&'static str, Value)>,
}

fn pq(v: &str, unit: &str) -> Value {
    Value::Quantity {
        value: v.into(),
        unit: unit.into(),
    }
}

fn cd(code: &str) -> Value {
    Value::Coded {
        code: code.into(),
        system: None,
    }
}

impl Example {
    /// 山田 太郎 of the demo data, checked on 2025-06-01: the reference's judgment vector 1 (予備群該当, 積極的支援).
    pub fn vector_one() -> Self {
        Example {
            insurer: "01130012".into(),
            symbol: "12345678".into(),
            number: "1".into(),
            branch: "00".into(),
            kana: "ヤマダ タロウ".into(),
            sex: Sex::Male,
            birth: NaiveDate::from_ymd_opt(1980, 5, 15).expect("date"),
            program: "010",
            report: "10",
            date: NaiveDate::from_ymd_opt(2025, 6, 1).expect("date"),
            institution: "1310112345".into(),
            institution_name: "オンシ健診センター".into(),
            values: Self::values(&Measures {
                height: 170.0,
                weight: 75.2,
                waist: Some(90.0),
                sbp: 135,
                dbp: 80,
                tg: 120,
                hdl: 50,
                ldl: 120,
                fpg: Some(105),
                hba1c: Some(5.8),
                smoker: true,
                drugs: [false; 3],
                answers: vec![],
                judgments: Some(("2", "1")),
            }),
        }
    }

    /// The values of a 特定健診 (or, without waist and judgments, a 後期高齢者健診).
    pub fn values(m: &Measures) -> Vec<(&'static str, Value)> {
        let bmi = m.weight / (m.height / 100.0).powi(2);
        let mut v = vec![
            ("9N001000000000001", pq(&format!("{:.1}", m.height), "cm")),
            ("9N006000000000001", pq(&format!("{:.1}", m.weight), "kg")),
            ("9N011000000000001", pq(&format!("{bmi:.1}"), "kg/m2")),
        ];
        if let Some(w) = m.waist {
            v.push(("9N016160100000001", pq(&format!("{w:.1}"), "cm")));
        }
        v.extend([
            ("9A755000000000001", pq(&m.sbp.to_string(), "mm[Hg]")),
            ("9A765000000000001", pq(&m.dbp.to_string(), "mm[Hg]")),
            ("9N141000000000011", cd("2")),
            ("3F015000002327101", pq(&m.tg.to_string(), "mg/dL")),
            ("3F070000002327101", pq(&m.hdl.to_string(), "mg/dL")),
            ("3F077000002327101", pq(&m.ldl.to_string(), "mg/dL")),
            ("3B035000002327201", pq("21", "U/L")),
            ("3B045000002327201", pq("19", "U/L")),
            ("3B090000002327101", pq("28", "U/L")),
        ]);
        if let Some(g) = m.fpg {
            v.push(("3D010000001926101", pq(&g.to_string(), "mg/dL")));
        }
        if let Some(a) = m.hba1c {
            v.push(("3D046000001906202", pq(&format!("{a:.1}"), "%")));
        }
        let yes_no = |b: bool| cd(if b { "1" } else { "2" });
        v.extend([
            ("1A020000000191111", cd("1")),
            ("1A010000000191111", cd("1")),
            ("9N056000000000011", cd("2")),
            ("9N061000000000011", cd("2")),
            ("9N066000000000011", cd("2")),
            ("9N701000000000011", yes_no(m.drugs[0])),
            ("9N706000000000011", yes_no(m.drugs[1])),
            ("9N711000000000011", yes_no(m.drugs[2])),
            ("9N736000000000011", cd(if m.smoker { "1" } else { "3" })),
        ]);
        v.extend(m.answers.iter().map(|(item, answer)| (*item, cd(answer))));
        if let Some((metabolic, level)) = m.judgments {
            v.push(("9N501000000000011", cd(metabolic)));
            v.push(("9N506000000000011", cd(level)));
        }
        v.push((
            "9N511000000000049",
            Value::Text("特記すべき所見なし".into()),
        ));
        v.push(("9N516000000000049", Value::Text("健診 花子".into())));
        v
    }
}

/// The measured values of one checkup.
#[derive(Debug, Clone)]
pub struct Measures {
    pub height: f64,
    pub weight: f64,
    pub waist: Option<f64>,
    pub sbp: u32,
    pub dbp: u32,
    pub tg: u32,
    pub hdl: u32,
    pub ldl: u32,
    pub fpg: Option<u32>,
    pub hba1c: Option<f64>,
    pub smoker: bool,
    /// 服薬 血圧, 血糖, 脂質.
    pub drugs: [bool; 3],
    /// The other questionnaire answers (item code, answer code): the 22-item 質問票 (特定健診) or the 15-item
    /// 後期高齢者の質問票.
    pub answers: Vec<(&'static str, &'static str)>,
    /// メタボ判定 and 保健指導レベル codes as submitted (特定健診 only).
    pub judgments: Option<(&'static str, &'static str)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The hc08 document of one person.
pub fn document(e: &Example) -> String {
    let ymd = |d: NaiveDate| d.format("%Y%m%d").to_string();
    let mut x = String::with_capacity(8 * 1024);
    x.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:hl7-org:v3 ../XSD/hc08_V08.xsd">
<typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
<id nullFlavor="NI"/>
"#);
    x.push_str(&format!(
        "<code code=\"{}\" codeSystem=\"1.2.392.200119.6.1001\"/>\n<effectiveTime value=\"{}\"/>\n<confidentialityCode code=\"N\" codeSystem=\"2.16.840.1.113883.5.25\"/>\n",
        e.report,
        ymd(e.date)
    ));
    x.push_str("<recordTarget><patientRole>\n");
    let insurer = padded(&e.insurer);
    for (root, v) in [
        ("1.2.392.200119.6.101", &insurer),
        ("1.2.392.200119.6.204", &e.symbol),
        ("1.2.392.200119.6.205", &e.number),
        ("1.2.392.200119.6.211", &e.branch),
    ] {
        if !v.is_empty() {
            x.push_str(&format!("<id root=\"{root}\" extension=\"{}\"/>\n", esc(v)));
        }
    }
    x.push_str(&format!(
        "<patient><name>{}</name><administrativeGenderCode code=\"{}\" codeSystem=\"1.2.392.200119.6.1104\"/><birthTime value=\"{}\"/></patient>\n</patientRole></recordTarget>\n",
        esc(&e.kana),
        if e.sex == Sex::Male { 1 } else { 2 },
        ymd(e.birth)
    ));
    let org = format!(
        "<id root=\"1.2.392.200119.6.102\" extension=\"{}\"/><name>{}</name>",
        esc(&e.institution),
        esc(&e.institution_name)
    );
    x.push_str(&format!(
        "<author><time value=\"{}\"/><assignedAuthor><id nullFlavor=\"NI\"/><representedOrganization>{org}</representedOrganization></assignedAuthor></author>\n",
        ymd(e.date)
    ));
    x.push_str("<custodian><assignedCustodian><representedCustodianOrganization><id nullFlavor=\"NI\"/></representedCustodianOrganization></assignedCustodian></custodian>\n");
    x.push_str(&format!(
        "<documentationOf><serviceEvent><code code=\"{}\" codeSystem=\"1.2.392.200119.6.1002\"/><effectiveTime value=\"{}\"/>\n<performer typeCode=\"PRF\"><assignedEntity><id nullFlavor=\"NI\"/><representedOrganization>{org}</representedOrganization></assignedEntity></performer></serviceEvent></documentationOf>\n",
        e.program,
        ymd(e.date)
    ));
    x.push_str("<component><structuredBody><component><section><code code=\"01010\" codeSystem=\"1.2.392.200119.6.1010\"/><title>特定健診検査・問診セクション</title><text/>\n");
    let doctor = e.values.iter().find(|(c, _)| *c == "9N516000000000049");
    for (code, value) in e.values.iter().filter(|(c, _)| *c != "9N516000000000049") {
        x.push_str(&format!("<entry><observation classCode=\"OBS\" moodCode=\"EVN\"><code code=\"{code}\" codeSystem=\"1.2.392.200119.6.1005\"/>"));
        match value {
            Value::Quantity { value, unit } => x.push_str(&format!(
                "<value xsi:type=\"PQ\" value=\"{}\" unit=\"{}\"/>",
                esc(value),
                esc(unit)
            )),
            Value::Coded { code: c, system } => {
                let system = system.clone().or_else(|| {
                    crate::items::Master::get()
                        .item(code)
                        .map(|i| i.oid.to_string())
                        .filter(|o| !o.is_empty())
                });
                match system {
                    Some(s) => x.push_str(&format!(
                        "<value xsi:type=\"CD\" code=\"{}\" codeSystem=\"{s}\"/>",
                        esc(c)
                    )),
                    None => x.push_str(&format!("<value xsi:type=\"CD\" code=\"{}\"/>", esc(c))),
                }
            }
            Value::Text(t) => x.push_str(&format!("<value xsi:type=\"ST\">{}</value>", esc(t))),
            Value::Missing => x.push_str("<value nullFlavor=\"NI\"/>"),
        }
        if *code == "9N511000000000049" {
            if let Some((_, Value::Text(name))) = doctor {
                x.push_str(&format!("<author><time nullFlavor=\"NI\"/><assignedAuthor><id nullFlavor=\"NI\"/><assignedPerson><name>{}</name></assignedPerson></assignedAuthor></author>", esc(name)));
            }
        }
        x.push_str("</observation></entry>\n");
    }
    x.push_str("</section></component></structuredBody></component>\n</ClinicalDocument>\n");
    x
}

/// An insurer number as the standard format writes it: 8 digits, a 6-digit 国保 number zero-padded.
pub fn padded(insurer: &str) -> String {
    format!("{insurer:0>8}")
}

/// The name of a submission's root folder (and ZIP): `{sender10}_{receiver8}_{YYYYMMDD}{N}_{X}`.
pub fn root_name(sender: &str, receiver: &str, date: NaiveDate, n: u8, kind: u8) -> String {
    format!(
        "{sender}_{}_{}{n}_{kind}",
        padded(receiver),
        date.format("%Y%m%d")
    )
}

/// The index file of an archive.
pub fn index(
    sender: &str,
    receiver: &str,
    date: NaiveDate,
    interaction: u8,
    kind: u8,
    records: usize,
) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- 対応仕様書：ix08_doc_v0104 -->
<index xmlns="https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000161103.html" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<interactionType code="{interaction}"/>
<creationTime value="{}"/>
<sender><id root="1.2.392.200119.6.102" extension="{sender}"/></sender>
<receiver><id root="1.2.392.200119.6.101" extension="{}"/></receiver>
<serviceEventType code="{kind}"/>
<totalRecordCount value="{records}"/>
</index>
"#,
        date.format("%Y%m%d"),
        padded(receiver)
    )
}

/// A submission archive being written (interaction type 12 閲覧用, 実施区分 1 特定健診情報): documents are compressed
/// as they are added; the index, which counts them, is written at the end.
pub struct ArchiveWriter<W: Write + std::io::Seek> {
    zip: zip::ZipWriter<W>,
    root: String,
    sender: String,
    receiver: String,
    date: NaiveDate,
    documents: usize,
}

impl<W: Write + std::io::Seek> ArchiveWriter<W> {
    pub fn new(out: W, sender: &str, receiver: &str, date: NaiveDate) -> Self {
        Self {
            zip: zip::ZipWriter::new(out),
            root: root_name(sender, receiver, date, 0, 1),
            sender: sender.to_string(),
            receiver: receiver.to_string(),
            date,
            documents: 0,
        }
    }

    fn options() -> zip::write::SimpleFileOptions {
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
    }

    pub fn add(&mut self, document: &str) -> zip::result::ZipResult<()> {
        self.documents += 1;
        let name = format!(
            "{}/DATA/h{}{}01{:06}.xml",
            self.root,
            self.sender,
            self.date.format("%Y%m%d"),
            self.documents
        );
        self.zip.start_file(name, Self::options())?;
        self.zip.write_all(document.as_bytes())?;
        Ok(())
    }

    pub fn documents(&self) -> usize {
        self.documents
    }

    pub fn finish(mut self) -> zip::result::ZipResult<W> {
        self.zip
            .start_file(format!("{}/ix08_V08.xml", self.root), Self::options())?;
        let ix = index(
            &self.sender,
            &self.receiver,
            self.date,
            12,
            1,
            self.documents,
        );
        self.zip.write_all(ix.as_bytes())?;
        self.zip.finish()
    }
}

/// A submission archive of these documents into `out`.
pub fn archive<W: Write + std::io::Seek>(
    out: W,
    sender: &str,
    receiver: &str,
    date: NaiveDate,
    documents: impl IntoIterator<Item = String>,
) -> zip::result::ZipResult<()> {
    let mut w = ArchiveWriter::new(out, sender, receiver, date);
    for doc in documents {
        w.add(&doc)?;
    }
    w.finish()?;
    Ok(())
}

/// The demo archive of the README's tour: 山田 太郎's 特定健診 of 2025-06-01, sent by the demo clinic to 01130012.
pub const DEMO_ARCHIVE: &str = "seed/demo/checkups/1310112345_01130012_202506100_1.zip";

/// The bytes of [`DEMO_ARCHIVE`].
pub fn demo_archive() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let date = NaiveDate::from_ymd_opt(2025, 6, 10).expect("date");
    archive(
        &mut out,
        "1310112345",
        "01130012",
        date,
        [document(&Example::vector_one())],
    )
    .expect("an archive in memory");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped demo archive is what this code writes (run with `ONSHI_REGENERATE=1` after a change).
    #[test]
    fn the_demo_archive_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEMO_ARCHIVE);
        let fresh = demo_archive();
        if std::env::var_os("ONSHI_REGENERATE").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            fresh,
            "run with ONSHI_REGENERATE=1"
        );
    }
}
