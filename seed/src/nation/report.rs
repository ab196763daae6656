//! `onshi seed --report`: the loaded population next to the real figures it imitates, scaled to its size.

use super::catalogue::Kind;
use super::params::{
    AGE_BANDS, CARD_ISSUED_PER_MILLE, CARD_REGISTERED_PER_MILLE, FACILITIES, INSURED_BY_TYPE,
};
use super::people::Stats;
use super::Scale;

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().rev().enumerate() {
        if i > 0 && i % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out.chars().rev().collect()
}

fn line(out: &mut String, label: &str, generated: f64, expected: f64) {
    let ratio = if expected > 0.0 {
        generated / expected
    } else {
        0.0
    };
    out.push_str(&format!(
        "  {label:<28}{:>14}{:>14}{:>9.3}\n",
        thousands(generated),
        thousands(expected),
        ratio
    ));
}

/// The report as text.
pub fn format(scale: &Scale, seed: u64, s: &Stats) -> String {
    let population: f64 = f64::from(super::params::population_thousands()) * 1000.0;
    let f = scale.persons as f64 / population;
    let mut out = format!(
        "synthetic nation: seed {seed}, scale {} ({} persons); real figures scaled by {} / {}\n\n",
        scale.name,
        thousands(scale.persons as f64),
        thousands(scale.persons as f64),
        thousands(population)
    );
    out.push_str(&format!(
        "  {:<28}{:>14}{:>14}{:>9}\n",
        "", "generated", "real×scale", "ratio"
    ));
    out.push_str("insured persons by insurer type (current qualifications)\n");
    for k in Kind::ALL {
        let (label, real_k, _) = INSURED_BY_TYPE[k.index()];
        line(
            &mut out,
            label,
            s.by_kind[k.index()] as f64,
            f64::from(real_k) * 1000.0 * f,
        );
    }
    line(
        &mut out,
        "生活保護 (医療扶助)",
        s.welfare as f64,
        super::params::rates::WELFARE_RECIPIENTS as f64 * f,
    );
    out.push_str("age bands (2020 census)\n");
    for (i, real) in AGE_BANDS.iter().enumerate() {
        let label = if i == AGE_BANDS.len() - 1 {
            "100+".to_string()
        } else {
            format!("{}–{}", i * 5, i * 5 + 4)
        };
        let got = s.by_age_band.get(i).copied().unwrap_or(0) as f64;
        line(&mut out, &label, got, f64::from(*real) * 1000.0 * f);
    }
    out.push_str("facilities by type (seed document, 2023-01-08)\n");
    for (t, (kind, total, applied, ready, operational)) in FACILITIES.iter().enumerate() {
        let st = s.facilities.get(t).copied().unwrap_or([0; 4]);
        let n: u64 = st.iter().sum();
        line(&mut out, kind.label(), n as f64, f64::from(*total) * f);
        if n > 0 {
            let pct = |x: u64| 100.0 * x as f64 / n as f64;
            out.push_str(&format!(
                "    applied {:.1}% (real {:.1}%), ready {:.1}% ({:.1}%), operational {:.1}% ({:.1}%)\n",
                pct(st[1] + st[2] + st[3]),
                f64::from(*applied) / 10.0,
                pct(st[2] + st[3]),
                f64::from(*ready) / 10.0,
                pct(st[3]),
                f64::from(*operational) / 10.0
            ));
        }
    }
    out.push_str("My Number cards (seed document, 2023-01)\n");
    let persons = s.persons.max(1) as f64;
    out.push_str(&format!(
        "  cards issued                {:>13.1}%{:>13.1}%\n",
        100.0 * s.cards as f64 / persons,
        f64::from(CARD_ISSUED_PER_MILLE) / 10.0
    ));
    out.push_str(&format!(
        "  registered for insurance    {:>13.1}%{:>13.1}%   (share of cards)\n",
        100.0 * s.registered as f64 / s.cards.max(1) as f64,
        f64::from(CARD_REGISTERED_PER_MILLE) / 10.0
    ));
    out.push_str(&format!(
        "histories: {} job changes, {} retirees to 国保, {} deaths, {} short-term cards ({} expired), \
         {} 限度額適用認定証, {} 特定疾病, {} 高齢受給者証; {} households, {} 家族 on a 本人's card; {} qualifications\n",
        s.job_changes,
        s.retirees,
        s.deaths,
        s.short_term,
        s.expired_cards,
        s.limit_certificates,
        s.specific_diseases,
        s.elderly_recipients,
        s.households,
        s.dependants,
        s.qualifications
    ));
    out
}
