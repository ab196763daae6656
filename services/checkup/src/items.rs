//! The 特定健診 item master: which 17-character item codes exist, their XML type, UCUM unit, picture, plausible
//! range and whether each checkup kind requires them (`data/items.tsv`, a subset of MHLW `XMLhc24tab` V4.0 taken
//! from reference `checkups-cda.md` §3; see that file's header for the columns).

use std::collections::HashMap;
use std::sync::OnceLock;

/// The XML value type of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ValueType {
    /// `PQ`: a number with a unit.
    Quantity,
    /// `CD` or `CO`: a code of a code system.
    Coded,
    /// `ST`: text.
    Text,
}

impl ValueType {
    pub fn xml(self) -> &'static str {
        match self {
            ValueType::Quantity => "PQ",
            ValueType::Coded => "CD",
            ValueType::Text => "ST",
        }
    }
}

/// What a checkup kind asks of an item (条件コード).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `1`: required.
    Required,
    /// A letter: at least one item of the group is required (the lower-case glucose groups b/c/d count as one:
    /// fasting glucose, random glucose or HbA1c [I]).
    OneOf(char),
    /// `2` 詳細な健診, `5`/`6`/`7`: reported when done.
    Optional,
    /// `0`: not part of this kind of checkup.
    NotUsed,
}

impl Condition {
    fn parse(s: &str) -> Self {
        match s {
            "1" => Condition::Required,
            "0" => Condition::NotUsed,
            c if c.len() == 1 && c.chars().all(|c| c.is_ascii_lowercase()) => Condition::OneOf('g'),
            c if c.len() == 1 && c.chars().all(|c| c.is_ascii_uppercase()) => {
                Condition::OneOf(c.chars().next().unwrap_or('?'))
            }
            _ => Condition::Optional,
        }
    }
}

/// One item of the master.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub code: &'static str,
    pub name: &'static str,
    pub value_type: ValueType,
    pub unit: &'static str,
    pub decimals: u8,
    pub range: Option<(f64, f64)>,
    /// 特定健診 (program 010) and 後期高齢者健診 (020).
    pub specific: Condition,
    pub elderly: Condition,
    /// What the judgments and the patient view call it (`waist`, `sbp`, …), empty if nothing.
    pub key: &'static str,
    /// The code system of coded values.
    pub oid: &'static str,
    /// First fiscal year the code is valid (2024: new in the 第4期 table).
    pub since: i32,
}

impl Item {
    pub fn condition(&self, program: Program) -> Condition {
        match program {
            Program::Specific => self.specific,
            Program::Elderly => self.elderly,
        }
    }
}

/// The kind of checkup (健診プログラム種別, OID .1002) the simulator registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Program {
    /// 010 特定健診 (40–74).
    Specific,
    /// 020 広域連合の保健事業 = 後期高齢者健診 (75+).
    Elderly,
}

impl Program {
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "010" => Some(Program::Specific),
            "020" => Some(Program::Elderly),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Program::Specific => "010",
            Program::Elderly => "020",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Program::Specific => "特定健診",
            Program::Elderly => "後期高齢者健診",
        }
    }
}

/// The master, read once from the shipped table.
pub struct Master {
    pub items: Vec<Item>,
    by_code: HashMap<&'static str, usize>,
}

const TABLE: &str = include_str!("../data/items.tsv");

impl Master {
    pub fn get() -> &'static Master {
        static MASTER: OnceLock<Master> = OnceLock::new();
        MASTER.get_or_init(|| Master::parse(TABLE))
    }

    fn parse(table: &'static str) -> Master {
        let items: Vec<Item> = table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&'static str> = l.split('\t').collect();
                let num = |s: &str| s.parse::<f64>().ok();
                Item {
                    code: f[0],
                    name: f[1],
                    value_type: match f[2] {
                        "PQ" => ValueType::Quantity,
                        "ST" => ValueType::Text,
                        _ => ValueType::Coded,
                    },
                    unit: f[3],
                    decimals: f[4].parse().unwrap_or(0),
                    range: num(f[5]).zip(num(f[6])),
                    specific: Condition::parse(f[7]),
                    elderly: Condition::parse(f[8]),
                    key: f[9],
                    oid: f[10],
                    since: f[11].parse().unwrap_or(2018),
                }
            })
            .collect();
        let by_code = items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.code, i))
            .collect();
        Master { items, by_code }
    }

    pub fn item(&self, code: &str) -> Option<&Item> {
        self.by_code.get(code).map(|&i| &self.items[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_whole() {
        let m = Master::get();
        assert!(m.items.len() > 100);
        assert!(
            m.items.iter().all(|i| i.code.len() == 17),
            "17-character codes"
        );
        let waist = m.item("9N016160100000001").unwrap();
        assert_eq!(
            (waist.value_type, waist.unit, waist.specific, waist.elderly),
            (
                ValueType::Quantity,
                "cm",
                Condition::OneOf('A'),
                Condition::NotUsed
            )
        );
        assert_eq!(m.item("3F015129902327101").unwrap().since, 2024);
        assert_eq!(
            m.item("3D046000001906202").unwrap().specific,
            Condition::OneOf('g'),
            "glucose groups are one"
        );
    }
}
