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

/// The master: the shipped table, extended or overridden at start-up by the operator's own
/// ([`Master::init_from_file`], `ONSHI_CHECKUP_ITEMS`) — for the items of the full MHLW tables the shipped subset
/// lacks.
pub struct Master {
    pub items: Vec<Item>,
    by_code: HashMap<&'static str, usize>,
}

static MASTER: OnceLock<Master> = OnceLock::new();

const TABLE: &str = include_str!("../data/items.tsv");

impl Master {
    pub fn get() -> &'static Master {
        MASTER.get_or_init(|| Master::load(None).expect("the shipped table is valid (unit-tested)"))
    }

    /// Extends the shipped table with the rows of the TSV file at `path` (the shipped table's columns; a code
    /// already there is replaced). Called once at start-up, before the first use.
    pub fn init_from_file(path: &str) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        // Read once per process and kept for its life, as the shipped table is.
        let text: &'static str = Box::leak(text.into_boxed_str());
        let master = Master::load(Some(text)).map_err(|e| format!("{path}: {e}"))?;
        MASTER
            .set(master)
            .map_err(|_| "the checkup item master was already in use".to_string())
    }

    /// The shipped table, then the rows of `extra` over it.
    fn load(extra: Option<&'static str>) -> Result<Master, String> {
        let mut master = Master {
            items: Vec::new(),
            by_code: HashMap::new(),
        };
        for table in std::iter::once(TABLE).chain(extra) {
            for item in parse(table)? {
                match master.by_code.get(item.code) {
                    Some(&i) => master.items[i] = item,
                    None => {
                        master.by_code.insert(item.code, master.items.len());
                        master.items.push(item);
                    }
                }
            }
        }
        Ok(master)
    }

    pub fn item(&self, code: &str) -> Option<&Item> {
        self.by_code.get(code).map(|&i| &self.items[i])
    }
}

/// The rows of an item table (see `data/items.tsv` for the columns); `#` lines and blank lines are skipped.
fn parse(table: &'static str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for (n, line) in table.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let row = |m: String| format!("line {}: {m}", n + 1);
        let f: Vec<&'static str> = line.split('\t').collect();
        let [code, name, value_type, unit, decimals, min, max, specific, elderly, key, oid, since] =
            f[..]
        else {
            return Err(row(format!("{} columns, not 12", f.len())));
        };
        if code.len() != 17 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(row(format!(
                "item code {code:?} is not 17 letters and digits"
            )));
        }
        let value_type = match value_type {
            "PQ" => ValueType::Quantity,
            "ST" => ValueType::Text,
            "CD" | "CO" => ValueType::Coded,
            other => return Err(row(format!("type {other:?} is not PQ, CD, CO or ST"))),
        };
        let number = |what: &str, s: &str| -> Result<Option<f64>, String> {
            match s {
                "" => Ok(None),
                s => s
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| row(format!("{what} {s:?} is not a number"))),
            }
        };
        let range = match (number("min", min)?, number("max", max)?) {
            (Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
            (None, None) => None,
            _ => {
                return Err(row(
                    "min and max must both be numbers, min ≤ max, or both empty".into(),
                ))
            }
        };
        if value_type == ValueType::Quantity && unit.is_empty() {
            return Err(row("a PQ item needs its unit".into()));
        }
        let condition = |s: &str| -> Result<Condition, String> {
            let ok = s.len() == 1 && s.bytes().all(|b| b.is_ascii_alphanumeric());
            ok.then(|| Condition::parse(s))
                .ok_or_else(|| row(format!("condition {s:?} is not one digit or letter")))
        };
        items.push(Item {
            code,
            name,
            value_type,
            unit,
            decimals: decimals
                .parse()
                .map_err(|_| row(format!("decimals {decimals:?} is not a small number")))?,
            range,
            specific: condition(specific)?,
            elderly: condition(elderly)?,
            key,
            oid,
            since: since
                .parse()
                .map_err(|_| row(format!("first fiscal year {since:?} is not a year")))?,
        });
    }
    Ok(items)
}

/// Whether the simulator knows the values of this code system (then a code outside them is refused).
pub fn has_table(oid: &str) -> bool {
    table(oid, FIRST_V4_YEAR).is_some()
}

/// The fiscal year the 第4期 tables (`XMLhc24tab`) begin.
pub const FIRST_V4_YEAR: i32 = 2024;

/// The meaning of a coded value of a checkup of fiscal year `fy`, by code system (reference §3.3–3.5), for display
/// (`DataValueName`) and validation. Before FY2024 飲酒 and 飲酒量 had the 第3期 answer sets.
pub fn meaning(oid: &str, code: &str, fy: i32) -> Option<&'static str> {
    table(oid, fy)?
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, m)| *m)
}

