//! `OQSmuimm02req` → `OQSmuimm02res`: 照会番号一括登録, step 2: the result of a receipt, one
//! `BulkRegistrationUnit` per registration (element name from one client's fixture only [I]).

use crate::msg::oqs_siimm01::{write_outcome, Outcome1};
use crate::msg::{write_plain_header, PlainHeader};
use crate::xml::{Emitter, OutputForm};

/// The request: the `ReceptionNumber` of an `OQSmuimm01`.
pub use crate::msg::bulk::{parse_reception as parse, ReceptionRequest as Request};

/// The result file: one `BulkRegistrationUnit` per registration.
pub fn write(header: &PlainHeader, outcomes: &[Outcome1], form: OutputForm) -> Vec<u8> {
    let mut e = Emitter::new(form);
    e.start("XmlMsg");
    write_plain_header(&mut e, header);
    if header.segment == crate::codes::SegmentOfResult::Normal {
        e.start("MessageBody");
        e.start_list("BulkRegistrationUnit");
        for o in outcomes {
            e.start("BulkRegistrationUnit");
            write_outcome(&mut e, o);
            e.end();
        }
        e.end_list();
        e.end();
    }
    e.end();
    e.finish()
}
