//! XML Schema (XSD 1.0) generated from the messages themselves: [`infer`] merges every instance of a message file
//! (the demo requests, and the answers the message modules wrote for every demo persona, error and flow — collected
//! by `cli/tests/it/documents.rs`) into one schema: each element's children in the order the modules write them,
//! optional where some instance lacks them, repeated where one holds several; leaves are strings (the code tables
//! and formats are the modules' business, `docs/WIRE.md`). The generated files are `wire/xsd/*.xsd`, served at
//! `/xsd/`, for vendors to validate their files.

use std::collections::BTreeMap;

use crate::xml::Element;

/// What the instances say about one element (at one place of the tree).
#[derive(Debug, Default, Clone)]
struct Shape {
    /// Every child name seen.
    order: Vec<String>,
    /// Per child: the smallest position it had among its siblings (the tie-break, whatever the instances' order).
    pos: BTreeMap<String, usize>,
    /// Pairs (a, b): some instance has a child `a` before a child `b` (another name).
    before: std::collections::BTreeSet<(String, String)>,
    /// Per child: (fewest, most) occurrences in one instance of this element.
    occurs: BTreeMap<String, (usize, usize)>,
    /// Per child: its shape, from every occurrence.
    kids: BTreeMap<String, Shape>,
    /// Whether some instance has text (a leaf), and whether some instance repeated a child apart (A B A).
    text: bool,
    disordered: bool,
    instances: usize,
}

impl Shape {
    fn add(&mut self, e: &Element) {
        self.instances += 1;
        self.text |= !e.text.trim().is_empty();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, c) in e.children.iter().enumerate() {
            *counts.entry(c.name.as_str()).or_default() += 1;
            let p = self.pos.entry(c.name.clone()).or_insert(i);
            *p = (*p).min(i);
            if !self.order.contains(&c.name) {
                self.order.push(c.name.clone());
            }
            for earlier in &e.children[..i] {
                if earlier.name != c.name {
                    self.before.insert((earlier.name.clone(), c.name.clone()));
                }
            }
            self.kids.entry(c.name.clone()).or_default().add(c);
        }
        // A name repeated apart (A B A) cannot be a sequence.
        let mut seen = Vec::new();
        for c in &e.children {
            if seen.last() != Some(&c.name.as_str()) {
                if seen.contains(&c.name.as_str()) {
                    self.disordered = true;
                }
                seen.push(c.name.as_str());
            }
        }
        for name in &self.order {
            let n = counts.get(name.as_str()).copied().unwrap_or(0);
            let seen_before = self.instances > 1;
            let o = self.occurs.entry(name.clone()).or_insert(if seen_before {
                (0, n)
            } else {
                (n, n)
            });
            o.0 = o.0.min(n);
            o.1 = o.1.max(n);
        }
    }

    /// The children in an order every instance agrees with (a topological order of `before`, first appearance
    /// breaking ties), or `None` when the instances disagree.
    fn sequence(&self) -> Option<Vec<String>> {
        if self.disordered {
            return None;
        }
        let mut left: Vec<&String> = self.order.iter().collect();
        left.sort_by_key(|n| (self.pos[*n], (*n).clone()));
        let mut out = Vec::with_capacity(left.len());
        while !left.is_empty() {
            let free = left.iter().position(|n| {
                !self
                    .before
                    .iter()
                    .any(|(a, b)| b == *n && left.contains(&a))
            })?;
            out.push(left.remove(free).clone());
        }
        Some(out)
    }

    fn write(&self, name: &str, min: usize, max: usize, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let occurs = format!(
            "{}{}",
            if min == 0 { " minOccurs=\"0\"" } else { "" },
            if max > 1 {
                " maxOccurs=\"unbounded\""
            } else {
                ""
            }
        );
        if self.order.is_empty() {
            out.push_str(&format!(
                "{pad}<xs:element name=\"{name}\" type=\"xs:string\"{occurs}/>\n"
            ));
            return;
        }
        out.push_str(&format!("{pad}<xs:element name=\"{name}\"{occurs}>\n"));
        let mixed = if self.text { " mixed=\"true\"" } else { "" };
        out.push_str(&format!("{pad}  <xs:complexType{mixed}>\n"));
        if let Some(order) = self.sequence() {
            out.push_str(&format!("{pad}    <xs:sequence>\n"));
            for child in &order {
                let (lo, hi) = self.occurs[child];
                self.kids[child].write(child, lo, hi, depth + 3, out);
            }
            out.push_str(&format!("{pad}    </xs:sequence>\n"));
        } else {
            // Instances disagree on the order: any order, each child as often as seen.
            out.push_str(&format!(
                "{pad}    <xs:choice minOccurs=\"0\" maxOccurs=\"unbounded\">\n"
            ));
            for child in &self.order {
                self.kids[child].write(child, 1, 1, depth + 3, out);
            }
            out.push_str(&format!("{pad}    </xs:choice>\n"));
        }
        out.push_str(&format!("{pad}  </xs:complexType>\n"));
        out.push_str(&format!("{pad}</xs:element>\n"));
    }
}

/// The schema of a message file whose instances are `trees` (all with the same root).
pub fn infer<'a>(title: &str, trees: impl IntoIterator<Item = &'a Element>) -> Option<String> {
    let mut root: Option<(String, Shape)> = None;
    for t in trees {
        let (name, shape) = root.get_or_insert_with(|| (t.name.clone(), Shape::default()));
        if *name != t.name {
            continue;
        }
        shape.add(t);
    }
    let (name, shape) = root?;
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!-- {title}: generated by onshi from the files its message modules read and write (wire/src/xsd.rs). -->\n\
         <xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" elementFormDefault=\"qualified\">\n"
    );
    shape.write(&name, 1, 1, 1, &mut out);
    out.push_str("</xs:schema>\n");
    Some(out)
}

