//! The PDF form of 薬剤情報 (`YZKsiquc01` with an odd `FileCategory`): an A4 document in Japanese, written
//! directly (PDF 1.4). Text uses the standard Japanese font HeiseiKakuGo-W5 with the UniJIS-UCS2-H CMap (viewers
//! supply the font; nothing is embedded) and carries a ToUnicode map, so it can be read and searched.

use onshi_wire::msg::yzk_siquc01::{MonthInf, Patient};

const LINES_PER_PAGE: usize = 48;
const TOP: i32 = 800;
const LEADING: i32 = 15;

/// UTF-16BE hex of a text (BMP only; other characters become 〓).
fn hex(text: &str) -> String {
    text.chars()
        .map(|c| {
            let u = u32::from(c);
            format!("{:04X}", if u <= 0xFFFF { u } else { 0x3013 })
        })
        .collect()
}

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
                        g.use_class,
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
    let all = lines(patient, months, now);
    let pages: Vec<&[(u8, String)]> = all.chunks(LINES_PER_PAGE).collect();
    let n_pages = pages.len();
    // Objects: 1 catalog, 2 pages, 3 font, 4 descendant, 5 descriptor, 6 ToUnicode, then (page, content) pairs.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let kids: String = (0..n_pages)
        .map(|i| format!("{} 0 R ", 7 + 2 * i))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>").into_bytes());
    objects.push(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiKakuGo-W5-UniJIS-UCS2-H /Encoding /UniJIS-UCS2-H \
/DescendantFonts [4 0 R] /ToUnicode 6 0 R >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiKakuGo-W5 \
/CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /FontDescriptor 5 0 R /DW 1000 >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /FontDescriptor /FontName /HeiseiKakuGo-W5 /Flags 4 /FontBBox [-92 -250 1010 922] \
/ItalicAngle 0 /Ascent 752 /Descent -271 /CapHeight 737 /StemV 114 >>"
            .to_vec(),
    );
    let cmap = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n\
1 begincodespacerange <0000> <FFFF> endcodespacerange\n1 beginbfrange <0000> <FFFF> <0000> endbfrange\n\
endcmap CMapName currentdict /CMap defineresource pop end end\n";
    objects.push(format!("<< /Length {} >>\nstream\n{cmap}endstream", cmap.len()).into_bytes());
    for (p, page) in pages.iter().enumerate() {
        let mut content = String::new();
        let mut y = TOP;
        for (size, text) in page.iter() {
            if !text.is_empty() {
                content.push_str(&format!(
                    "BT /F1 {size} Tf 40 {y} Td <{}> Tj ET\n",
                    hex(text)
                ));
            }
            y -= LEADING;
        }
        content.push_str(&format!(
            "BT /F1 8 Tf 500 30 Td <{}> Tj ET\n",
            hex(&format!("{} / {}", p + 1, n_pages))
        ));
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                8 + 2 * p
            )
            .into_bytes(),
        );
        objects.push(
            format!(
                "<< /Length {} >>\nstream\n{content}endstream",
                content.len()
            )
            .into_bytes(),
        );
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
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
            use_class: "内服".into(),
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
        assert!(text.contains(&hex("ガスター散２％")));
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
