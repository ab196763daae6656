//! Simple Japanese PDF documents (the PDF forms of 薬剤情報 and 特定健診情報): A4 pages of text lines, written
//! directly (PDF 1.4). Text uses the standard Japanese font HeiseiKakuGo-W5 with the UniJIS-UCS2-H CMap (viewers
//! supply the font; nothing is embedded) and carries a ToUnicode map, so it can be read and searched.

const LINES_PER_PAGE: usize = 48;
const TOP: i32 = 800;
const LEADING: i32 = 15;

/// UTF-16BE hex of a text (BMP only; other characters become 〓).
pub fn hex(text: &str) -> String {
    text.chars()
        .map(|c| {
            let u = u32::from(c);
            format!("{:04X}", if u <= 0xFFFF { u } else { 0x3013 })
        })
        .collect()
}

/// Writes the PDF of these lines (font size in points, text), 48 to a page, numbered.
pub fn document(all: &[(u8, String)]) -> Vec<u8> {
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
