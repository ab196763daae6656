//! File names of the folder interface (reference §1.3): `<SYS><si|mu><func><01|02><req|res>_<suffix>.<ext>`;
//! the response has the request's name with `req` replaced by `res`.

/// Every message kind the interface names. Which ones a process answers is decided by its router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// 資格確認 (single, by insurance-card data).
    OqsSiquc01,
    /// 資格確認一括照会 upload / result download.
    OqsMuquc01,
    OqsMuquc02,
    /// 照会番号登録 (single / bulk).
    OqsSiimm01,
    OqsMuimm01,
    OqsMuimm02,
    /// 医療扶助 / 訪問診療 / オンライン診療 bulk.
    OqsMutic01,
    OqsMutic02,
    OqsMuhvq01,
    OqsMuhvq02,
    OqsMuonq01,
    OqsMuonq02,
    /// 薬剤情報 / 特定健診情報 retrieval.
    YzkSiquc01,
    TkkSiquc01,
}

impl serde::Serialize for MessageKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.stem())
    }
}

impl<'de> serde::Deserialize<'de> for MessageKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stem = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::of_stem(&stem)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown message kind {stem:?}")))
    }
}

impl MessageKind {
    pub const ALL: &'static [MessageKind] = &[
        Self::OqsSiquc01,
        Self::OqsMuquc01,
        Self::OqsMuquc02,
        Self::OqsSiimm01,
        Self::OqsMuimm01,
        Self::OqsMuimm02,
        Self::OqsMutic01,
        Self::OqsMutic02,
        Self::OqsMuhvq01,
        Self::OqsMuhvq02,
        Self::OqsMuonq01,
        Self::OqsMuonq02,
        Self::YzkSiquc01,
        Self::TkkSiquc01,
    ];

    /// The kind of a stem (`OQSsiquc01`).
    pub fn of_stem(stem: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.stem() == stem)
    }

    /// The 10-character stem, e.g. `OQSsiquc01`.
    /// The first step of a two-step bulk flow: a file of many persons, with larger limits.
    pub fn is_bulk_upload(self) -> bool {
        matches!(
            self,
            Self::OqsMuquc01
                | Self::OqsMuimm01
                | Self::OqsMutic01
                | Self::OqsMuhvq01
                | Self::OqsMuonq01
        )
    }

    pub fn stem(self) -> &'static str {
        match self {
            Self::OqsSiquc01 => "OQSsiquc01",
            Self::OqsMuquc01 => "OQSmuquc01",
            Self::OqsMuquc02 => "OQSmuquc02",
            Self::OqsSiimm01 => "OQSsiimm01",
            Self::OqsMuimm01 => "OQSmuimm01",
            Self::OqsMuimm02 => "OQSmuimm02",
            Self::OqsMutic01 => "OQSmutic01",
            Self::OqsMutic02 => "OQSmutic02",
            Self::OqsMuhvq01 => "OQSmuhvq01",
            Self::OqsMuhvq02 => "OQSmuhvq02",
            Self::OqsMuonq01 => "OQSmuonq01",
            Self::OqsMuonq02 => "OQSmuonq02",
            Self::YzkSiquc01 => "YZKsiquc01",
            Self::TkkSiquc01 => "TKKsiquc01",
        }
    }
}

/// The JSON Web API (reference §1.7): each message path and the message kind it carries. The login path
/// (`…/MSA12020/ILI12020SV01/auth`) issues the `idToken` and carries no message.
///
/// Only the qualification search's path is documented; the 薬剤情報 and 特定健診情報 paths are the simulator's own,
/// next to it.
pub const WEB_API_MESSAGES: &[(&str, MessageKind)] = &[
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/search",
        MessageKind::OqsSiquc01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/yzk",
        MessageKind::YzkSiquc01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/tkk",
        MessageKind::TkkSiquc01,
    ),
    // The real paths of these are not published [U]: the simulator's own, under the same service.
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/siimm",
        MessageKind::OqsSiimm01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muquc01",
        MessageKind::OqsMuquc01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muquc02",
        MessageKind::OqsMuquc02,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muimm01",
        MessageKind::OqsMuimm01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muimm02",
        MessageKind::OqsMuimm02,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muhvq01",
        MessageKind::OqsMuhvq01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muhvq02",
        MessageKind::OqsMuhvq02,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muonq01",
        MessageKind::OqsMuonq01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/muonq02",
        MessageKind::OqsMuonq02,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/mutic01",
        MessageKind::OqsMutic01,
    ),
    (
        "/oqs-api-pro/MSA01030/ILI01030SV01/mutic02",
        MessageKind::OqsMutic02,
    ),
];

/// The Web API path of a message kind, when it has one.
pub fn web_api_path(kind: MessageKind) -> Option<&'static str> {
    WEB_API_MESSAGES
        .iter()
        .find(|(_, k)| *k == kind)
        .map(|(path, _)| *path)
}

/// The Web API login path.
pub const WEB_API_LOGIN: &str = "/oqs-api-pro/MSA12020/ILI12020SV01/auth";

/// A recognised request file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestName {
    pub kind: MessageKind,
    pub suffix: String,
}

/// Longest accepted suffix (the real rule is unknown, clients use 12–13 characters; kept generous).
pub const MAX_SUFFIX: usize = 64;

