//! The PDF form of 薬剤情報 (`YZKsiquc01` with an odd `FileCategory`): its lines, written by
//! [`onshi_platform::pdf`] as an A4 document in Japanese.

use onshi_wire::msg::yzk_siquc01::{MonthInf, Patient};

/// The document's lines (size, text).
fn lines(patient: &Patient, months: &[MonthInf], now: &str) -> Vec<(u8, String)> {
    let mut out = vec![
        (16, "薬剤情報".to_string()),
        (
            10,
            format!(
                "氏名 {}　生年月日 {}　作成 {}",
                patient.name, patient.birth, now
            ),
        ),
        (10, String::new()),
    ];
    if months.is_empty() {
        out.push((10, "表示できる薬剤情報はありません。".into()));
    }
    for m in months {
        let kind = if m.pharmacy { "調剤" } else { "医療機関" };
        out.push((
            11,
            format!(
                "{}年{}月　{}（{}）{}",
                &m.month[..4],
                &m.month[4..],
                m.facility_name,
                kind,
                if m.pharmacy && !m.prescriber_name.is_empty() {
                    format!("　処方：{}", m.prescriber_name)
                } else {
                    String::new()
                }
            ),
        ));
        for d in &m.days {
            for g in &d.drugs {
                out.push((
                    9,
                    format!(
                        "  {}/{}/{}　{}　{}{}　{}{}",
                        &d.date[..4],
                        &d.date[4..6],
                        &d.date[6..],
                        g.name,
                        g.quantity,
                        g.unit,
                        onshi_wire::msg::yzk_siquc01::use_class_label(&g.use_class),
                        if g.times.is_empty() {
                            String::new()
                        } else {
                            format!(" {}", g.times)
                        }
                    ),
                ));
                if !g.ingredient.is_empty() || !g.usage.is_empty() {
                    out.push((
                        8,
                        format!("      成分：{}　用法：{}", g.ingredient, g.usage),
                    ));
                }
            }
        }
    }
    out
}

/// Writes the PDF.
pub fn write(patient: &Patient, months: &[MonthInf], now: &str) -> Vec<u8> {
    onshi_platform::pdf::document(&lines(patient, months, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use onshi_wire::msg::yzk_siquc01::{Day, Drug};

    #[test]
    fn a_well_formed_pdf_with_its_text() {
        let patient = Patient {
            name: "山田　太郎".into(),
            kana: None,
            birth: "19800515".into(),
            sex: "1".into(),
        };
        let drug = Drug {
            code: "610406079".into(),
            name: "ガスター散２％".into(),
            quantity: "3".into(),
            unit: "ｇ".into(),
            usage: String::new(),
            times: "14".into(),
            ingredient: "ファモチジン".into(),
            use_class: "21".into(),
            special: String::new(),
        };
        let months: Vec<MonthInf> = (0..40)
            .map(|i| MonthInf {
                pharmacy: false,
                org: "1".into(),
                facility: "1310112345".into(),
                facility_name: "オンシ内科クリニック".into(),
                prescriber: String::new(),
                prescriber_name: String::new(),
                month: format!("2026{:02}", 1 + i % 12),
                in_out: "1".into(),
                days: vec![Day {
                    date: "20261008".into(),
                    prescribed: None,
                    drugs: vec![drug.clone()],
                    procedures: vec![],
                }],
            })
            .collect();
        let pdf = write(&patient, &months, "20261121");
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-1.4"));
        assert!(text.ends_with("%%EOF\n"));
        assert!(text.contains(&onshi_platform::pdf::hex("ガスター散２％")));
        assert!(text.contains("/Count 3"), "paginated");
        // Every xref offset points at its object.
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let xref = &text[start..];
        for (i, line) in xref
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .enumerate()
        {
            let off: usize = line[..10].parse().unwrap();
            assert!(
                text[off..].starts_with(&format!("{} 0 obj", i + 1)),
                "object {}",
                i + 1
            );
        }
    }
}
