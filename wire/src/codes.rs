//! The 業務コード tables OQSCD001–OQSCD044 (reference `oqs-interface.md` §2.9), each a typed enum with its wire
//! code and Japanese label. `from_code` is the only way from a wire string to a value.

/// Behaviour shared by every code table.
pub trait CodeTable: Sized + Copy + 'static {
    /// The table id, e.g. `OQSCD006`.
    const TABLE: &'static str;
    /// The table's Japanese name.
    const NAME: &'static str;
    /// Every value, in code order.
    const ALL: &'static [Self];
    fn code(self) -> &'static str;
    fn label(self) -> &'static str;
    fn from_code(code: &str) -> Option<Self> {
        let code = code.trim();
        Self::ALL.iter().copied().find(|v| v.code() == code)
    }
}

macro_rules! code_table {
    ($(#[$m:meta])* $name:ident, $table:literal, $jname:literal { $($variant:ident = $code:literal : $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[doc = concat!("`", $table, "` ", $jname)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $(#[doc = $label] $variant),+ }

        impl CodeTable for $name {
            const TABLE: &'static str = $table;
            const NAME: &'static str = $jname;
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn code(self) -> &'static str { match self { $(Self::$variant => $code),+ } }
            fn label(self) -> &'static str { match self { $(Self::$variant => $label),+ } }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$name as CodeTable>::from_code(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("{} is not a code of {} {}", s, $table, $jname))
                })
            }
        }
    };
}

