//! The real figures the synthetic nation imitates, with their sources. `--report` compares against these.

/// One prefecture: (code, name, population in thousands, postal prefix range, municipalities).
pub type Prefecture = (u8, &'static str, u32, (u16, u16), u16);

/// 都道府県: (code, name, population in thousands — 2020 census, 国勢調査 令和2年), postal prefix range
/// (first three digits), municipalities (市区町村 with their own 国保, ≈2020).
pub const PREFECTURES: [Prefecture; 47] = [
    (1, "北海道", 5225, (40, 99), 179),
    (2, "青森県", 1238, (30, 39), 40),
    (3, "岩手県", 1211, (20, 29), 33),
    (4, "宮城県", 2302, (980, 989), 35),
    (5, "秋田県", 960, (10, 19), 25),
    (6, "山形県", 1068, (990, 999), 35),
    (7, "福島県", 1833, (960, 979), 59),
    (8, "茨城県", 2867, (300, 319), 44),
    (9, "栃木県", 1933, (320, 329), 25),
    (10, "群馬県", 1939, (370, 379), 35),
    (11, "埼玉県", 7345, (330, 369), 63),
    (12, "千葉県", 6284, (260, 299), 54),
    (13, "東京都", 14048, (100, 208), 62),
    (14, "神奈川県", 9237, (210, 259), 33),
    (15, "新潟県", 2201, (940, 959), 30),
    (16, "富山県", 1035, (930, 939), 15),
    (17, "石川県", 1133, (920, 929), 19),
    (18, "福井県", 767, (910, 919), 17),
    (19, "山梨県", 810, (400, 409), 27),
    (20, "長野県", 2048, (380, 399), 77),
    (21, "岐阜県", 1979, (500, 509), 42),
    (22, "静岡県", 3633, (410, 439), 35),
    (23, "愛知県", 7542, (440, 499), 54),
    (24, "三重県", 1770, (510, 519), 29),
    (25, "滋賀県", 1414, (520, 529), 19),
    (26, "京都府", 2578, (600, 629), 26),
    (27, "大阪府", 8838, (530, 599), 43),
    (28, "兵庫県", 5465, (650, 679), 41),
    (29, "奈良県", 1324, (630, 639), 39),
    (30, "和歌山県", 923, (640, 649), 30),
    (31, "鳥取県", 553, (680, 689), 19),
    (32, "島根県", 671, (690, 699), 19),
    (33, "岡山県", 1888, (700, 719), 27),
    (34, "広島県", 2800, (720, 739), 23),
    (35, "山口県", 1342, (740, 759), 19),
    (36, "徳島県", 720, (770, 779), 24),
    (37, "香川県", 950, (760, 769), 17),
    (38, "愛媛県", 1335, (790, 799), 20),
    (39, "高知県", 692, (780, 789), 34),
    (40, "福岡県", 5135, (800, 839), 60),
    (41, "佐賀県", 811, (840, 849), 20),
    (42, "長崎県", 1312, (850, 859), 21),
    (43, "熊本県", 1738, (860, 869), 45),
    (44, "大分県", 1124, (870, 879), 18),
    (45, "宮崎県", 1070, (880, 889), 26),
    (46, "鹿児島県", 1588, (890, 899), 43),
    (47, "沖縄県", 1467, (900, 909), 41),
];

/// Population by 5-year age band, thousands (2020 census; the last band is 100+).
pub const AGE_BANDS: [u32; 21] = [
    4541, 4988, 5300, 5594, 6264, 6340, 6734, 7626, 8580, 9796, 8727, 7953, 7410, 8466, 9163, 7090,
    5428, 3739, 1791, 502, 80,
];

/// Total population (thousands) of the census the tables come from.
pub fn population_thousands() -> u32 {
    PREFECTURES.iter().map(|p| p.2).sum()
}

/// Insured persons by insurer type, thousands (厚生労働省 医療保険に関する基礎資料, 令和3年度末 approx.), and the
/// number of insurers of each type. Used by `--report`.
pub const INSURED_BY_TYPE: [(&str, u32, u32); 6] = [
    ("協会けんぽ", 40_270, 47),
    ("健保組合", 28_380, 1_388),
    ("共済組合", 8_690, 85),
    ("市町村国保", 25_370, 1_716),
    ("国保組合", 2_680, 160),
    ("後期高齢者医療", 18_430, 47),
];

/// Facilities (seed document 001: 2023-01-08), and per type the share that applied for a card reader, is ready
/// (準備完了) and operational (運用開始), in per mille of all facilities of the type.
pub const FACILITIES: [(FacilityType, u32, u32, u32, u32); 4] = [
    (FacilityType::Hospital, 8_186, 984, 633, 531),
    (FacilityType::Clinic, 89_804, 901, 381, 287),
    (FacilityType::Dental, 70_468, 873, 392, 315),
    (FacilityType::Pharmacy, 61_478, 947, 737, 667),
];

/// Total facilities in the seed document.
pub const FACILITIES_TOTAL: u32 = 229_936;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacilityType {
    Hospital,
    Clinic,
    Dental,
    Pharmacy,
}

impl FacilityType {
    pub fn label(self) -> &'static str {
        match self {
            Self::Hospital => "病院",
            Self::Clinic => "医科診療所",
            Self::Dental => "歯科診療所",
            Self::Pharmacy => "薬局",
        }
    }
}