fn table(oid: &str, fy: i32) -> Option<&'static [(&'static str, &'static str)]> {
    const YES_NO: &[(&str, &str)] = &[("1", "はい"), ("2", "いいえ")];
    const TARGET: &[(&str, &str)] = &[("0", "詳細健診以外で実施"), ("1", "検査結果による対象者")];
    let oid = oid.strip_prefix("1.2.392.200119.6.")?;
    let table: &'static [(&str, &str)] = match oid {
        // The 第3期 answer sets of 飲酒 and 飲酒量 (reference §3.3 [V] values; the old OID is not confirmed, so
        // the 第4期 one is read with the old values).
        "24040" if fy < FIRST_V4_YEAR => &[("1", "毎日"), ("2", "時々"), ("3", "ほとんど飲まない")],
        "24050" if fy < FIRST_V4_YEAR => &[
            ("1", "1合未満"),
            ("2", "1～2合未満"),
            ("3", "2～3合未満"),
            ("4", "3合以上"),
        ],
        "2110" => &[
            ("1", "0"),
            ("2", "I"),
            ("3", "IIa"),
            ("4", "IIb"),
            ("5", "III"),
            ("6", "IV"),
        ],
        "2111" | "2112" => &[("1", "0"), ("2", "1"), ("3", "2"), ("4", "3"), ("5", "4")],
        "2113" => &[
            ("1", "I(a)"),
            ("2", "I(b)"),
            ("3", "II"),
            ("4", "III(a)"),
            ("5", "III(b)"),
            ("6", "IV"),
            ("7", "V(a)"),
            ("8", "V(b)"),
            ("9", "VI"),
        ],
        "18050" => &[
            ("1", "付加価値の高い情報提供"),
            ("2", "専門職による対面説明"),
            ("3", "両方"),
        ],
        "18060" => &[("1", "健診1週間以内に初回面接実施")],
        "18080" => &[
            ("1", "所見なし"),
            ("2", "軽度"),
            ("3", "中等度"),
            ("4", "重度"),
        ],
        "18090" => &[
            ("1", "網膜症なし"),
            ("2", "単純"),
            ("3", "増殖前"),
            ("4", "増殖"),
        ],
        "18110" | "18130" => TARGET,
        "18120" => &[
            ("0", "詳細健診以外で実施"),
            ("1", "検査結果による対象者"),
            ("2", "不整脈による対象者"),
        ],
        "19010" => &[
            ("1", "よい"),
            ("2", "まあよい"),
            ("3", "ふつう"),
            ("4", "あまりよくない"),
            ("5", "よくない"),
        ],
        "19020" => &[
            ("1", "満足"),
            ("2", "やや満足"),
            ("3", "やや不満"),
            ("4", "不満"),
        ],
        "19120" => &[("1", "吸っている"), ("2", "吸っていない"), ("3", "やめた")],
        "19030" | "19040" | "19050" | "19060" | "19070" | "19080" | "19090" | "19100" | "19110"
        | "19130" | "19140" | "19150" => YES_NO,
        "2001" => &[("1", "特記すべきことあり"), ("2", "特記すべきことなし")],
        "2002" => &[("1", "所見あり"), ("2", "所見なし")],
        "2003" => YES_NO,
        "2004" => &[("1", "速い"), ("2", "ふつう"), ("3", "遅い")],
        "2007" => &[
            ("1", "改善するつもりはない"),
            ("2", "改善するつもりである（概ね6か月以内）"),
            ("3", "近いうちに改善するつもりである（概ね1か月以内）"),
            ("4", "既に改善に取り組んでいる（6か月未満）"),
            ("5", "既に改善に取り組んでいる（6か月以上）"),
        ],
        "2102" => &[
            ("1", "－"),
            ("2", "±"),
            ("3", "＋"),
            ("4", "＋＋"),
            ("5", "＋＋＋"),
        ],
        "2202" => &[
            ("2", "食後10時間以上"),
            ("3", "食後3.5時間以上10時間未満"),
            ("4", "食後3.5時間未満"),
        ],
        "1008" => &[
            ("1", "基準該当"),
            ("2", "予備群該当"),
            ("3", "非該当"),
            ("4", "判定不能"),
        ],
        "3001" => &[
            ("1", "積極的支援"),
            ("2", "動機付け支援"),
            ("3", "なし（情報提供）"),
            ("4", "判定不能"),
        ],
        "24060" => &[
            ("1", "はい"),
            ("2", "以前は吸っていたが最近1ヶ月間は吸っていない"),
            ("3", "いいえ"),
        ],
        "24040" => &[
            ("1", "毎日"),
            ("2", "週5～6日"),
            ("3", "週3～4日"),
            ("4", "週1～2日"),
            ("5", "月に1～3日"),
            ("6", "月に1日未満"),
            ("7", "やめた"),
            ("8", "飲まない（飲めない）"),
        ],
        "24050" => &[
            ("1", "1合未満"),
            ("2", "1～2合未満"),
            ("3", "2～3合未満"),
            ("4", "3～5合未満"),
            ("5", "5合以上"),
        ],
        "18030" => &[
            ("1", "何でもかんで食べることができる"),
            (
                "2",
                "歯や歯ぐき、かみあわせなど気になる部分があり、かみにくいことがある",
            ),
            ("3", "ほとんどかめない"),
        ],
        "18040" => &[("1", "毎日"), ("2", "時々"), ("3", "ほとんど摂取しない")],
        "24080" => &[
            ("1", "生理中"),
            ("2", "腎疾患等の基礎疾患があるため排尿障害を有する"),
            ("3", "その他"),
        ],
        _ => return None,
    };
    Some(table)
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

    #[test]
    fn an_operators_table_extends_and_overrides_the_shipped_one() {
        let extra = "# more items\n\
            9N001000000000001\t身長\tPQ\tcm\t1\t90\t250\t1\t1\theight\t\t2018\n\
            9Z999000000000001\t例示項目\tCD\t\t0\t\t\t2\t2\t\t1.2.392.200119.6.2102\t2018\n";
        let shipped = Master::load(None).unwrap();
        let m = Master::load(Some(extra)).unwrap();
        assert_eq!(m.items.len(), shipped.items.len() + 1);
        assert_eq!(
            m.item("9N001000000000001").unwrap().range,
            Some((90.0, 250.0))
        );
        assert_eq!(
            m.item("9Z999000000000001").unwrap().value_type,
            ValueType::Coded
        );
        for (bad, why) in [
            (
                "9N001\t身長\tPQ\tcm\t1\t90\t250\t1\t1\t\t\t2018",
                "line 1: item code",
            ),
            (
                "9N001000000000001\t身長\tPQ\tcm\t1\t90\t250\t1\t1",
                "9 columns",
            ),
            (
                "9N001000000000001\t身長\tXX\tcm\t1\t90\t250\t1\t1\t\t\t2018",
                "type \"XX\"",
            ),
            (
                "9N001000000000001\t身長\tPQ\t\t1\t90\t250\t1\t1\t\t\t2018",
                "needs its unit",
            ),
            (
                "9N001000000000001\t身長\tPQ\tcm\t1\t250\t90\t1\t1\t\t\t2018",
                "min ≤ max",
            ),
            (
                "9N001000000000001\t身長\tPQ\tcm\t1\t90\t250\t12\t1\t\t\t2018",
                "condition",
            ),
            (
                "9N001000000000001\t身長\tPQ\tcm\t1\t90\t250\t1\t1\t\t\tFY",
                "not a year",
            ),
        ] {
            let e = Master::load(Some(bad)).err().unwrap_or_default();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn code_tables_follow_the_fiscal_year() {
        let drinking = "1.2.392.200119.6.24040";
        let amount = "1.2.392.200119.6.24050";
        assert_eq!(meaning(drinking, "2", 2023), Some("時々"));
        assert_eq!(meaning(drinking, "2", 2024), Some("週5～6日"));
        assert_eq!(
            meaning(drinking, "5", 2023),
            None,
            "the 第3期 set has three answers"
        );
        assert_eq!(meaning(amount, "4", 2023), Some("3合以上"));
        assert_eq!(meaning(amount, "5", 2023), None);
        assert_eq!(meaning(amount, "5", 2024), Some("5合以上"));
        // The 詳細な健診 and 後期高齢者の質問票 tables.
        assert_eq!(meaning("1.2.392.200119.6.2113", "9", 2024), Some("VI"));
        assert_eq!(
            meaning("1.2.392.200119.6.18120", "2", 2024),
            Some("不整脈による対象者")
        );
        assert_eq!(meaning("1.2.392.200119.6.18110", "2", 2024), None);
        assert_eq!(meaning("1.2.392.200119.6.19120", "3", 2024), Some("やめた"));
        assert!(has_table("1.2.392.200119.6.19150"));
        // Every coded item of the shipped master has its table.
        for item in Master::get().items.iter().filter(|i| !i.oid.is_empty()) {
            assert!(has_table(item.oid), "{} {}", item.code, item.oid);
        }
    }
}