code_table!(LimitConsent, "OQSCD001", "限度額適用認定証提供同意フラグ" {
    NotConsented = "0": "未同意",
    Consented = "1": "同意",
});
code_table!(ReferenceClassification, "OQSCD002", "照会区分" {
    MyNumberCard = "1": "マイナンバーカード",
    InsuranceCard = "2": "被保険者証情報",
});
code_table!(SegmentOfResult, "OQSCD003", "処理結果区分" {
    Normal = "1": "正常終了",
    Processing = "2": "処理中",
    Abnormal = "9": "異常終了",
});
code_table!(ProcessingResultStatus, "OQSCD004", "処理結果状況" {
    Normal = "1": "正常終了",
    Error = "2": "エラー（異常終了）",
});
code_table!(CharacterCode, "OQSCD005", "文字コード識別" {
    Utf8 = "0": "UTF-8",
    ShiftJis = "1": "Shift_JIS",
});
code_table!(QualificationValidity, "OQSCD006", "資格有効性" {
    Valid = "1": "有効",
    Invalid = "2": "無効",
    InvalidNewExists = "3": "無効（新しい資格あり）",
    NotFound = "4": "該当資格なし",
    Multiple = "5": "複数該当",
    ValidUnregistered = "6": "有効（未登録）",
});
code_table!(Sex, "OQSCD007", "性別" {
    Male = "1": "男",
    Female = "2": "女",
    Unset = "3": "未設定",
});
code_table!(ReasonOfLoss, "OQSCD008", "資格喪失事由" {
    Death = "01": "死亡",
    PublicAssistance = "02": "生活保護受給開始",
    OtherInsurance = "03": "医療保険等の資格取得",
    Other = "99": "その他",
});
code_table!(PersonalFamily, "OQSCD009", "本人・家族区分" {
    Insured = "1": "本人",
    Family = "2": "家族",
});
code_table!(InsuredCardClassification, "OQSCD010", "被保険者証区分" {
    General = "01": "被保険者証（一般）",
    Retired = "02": "被保険者証（退職）",
    ShortTermGeneral = "03": "短期被保険者証（一般）",
    ShortTermRetired = "04": "短期被保険者証（退職）",
    QualificationCertificate = "05": "被保険者資格証明書",
    SpecialRetired = "06": "特例退職被保険者証",
    SelfDefenseForces = "07": "自衛官診療証",
    MedicalAid = "A1": "医療扶助",
});
code_table!(LimitCertificateClassification, "OQSCD011", "限度額適用認定証区分" {
    LimitApplication = "01": "限度額適用区分認定証",
    LimitAndStandardReduction = "02": "限度額適用・標準負担額減額認定証",
    StandardReduction = "03": "標準負担額減額認定証",
});
code_table!(LimitCertificateFlag, "OQSCD012", "限度額適用認定証適用区分" {
    A01 = "A01": "ア",
    A02 = "A02": "イ",
    A03 = "A03": "ウ",
    A04 = "A04": "エ",
    A05 = "A05": "オ",
    A06 = "A06": "オ（境）",
    B01 = "B01": "現役並みⅢ",
    B02 = "B02": "現役並みⅡ",
    B03 = "B03": "現役並みⅠ",
    B04 = "B04": "一般",
    B05 = "B05": "低所得Ⅱ",
    B06 = "B06": "低所得Ⅰ",
    B07 = "B07": "低所得Ⅰ（老福）",
    B08 = "B08": "低所得Ⅰ（境）",
    B09 = "B09": "一般Ⅱ",
    B10 = "B10": "一般Ⅰ",
});
code_table!(SpecificDiseaseCategory, "OQSCD013", "特定疾病療養受療証認定疾病区分" {
    ChronicRenalFailure = "1": "人工透析を必要とする慢性腎不全",
    Hemophilia = "2": "先天性血液凝固因子障害（第VIII・第IX因子）",
    HivFromBloodProducts = "3": "血液凝固因子製剤の投与に起因するHIV感染症",
});
code_table!(LimitCertificateChanged, "OQSCD014", "限度額適用認定証情報変更有無" {
    Unchanged = "0": "変更なし",
    ChangedOrUnknown = "1": "変更あり または 判定不能",
});
code_table!(PreschoolClassification, "OQSCD015", "未就学区分" {
    Preschool = "1": "未就学該当",
});
code_table!(ConsentStatus, "OQSCD016", "同意区分" {
    NoConsent = "0": "同意なし",
    Consented = "1": "同意あり",
    Expired = "2": "同意有効期限切れ",
    HardToObtain = "3": "同意取得困難",
});
code_table!(PrescriptionIssueSelect, "OQSCD017", "処方箋発行形態" {
    Electronic = "1": "電子処方箋",
    Paper = "2": "紙の処方箋",
});
code_table!(TicketType, "OQSCD018", "医療券・調剤券別" {
    MedicalTicket = "01": "医療券",
    DispensingTicket = "02": "調剤券",
});
code_table!(MedicalTreatmentType, "OQSCD019", "診療別" {
    Inpatient = "01": "入院",
    Outpatient = "02": "入院外",
    Dental = "03": "歯科",
    Dispensing = "04": "調剤",
    HomeNursing = "05": "訪問看護",
});
code_table!(SingleOrCombinedUse, "OQSCD020", "単独・併用別" {
    Single = "01": "単独",
    Combined = "02": "併用",
});
code_table!(StatusOfSocialInsurance, "OQSCD021", "社会保険状況" {
    Yes = "01": "あり",
    No = "02": "なし",
});
code_table!(ConsistencyFlag, "OQSCD022", "社会保険状況の整合性フラグ" {
    Inconsistent = "1": "不整合あり",
});
code_table!(StatusOfInfection, "OQSCD023", "感染症法第37条の2 該当状況" {
    Yes = "01": "あり",
    No = "02": "なし",
});
code_table!(StatusOfElderlyMedicalCare, "OQSCD024", "後期高齢者医療の該当状況" {
    Yes = "01": "あり",
    No = "02": "なし",
});
code_table!(StatusOfPrefecturalExpenses, "OQSCD025", "都道府県費の該当状況" {
    Yes = "01": "あり",
    No = "02": "なし",
});
code_table!(DesignatedInstitutionFlag, "OQSCD026", "指定医療機関確認フラグ" {
    Match = "0": "一致",
    Mismatch = "1": "不一致",
});
code_table!(SamePersonFlag, "OQSCD027", "同一個人有無フラグ" {
    SamePersonExists = "1": "同一個人あり",
});
code_table!(MedicalTreatmentFlag, "OQSCD028", "診療区分" {
    Outpatient = "1": "外来",
    HomeVisit = "2": "訪問診療等",
    Online = "3": "オンライン診療等",
    Emergency = "4": "救急時",
});
code_table!(MedicalInfoKind, "OQSCD029", "医療情報種別" {
    Checkup = "TKK": "特定健診情報",
    Medication = "YZK": "薬剤情報等",
});
code_table!(MedicationDisplay, "OQSCD030", "薬剤情報等" {
    Hide = "0": "表示しない",
    Show = "1": "表示する",
});
code_table!(ConsentExpiryReason, "OQSCD031", "同意有効期限切れ理由" {
    SeeSpecNotes = "0": "仕様備考参照",
    ByInstitution = "1": "医療機関による取消",
    ByPatient = "2": "患者による取消",
    ByPurposeChange = "3": "用途変更による取消",
});
code_table!(QualificationChangeFlag, "OQSCD032", "資格情報変更確認フラグ" {
    Match = "0": "一致",
    Mismatch = "1": "不一致",
});
code_table!(UrlKind, "OQSCD033", "URL取得区分" {
    HomeVisit = "2": "訪問診療等",
    Online = "3": "オンライン診療等",
});
code_table!(OutputFormat, "OQSCD034", "出力形式" {
    Pdf = "1": "PDF形式",
    Png = "2": "PNG形式",
});
code_table!(ChangeFlag, "OQSCD035", "変更区分" {
    NoChange = "0": "変更しない",
    Change = "1": "変更する",
});
code_table!(ConsentKind, "OQSCD036", "閲覧同意情報種別" {
    SpecificDisease = "TSR": "特定疾病療養受療証情報",
    Checkup = "TKK": "特定健診情報",
    Medication = "YZK": "薬剤情報（薬剤・処方）",
    Clinical = "SRJ": "診療情報（診療・その他アレルギー等・薬剤アレルギー等・検査情報）",
    Surgery = "SHJ": "手術情報（手術・傷病名・感染症情報）",
});
code_table!(UseSetting, "OQSCD037", "利用設定区分" {
    NotUsed = "0": "利用しない",
    Used = "1": "利用する",
});
code_table!(EPrescriptionUse, "OQSCD038", "電子処方箋利用区分" {
    NotUsed = "0": "利用しない",
    ElectronicOnly = "1": "電子処方箋のみ",
    ElectronicAndPaper = "2": "電子処方箋＋紙併用",
    PaperOnly = "3": "紙の処方箋のみ",
});
code_table!(PrescriptionSelectTiming, "OQSCD039", "処方箋発行形態選択タイミング" {
    OutsideConfirmation = "1": "資格確認時以外で確認",
    AtConfirmation = "2": "資格確認時に確認",
});
code_table!(InfoRequestPattern, "OQSCD040", "情報要求パターン" {
    EmergencySummary = "1": "救急用サマリー",
    EmergencyFull = "2": "救急用全量版",
    EPrescriptionAndEmergency = "3": "電子処方箋＋救急用サマリー＋救急用全量版",
    CurrentMedication = "4": "現行通りの薬剤情報",
    CurrentClinicalAndMedication = "5": "現行通りの診療／薬剤情報",
    CurrentCheckup = "6": "現行通りの特定健診情報",
});
code_table!(TwoFactorElement, "OQSCD041", "二要素認証要素区分" {
    Knowledge = "1": "記憶",
    Biometric = "2": "生体情報",
    Possession = "3": "物理媒体",
});
code_table!(
    /// The code depends on OQSCD041; each variant is one (element, method) pair and `code()` is the 2-digit method.
    TwoFactorMethod, "OQSCD042", "二要素認証方式区分" {
    IdPassword = "01": "記憶: ID/パスワード",
    Pin = "02": "記憶: PIN",
    SecretQuestion = "03": "記憶: 秘密の質問",
    Fingerprint = "01": "生体: 指紋",
    Face = "02": "生体: 顔",
    Voice = "03": "生体: 音声",
    Vein = "04": "生体: 静脈",
    Iris = "05": "生体: 虹彩",
    IcCard = "01": "物理: ICカード",
    OneTimePassword = "02": "物理: ワンタイムパスワード",
    OtherPossession = "03": "物理: その他",
});
code_table!(EmergencyViewPermission, "OQSCD043", "救急時閲覧権限有無" {
    None = "0": "権限無し",
    Granted = "1": "権限あり",
});
code_table!(
    /// Codes as typed in the source (widths look inconsistent there; kept as published).
    LinkedSystem, "OQSCD044", "連携システムID" {
    MedicalSubsidy = "01": "医療費助成",
    MaternalChildHealth = "2": "母子保健",
    Vaccination = "4": "予防接種",
    LongTermCare = "8": "介護保険",
});

