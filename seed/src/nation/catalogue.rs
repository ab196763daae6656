//! The insurers and places of the synthetic nation. The catalogue does not depend on the seed: the same
//! insurers exist at every scale (47 協会けんぽ branches, 1,388 健保組合, 85 共済組合, 1,718 市町村国保,
//! 160 国保組合, 47 後期高齢者医療広域連合), every number with a valid check digit, names invented.

use onshi_wire::ids::InsurerNumber;

use super::names::{COMPANY_HEAD, COMPANY_TAIL, GUILD, PLACE_HEAD, PLACE_TAIL};
use super::params::{INSURED_BY_TYPE, PREFECTURES};

/// Insurer types (the rows of `--report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Kyokai,
    Kumiai,
    Kyosai,
    Kokuho,
    KokuhoKumiai,
    Kouki,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Kyokai,
        Kind::Kumiai,
        Kind::Kyosai,
        Kind::Kokuho,
        Kind::KokuhoKumiai,
        Kind::Kouki,
    ];
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn label(self) -> &'static str {
        INSURED_BY_TYPE[self.index()].0
    }
}

#[derive(Debug, Clone)]
pub struct Insurer {
    pub number: InsurerNumber,
    pub name: String,
    pub kind: Kind,
    pub pref: u8,
}

/// Numbers the demo population uses; the catalogue skips them so the two never collide.
const RESERVED: [&str; 2] = ["06131270", "131201"];

pub struct Catalogue {
    pub insurers: Vec<Insurer>,
    /// (kind, prefecture) → indexes into `insurers`.
    by_kind_pref: Vec<Vec<Vec<usize>>>,
}

fn pref_short(pref: u8) -> &'static str {
    let name = PREFECTURES[usize::from(pref) - 1].1;
    if name == "北海道" {
        return name;
    }
    name.trim_end_matches(['都', '府', '県'])
}

/// An invented place name, stable for (prefecture, index).
pub fn place(pref: u8, index: u32) -> String {
    let h = (u32::from(pref) * 7919 + index * 104_729) as usize;
    format!(
        "{}{}",
        PLACE_HEAD[h % PLACE_HEAD.len()],
        PLACE_TAIL[(h / PLACE_HEAD.len() + index as usize) % PLACE_TAIL.len()]
    )
}

/// The municipality (市区町村) name for index `m` of a prefecture.
pub fn municipality(pref: u8, m: u32) -> String {
    let suffix = match m % 10 {
        0..=5 => "市",
        6..=8 => "町",
        _ => "村",
    };
    format!("{}{}", place(pref, m), suffix)
}

fn company(i: usize) -> String {
    format!(
        "{}{}",
        COMPANY_HEAD[i % COMPANY_HEAD.len()],
        COMPANY_TAIL[(i / COMPANY_HEAD.len() + i) % COMPANY_TAIL.len()]
    )
}

const MINISTRIES: [&str; 20] = [
    "衆議院",
    "参議院",
    "内閣",
    "総務省",
    "法務省",
    "外務省",
    "財務省",
    "文部科学省",
    "厚生労働省",
    "農林水産省",
    "経済産業省",
    "国土交通省",
    "裁判所",
    "会計検査院",
    "防衛省",
    "環境省",
    "刑務",
    "国家公務員共済組合連合会職員",
    "日本郵政",
    "林野庁",
];

/// Shares a count out to prefectures by population (largest remainder), at least `min` each.
fn by_population(total: u32, min: u32, tokyo_boost: u32) -> Vec<u32> {
    let weights: Vec<u64> = PREFECTURES
        .iter()
        .map(|p| u64::from(p.2) * if p.0 == 13 { u64::from(tokyo_boost) } else { 1 })
        .collect();
    let sum: u64 = weights.iter().sum();
    let spare = u64::from(total - min * 47);
    let mut out: Vec<u32> = weights
        .iter()
        .map(|w| min + (spare * w / sum) as u32)
        .collect();
    let mut rest = total - out.iter().sum::<u32>();
    let mut order: Vec<usize> = (0..47).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((spare * weights[i]) % sum));
    for i in order {
        if rest == 0 {
            break;
        }
        out[i] += 1;
        rest -= 1;
    }
    out
}

