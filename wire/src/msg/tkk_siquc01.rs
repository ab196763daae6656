//! `TKKsiquc01req` → `TKKsiquc01res`: 特定健診情報 retrieval (reference §2.7). The request is the data-retrieval
//! header ([`PatientRequest`]) and `FileCategory` (1 PDF, 2 XML); the response carries `QualificationsInfo` and one
//! `SpecificHealthCheckupInfo` per checkup with its items (`HealthCheckupResultAndQuestionInfo`). Success is
//! `ResultCode` 1; otherwise `MessageContents` says why. Element names, including the client's spelling
//! `KanasName`, are the reference's.

use crate::msg::{file_category, start_data_answer, FileError, HeaderEcho, PatientRequest};
use crate::xml::{Element, Emitter, OutputForm};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub patient: PatientRequest,
    /// 1 PDF, 2 XML.
    pub file_category: u8,
}

pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (patient, body) = PatientRequest::parse(root)?;
    Ok(Request {
        file_category: file_category(body, 2, &patient.echo)?,
        patient,
    })
}

/// One item of one checkup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub code: String,
    pub name: String,
    /// PQ, CD, CO or ST.
    pub data_type: String,
    pub value: String,
    pub unit: String,
    pub oid: String,
    /// The meaning of a coded value (はい, 服薬あり, 予備群該当 …).
    pub value_name: String,
}

/// One checkup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkup {
    /// 実施日 YYYYMMDD.
    pub date: String,
    pub items: Vec<Item>,
}

/// The patient in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub name: String,
    pub kana: Option<String>,
    pub birth: String,
    pub sex: String,
}

/// Writes the response: `ResultCode` 1 with the checkups, or an error with `MessageContents`.
pub fn write(
    echo: &HeaderEcho,
    patient: Option<&Patient>,
    result: Result<&[Checkup], &str>,
    form: OutputForm,
) -> Vec<u8> {
    let mut e = Emitter::new(form);
    start_data_answer(&mut e, echo, result.err());
    if let Some(p) = patient {
        e.start("QualificationsInfo");
        e.leaf("Name", &p.name);
        e.opt("KanasName", p.kana.as_deref());
        e.leaf("Birthday", &p.birth);
        e.leaf("AdministrativeGenderCode", &p.sex);
        e.end();
    }
    e.end();
    if let Ok(checkups) = result {
        e.start("MessageBody");
        e.start_list("SpecificHealthCheckupInfo");
        for c in checkups {
            e.start("SpecificHealthCheckupInfo");
            e.leaf("EffectiveTime", &c.date);
            e.start("HealthCheckupResultAndQuestionInfos");
            e.start_list("HealthCheckupResultAndQuestionInfo");
            for i in &c.items {
                e.start("HealthCheckupResultAndQuestionInfo");
                e.leaf("ItemCode", &i.code);
                e.leaf("ItemName", &i.name);
                e.leaf("DataType", &i.data_type);
                e.opt("DataValue", Some(i.value.as_str()));
                e.opt("Unit", Some(i.unit.as_str()));
                e.opt("Oid", Some(i.oid.as_str()));
                e.opt("DataValueName", Some(i.value_name.as_str()));
                e.end();
            }
            e.end_list();
            e.end();
            e.end();
        }
        e.end_list();
        e.end();
    }
    e.end();
    e.finish()
}