impl TwoFactorMethod {
    /// The OQSCD041 element this method belongs to.
    pub fn element(self) -> TwoFactorElement {
        use TwoFactorMethod::*;
        match self {
            IdPassword | Pin | SecretQuestion => TwoFactorElement::Knowledge,
            Fingerprint | Face | Voice | Vein | Iris => TwoFactorElement::Biometric,
            IcCard | OneTimePassword | OtherPossession => TwoFactorElement::Possession,
        }
    }

    /// Looks a method up by its element and 2-digit code (the generic `from_code` is ambiguous for this table).
    pub fn from_element_code(element: TwoFactorElement, code: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.element() == element && m.code() == code.trim())
    }
}

/// One table as data: (id, name, [(code, label)]).
pub type TableData = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// Every table, for documentation and the `/codes` endpoint.
pub fn catalogue() -> Vec<TableData> {
    fn t<T: CodeTable>() -> TableData {
        (
            T::TABLE,
            T::NAME,
            T::ALL.iter().map(|v| (v.code(), v.label())).collect(),
        )
    }
    vec![
        t::<LimitConsent>(),
        t::<ReferenceClassification>(),
        t::<SegmentOfResult>(),
        t::<ProcessingResultStatus>(),
        t::<CharacterCode>(),
        t::<QualificationValidity>(),
        t::<Sex>(),
        t::<ReasonOfLoss>(),
        t::<PersonalFamily>(),
        t::<InsuredCardClassification>(),
        t::<LimitCertificateClassification>(),
        t::<LimitCertificateFlag>(),
        t::<SpecificDiseaseCategory>(),
        t::<LimitCertificateChanged>(),
        t::<PreschoolClassification>(),
        t::<ConsentStatus>(),
        t::<PrescriptionIssueSelect>(),
        t::<TicketType>(),
        t::<MedicalTreatmentType>(),
        t::<SingleOrCombinedUse>(),
        t::<StatusOfSocialInsurance>(),
        t::<ConsistencyFlag>(),
        t::<StatusOfInfection>(),
        t::<StatusOfElderlyMedicalCare>(),
        t::<StatusOfPrefecturalExpenses>(),
        t::<DesignatedInstitutionFlag>(),
        t::<SamePersonFlag>(),
        t::<MedicalTreatmentFlag>(),
        t::<MedicalInfoKind>(),
        t::<MedicationDisplay>(),
        t::<ConsentExpiryReason>(),
        t::<QualificationChangeFlag>(),
        t::<UrlKind>(),
        t::<OutputFormat>(),
        t::<ChangeFlag>(),
        t::<ConsentKind>(),
        t::<UseSetting>(),
        t::<EPrescriptionUse>(),
        t::<PrescriptionSelectTiming>(),
        t::<InfoRequestPattern>(),
        t::<TwoFactorElement>(),
        t::<TwoFactorMethod>(),
        t::<EmergencyViewPermission>(),
        t::<LinkedSystem>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_44_tables_are_present_and_codes_round_trip() {
        let cat = catalogue();
        assert_eq!(cat.len(), 44);
        for (i, (table, _, values)) in cat.iter().enumerate() {
            assert_eq!(*table, format!("OQSCD{:03}", i + 1));
            assert!(!values.is_empty());
        }
        for v in QualificationValidity::ALL {
            assert_eq!(QualificationValidity::from_code(v.code()), Some(*v));
        }
        assert_eq!(
            ReasonOfLoss::from_code("03"),
            Some(ReasonOfLoss::OtherInsurance)
        );
        assert_eq!(ReasonOfLoss::from_code("3"), None);
        assert_eq!(SegmentOfResult::Abnormal.code(), "9");
        assert_eq!(CharacterCode::ShiftJis.code(), "1");
    }

    #[test]
    fn two_factor_method_is_keyed_by_its_element() {
        assert_eq!(
            TwoFactorMethod::from_element_code(TwoFactorElement::Biometric, "02"),
            Some(TwoFactorMethod::Face)
        );
        assert_eq!(TwoFactorMethod::Face.element(), TwoFactorElement::Biometric);
    }

    #[test]
    fn serde_uses_wire_codes() {
        let v: ReasonOfLoss = serde_json::from_str("\"01\"").unwrap();
        assert_eq!(v, ReasonOfLoss::Death);
        assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), "\"2\"");
        assert!(serde_json::from_str::<Sex>("\"9\"").is_err());
    }
}