/// The generated schemas, by file name (served at `/xsd/<name>`).
pub const FILES: &[(&str, &str)] = &[
    (
        "OQSmuhvq01req.xsd",
        include_str!("../xsd/OQSmuhvq01req.xsd"),
    ),
    (
        "OQSmuhvq01res.xsd",
        include_str!("../xsd/OQSmuhvq01res.xsd"),
    ),
    (
        "OQSmuhvq02req.xsd",
        include_str!("../xsd/OQSmuhvq02req.xsd"),
    ),
    (
        "OQSmuhvq02res.xsd",
        include_str!("../xsd/OQSmuhvq02res.xsd"),
    ),
    (
        "OQSmuimm01req.xsd",
        include_str!("../xsd/OQSmuimm01req.xsd"),
    ),
    (
        "OQSmuimm01res.xsd",
        include_str!("../xsd/OQSmuimm01res.xsd"),
    ),
    (
        "OQSmuimm02req.xsd",
        include_str!("../xsd/OQSmuimm02req.xsd"),
    ),
    (
        "OQSmuimm02res.xsd",
        include_str!("../xsd/OQSmuimm02res.xsd"),
    ),
    (
        "OQSmuonq01req.xsd",
        include_str!("../xsd/OQSmuonq01req.xsd"),
    ),
    (
        "OQSmuonq01res.xsd",
        include_str!("../xsd/OQSmuonq01res.xsd"),
    ),
    (
        "OQSmuonq02req.xsd",
        include_str!("../xsd/OQSmuonq02req.xsd"),
    ),
    (
        "OQSmuonq02res.xsd",
        include_str!("../xsd/OQSmuonq02res.xsd"),
    ),
    (
        "OQSmuquc01req.xsd",
        include_str!("../xsd/OQSmuquc01req.xsd"),
    ),
    (
        "OQSmuquc01res.xsd",
        include_str!("../xsd/OQSmuquc01res.xsd"),
    ),
    (
        "OQSmuquc02req.xsd",
        include_str!("../xsd/OQSmuquc02req.xsd"),
    ),
    (
        "OQSmuquc02res.xsd",
        include_str!("../xsd/OQSmuquc02res.xsd"),
    ),
    (
        "OQSmutic01req.xsd",
        include_str!("../xsd/OQSmutic01req.xsd"),
    ),
    (
        "OQSmutic01res.xsd",
        include_str!("../xsd/OQSmutic01res.xsd"),
    ),
    (
        "OQSmutic02req.xsd",
        include_str!("../xsd/OQSmutic02req.xsd"),
    ),
    (
        "OQSmutic02res.xsd",
        include_str!("../xsd/OQSmutic02res.xsd"),
    ),
    (
        "OQSsiimm01req.xsd",
        include_str!("../xsd/OQSsiimm01req.xsd"),
    ),
    (
        "OQSsiimm01res.xsd",
        include_str!("../xsd/OQSsiimm01res.xsd"),
    ),
    (
        "OQSsiquc01req.xsd",
        include_str!("../xsd/OQSsiquc01req.xsd"),
    ),
    (
        "OQSsiquc01res.xsd",
        include_str!("../xsd/OQSsiquc01res.xsd"),
    ),
    (
        "TKKsiquc01req.xsd",
        include_str!("../xsd/TKKsiquc01req.xsd"),
    ),
    (
        "TKKsiquc01res.xsd",
        include_str!("../xsd/TKKsiquc01res.xsd"),
    ),
    (
        "YZKsiquc01req.xsd",
        include_str!("../xsd/YZKsiquc01req.xsd"),
    ),
    (
        "YZKsiquc01res.xsd",
        include_str!("../xsd/YZKsiquc01res.xsd"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(s: &str) -> Element {
        crate::xml::parse(s.as_bytes(), &Default::default())
            .unwrap()
            .root
    }

    #[test]
    fn optional_repeated_and_ordered_children_are_inferred() {
        let a = tree("<R><H><A>1</A><C>3</C></H><B><I>x</I><I>y</I></B></R>");
        let b = tree("<R><H><A>1</A><B>2</B><C>3</C></H></R>");
        let x = infer("test", [&a, &b]).unwrap();
        assert!(x.contains("<xs:element name=\"R\">"), "{x}");
        // H/B is optional (absent in a), between A and C.
        let h = &x[x.find("name=\"H\"").unwrap()..];
        let (pa, pb, pc) = (
            h.find("name=\"A\"").unwrap(),
            h.find("name=\"B\" type").unwrap(),
            h.find("name=\"C\"").unwrap(),
        );
        assert!(pa < pb && pb < pc, "{x}");
        assert!(
            x.contains("<xs:element name=\"B\" type=\"xs:string\" minOccurs=\"0\"/>"),
            "{x}"
        );
        assert!(
            x.contains("<xs:element name=\"I\" type=\"xs:string\" maxOccurs=\"unbounded\"/>"),
            "{x}"
        );
        // The body B is optional (absent in b).
        assert!(x.contains("<xs:element name=\"B\" minOccurs=\"0\">"), "{x}");
    }

    #[test]
    fn disagreeing_orders_become_a_choice() {
        let a = tree("<R><A/><B/></R>");
        let b = tree("<R><B/><A/></R>");
        let x = infer("t", [&a, &b]).unwrap();
        assert!(x.contains("xs:choice"), "{x}");
    }
}