/// My Number cards: issued ≈72.61 M for a population of ≈125.8 M (57.7 %, seed 001, 2023-01); health-insurance
/// use registered 40,713,474 = 56.1 % of issued cards (seed 001, 2023-01-09). Per mille.
pub const CARD_ISSUED_PER_MILLE: u32 = 577;
pub const CARD_REGISTERED_PER_MILLE: u32 = 561;

/// Rates of the histories the generator creates (design choices, documented in docs/SEED.md).
pub mod rates {
    /// Employees (and their dependants) who changed jobs within the last two years: old qualification lost (03).
    pub const JOB_CHANGE_PER_MILLE: u32 = 60;
    /// 国保 members aged 62–74 who came from an employee insurance at retirement.
    pub const RETIRED_PER_MILLE: u32 = 500;
    /// Persons aged 60+ whose qualification ended by death (01) within the last year.
    pub const DEATH_PER_MILLE_60_PLUS: u32 = 15;
    /// 国保 households on a 短期被保険者証 (03); a third of those cards have expired.
    pub const SHORT_TERM_CARD_PER_MILLE: u32 = 15;
    /// Persons holding a 限度額適用認定証.
    pub const LIMIT_CERT_PER_MILLE: u32 = 20;
    /// 特定疾病 (人工透析 ≈ 0.28 % of the population).
    pub const DIALYSIS_PER_100K: u32 = 280;
    pub const HEMOPHILIA_PER_100K: u32 = 5;
    /// 後期高齢者 一部負担割合: 3割 and 2割 shares (the rest 1割).
    pub const LATE_30_PER_MILLE: u32 = 70;
    pub const LATE_20_PER_MILLE: u32 = 200;
    /// 70–74 高齢受給者証 at 3割 (現役並み); the rest 2割.
    pub const ELDERLY_30_PER_MILLE: u32 = 100;
    /// 生活保護 (医療扶助) recipients: ≈ 2.02 million of 124 million (≈ 16 per mille, MHLW 2023), drawn from the 国保
    /// and 後期高齢者 members (≈ 35 % of the population), whose qualification ends (02 生活保護受給開始) when 保護
    /// starts: 16.3 / 0.35 ≈ 47 per mille of them.
    pub const WELFARE_PER_MILLE_OF_KOKUHO_AND_LATE: u32 = 47;
    /// Recipients in the nation (MHLW 被保護者調査, 2023), for `--report`.
    pub const WELFARE_RECIPIENTS: u64 = 2_020_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        assert_eq!(population_thousands(), 126_146);
        let ages: u32 = AGE_BANDS.iter().sum();
        assert!((125_000..127_000).contains(&ages), "{ages}");
        let fac: u32 = FACILITIES.iter().map(|f| f.1).sum();
        assert_eq!(fac, FACILITIES_TOTAL);
        let municipalities: u32 = PREFECTURES.iter().map(|p| u32::from(p.4)).sum();
        assert!((1_700..1_750).contains(&municipalities), "{municipalities}");
        for (i, p) in PREFECTURES.iter().enumerate() {
            assert_eq!(usize::from(p.0), i + 1);
        }
    }
}