impl Catalogue {
    pub fn build() -> Self {
        let mut insurers = Vec::new();
        let mut push = |body: String, name: String, kind: Kind, pref: u8| {
            let number = InsurerNumber::from_body(&body).expect("valid body");
            if RESERVED.contains(&number.as_str()) {
                return false;
            }
            insurers.push(Insurer {
                number,
                name,
                kind,
                pref,
            });
            true
        };
        for p in PREFECTURES {
            push(
                format!("01{:02}001", p.0),
                format!("全国健康保険協会{}支部", pref_short(p.0)),
                Kind::Kyokai,
                p.0,
            );
            push(
                format!("39{:02}001", p.0),
                format!("{}後期高齢者医療広域連合", p.1),
                Kind::Kouki,
                p.0,
            );
        }
        let mut company_index = 0;
        for (i, n) in by_population(1_388, 3, 4).into_iter().enumerate() {
            let pref = i as u8 + 1;
            let mut seq = 1;
            let mut made = 0;
            while made < n {
                let name = format!("{}健康保険組合", company(company_index));
                if push(format!("06{pref:02}{seq:03}"), name, Kind::Kumiai, pref) {
                    made += 1;
                    company_index += 1;
                }
                seq += 1;
            }
        }
        for (i, m) in MINISTRIES.iter().enumerate() {
            push(
                format!("3113{:03}", i + 1),
                format!("{m}共済組合"),
                Kind::Kyosai,
                13,
            );
        }
        for p in PREFECTURES {
            push(
                format!("32{:02}001", p.0),
                format!("{}職員共済組合", p.1),
                Kind::Kyosai,
                p.0,
            );
        }
        for (i, pref) in [
            1u8, 4, 11, 12, 13, 14, 15, 22, 23, 26, 27, 28, 33, 34, 40, 43, 13,
        ]
        .into_iter()
        .enumerate()
        {
            push(
                format!("32{pref:02}{:03}", 2 + i),
                format!("{}市職員共済組合", place(pref, 900 + i as u32)),
                Kind::Kyosai,
                pref,
            );
        }
        push(
            "3413001".into(),
            "日本私立学校振興・共済事業団".into(),
            Kind::Kyosai,
            13,
        );
        for p in PREFECTURES {
            for m in 0..u32::from(p.4) {
                push(
                    format!("{:02}{:03}", p.0, m + 1),
                    format!("{}国民健康保険", municipality(p.0, m)),
                    Kind::Kokuho,
                    p.0,
                );
            }
        }
        for (i, n) in by_population(160, 1, 3).into_iter().enumerate() {
            let pref = i as u8 + 1;
            for k in 0..n {
                push(
                    format!("{pref:02}{:03}", 300 + k),
                    format!(
                        "{}{}国民健康保険組合",
                        pref_short(pref),
                        GUILD[k as usize % GUILD.len()]
                    ),
                    Kind::KokuhoKumiai,
                    pref,
                );
            }
        }
        let mut by_kind_pref = vec![vec![Vec::new(); 48]; Kind::ALL.len()];
        for (i, ins) in insurers.iter().enumerate() {
            by_kind_pref[ins.kind.index()][usize::from(ins.pref)].push(i);
        }
        Self {
            insurers,
            by_kind_pref,
        }
    }

    /// Insurers of `kind` in `pref`; for 共済 the national ones (Tokyo) are added to every prefecture's list.
    pub fn of(&self, kind: Kind, pref: u8) -> &[usize] {
        let local = &self.by_kind_pref[kind.index()][usize::from(pref)];
        if local.is_empty() {
            &self.by_kind_pref[kind.index()][13]
        } else {
            local
        }
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.insurers.iter().filter(|i| i.kind == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_the_real_shape() {
        let c = Catalogue::build();
        assert_eq!(c.count(Kind::Kyokai), 47);
        assert_eq!(c.count(Kind::Kouki), 47);
        assert_eq!(c.count(Kind::Kumiai), 1_388);
        assert_eq!(c.count(Kind::Kyosai), 85);
        assert_eq!(c.count(Kind::KokuhoKumiai), 160);
        assert!((1_700..1_750).contains(&c.count(Kind::Kokuho)));
        let mut numbers: Vec<_> = c.insurers.iter().map(|i| i.number).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), c.insurers.len(), "numbers are unique");
        assert!(c
            .insurers
            .iter()
            .filter(|i| i.kind == Kind::Kokuho)
            .all(|i| i.number.is_kokuho()));
        assert!(c
            .insurers
            .iter()
            .filter(|i| i.kind == Kind::Kouki)
            .all(|i| i.number.is_late_elderly()));
        for r in RESERVED {
            assert!(c.insurers.iter().all(|i| i.number.as_str() != r));
        }
    }
}