/// Why a name in `req/` is not a request this simulator recognises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("unknown file-name prefix (expected e.g. OQSsiquc01req_<suffix>.xml)")]
    UnknownPrefix,
    #[error("the suffix must be 1-{MAX_SUFFIX} characters of A-Z a-z 0-9 _ -")]
    BadSuffix,
    #[error("request files end in .xml")]
    BadExtension,
}

impl RequestName {
    pub fn parse(name: &str) -> Result<Self, NameError> {
        // Byte offsets are only taken after the ASCII stem and `req_` matched, so they are character boundaries.
        let kind = MessageKind::ALL
            .iter()
            .copied()
            .find(|k| name.starts_with(k.stem()) && name.get(10..14) == Some("req_"))
            .ok_or(NameError::UnknownPrefix)?;
        let rest = &name[14..];
        let Some(suffix) = rest
            .strip_suffix(".xml")
            .or_else(|| rest.strip_suffix(".XML"))
        else {
            return Err(NameError::BadExtension);
        };
        if suffix.is_empty()
            || suffix.len() > MAX_SUFFIX
            || !suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(NameError::BadSuffix);
        }
        Ok(Self {
            kind,
            suffix: suffix.to_string(),
        })
    }

    /// `OQSsiquc01res_<suffix>.xml`.
    pub fn response(&self) -> String {
        format!("{}res_{}.xml", self.kind.stem(), self.suffix)
    }

    /// The name of a response with these bytes: the same base name, `.pdf` for a PDF (e.g. 薬剤情報 forms), `.zip`
    /// for a ZIP (bulk results, when zipped).
    pub fn response_for(&self, bytes: &[u8]) -> String {
        if bytes.starts_with(b"%PDF-") {
            format!("{}res_{}.pdf", self.kind.stem(), self.suffix)
        } else if bytes.starts_with(b"PK\x03\x04") {
            format!("{}res_{}.zip", self.kind.stem(), self.suffix)
        } else {
            self.response()
        }
    }
}

/// Longest name an error answer gets (its hidden temporary name must still fit a file system's 255 bytes).
pub const MAX_ERROR_NAME: usize = 120;

/// The name an error answer gets for a file whose name could not be recognised: the first `req` replaced by
/// `res` when there is one, otherwise `ERROR_<name>.xml`; path separators and odd characters become `_`, and a
/// long name is cut to [`MAX_ERROR_NAME`] bytes.
pub fn error_response_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .take(MAX_ERROR_NAME - 10)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = safe.strip_suffix(".xml").unwrap_or(&safe);
    match stem.find("req") {
        Some(i) => format!("{}res{}.xml", &stem[..i], &stem[i + 3..]),
        None => format!("ERROR_{stem}.xml"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_request_and_response_names() {
        let n = RequestName::parse("OQSsiquc01req_202611210001.xml").unwrap();
        assert_eq!(n.kind, MessageKind::OqsSiquc01);
        assert_eq!(n.response(), "OQSsiquc01res_202611210001.xml");
        let n = RequestName::parse("OQSmuquc02req_x.xml").unwrap();
        assert_eq!(n.response(), "OQSmuquc02res_x.xml");
    }

    proptest::proptest! {
        /// Any name, in any script and of any length, is either a request name or an error with an error answer
        /// name that is short and plain (never a panic, never a path).
        #[test]
        fn any_name_parses_or_is_refused(name in "\\PC{0,300}") {
            let _ = RequestName::parse(&name);
            let e = error_response_name(&name);
            proptest::prop_assert!(e.len() <= MAX_ERROR_NAME);
            proptest::prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)));
        }

        #[test]
        fn any_bytes_near_a_stem_parse_or_are_refused(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let name = format!("OQSsiquc01{}", String::from_utf8_lossy(&tail));
            let _ = RequestName::parse(&name);
            let _ = error_response_name(&name);
        }
    }

    #[test]
    fn a_multibyte_character_where_req_should_be_is_refused() {
        assert_eq!(
            RequestName::parse("OQSsiquc01reqé_x.xml"),
            Err(NameError::UnknownPrefix)
        );
        assert_eq!(
            RequestName::parse("OQSsiquc01ré_x.xml"),
            Err(NameError::UnknownPrefix)
        );
        let long = format!("OQSsiquc01req_{}.xml", "x".repeat(240));
        assert_eq!(RequestName::parse(&long), Err(NameError::BadSuffix));
        assert!(error_response_name(&long).len() <= MAX_ERROR_NAME);
    }

    #[test]
    fn refuses_unknown_names() {
        assert_eq!(
            RequestName::parse("ABCsiquc01req_1.xml"),
            Err(NameError::UnknownPrefix)
        );
        assert_eq!(
            RequestName::parse("OQSsiquc01req_1.txt"),
            Err(NameError::BadExtension)
        );
        assert_eq!(
            RequestName::parse("OQSsiquc01req_a b.xml"),
            Err(NameError::BadSuffix)
        );
        assert_eq!(
            error_response_name("ABCsiquc01req_1.xml"),
            "ABCsiquc01res_1.xml"
        );
        assert_eq!(error_response_name("hello.xml"), "ERROR_hello.xml");
    }
}
