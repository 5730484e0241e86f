//! The safety contract held by the real backend: every case of `tests/contract/safety.json` (allergy and duplicate
//! warnings, and when saving or signing is refused) runs through the Tauri command functions on a real vault.
//!
//! `ui/src/lib/backend/contract.test.ts` runs the same file against the in-memory backend the screens are tested
//! with, so the double cannot drift from the core unnoticed: a case one suite fails names the rule that drifted.
//! The commands are called as the Tauri commands call them (the plain functions taking `&Shell`).
use dtk::auth::Role;
use dtk_app::commands::{nurse, Shell};
use dtk_app::dto::{CommandError, EntryRequest, EntrySaved, EntryStatus, SafetyWarning};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

mod support;

const CONTRACT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/contract/safety.json");
const NURSE: &str = "cnurse";
const MRN_SYSTEM: &str = "http://hospital.example.org/mrn";
/// The patient of the charted entries marked `otherPatient`; the cases' own patients are CT1001, CT1002, ...
const OTHER_MRN: &str = "CT1000";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Contract {
    about: Vec<String>,
    duplicate_window_minutes: i64,
    override_reason: String,
    refusals: HashMap<String, Refusal>,
    /// Response templates per form: `$mrn`, `$time` and `$medication` are filled in.
    responses: HashMap<String, Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusal {
    code: String,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    allergies: Vec<Allergy>,
    #[serde(default)]
    charted: Vec<Charted>,
    new: New,
    /// Charted after the new entry's draft is saved, before it is signed.
    #[serde(default)]
    charted_before_signing: Vec<Charted>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Allergy {
    substance: String,
    reaction: Option<String>,
    clinical_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Charted {
    key: String,
    form: String,
    medication: Option<String>,
    minutes: f64,
    offset: Option<String>,
    status: Option<String>,
    #[serde(default)]
    other_patient: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct New {
    form: String,
    medication: Option<String>,
    #[serde(default)]
    confirm_on_save: bool,
    changes: Option<String>,
    amends: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expect {
    warnings: Vec<ExpectedWarning>,
    /// The warnings at signing, when entries were charted between the save and the signature.
    warnings_at_signing: Option<Vec<ExpectedWarning>>,
    without_override: String,
    without_confirmation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedWarning {
    kind: String,
    of: Option<String>,
    message: String,
}

fn contract() -> Contract {
    let text = std::fs::read_to_string(CONTRACT).expect("tests/contract/safety.json is readable");
    serde_json::from_str(&text).expect("tests/contract/safety.json matches the contract's shape")
}

fn mrn(index: usize) -> String {
    format!("CT{}", 1001 + index)
}

/// A census bundle with one patient per case (and the neighbour of `otherPatient`), each with the case's allergies.
fn census(contract: &Contract) -> Value {
    let mut entries = Vec::new();
    let patients = std::iter::once((OTHER_MRN.to_string(), &[][..]))
        .chain(contract.cases.iter().enumerate().map(|(i, c)| (mrn(i), c.allergies.as_slice())));
    for (n, (mrn, allergies)) in patients.enumerate() {
        let url = format!("urn:uuid:00000000-0000-4000-8000-{n:012}");
        entries.push(json!({ "fullUrl": url, "resource": {
            "resourceType": "Patient",
            "identifier": [{
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR" }] },
                "system": MRN_SYSTEM,
                "value": mrn,
            }],
            "name": [{ "family": "Contract", "given": [format!("Patient {mrn}")] }],
            "gender": "unknown",
            "birthDate": "1970-01-01",
        }}));
        for (a, allergy) in allergies.iter().enumerate() {
            let mut resource = json!({
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": allergy.clinical_status.as_deref().unwrap_or("active"),
                }] },
                "code": { "text": allergy.substance },
                "patient": { "reference": url },
            });
            if let Some(reaction) = &allergy.reaction {
                resource["reaction"] = json!([{ "manifestation": [{ "text": reaction }] }]);
            }
            entries.push(
                json!({ "fullUrl": format!("urn:uuid:00000000-0000-4000-9000-{n:06}{a:06}"), "resource": resource }),
            );
        }
    }
    json!({ "resourceType": "Bundle", "type": "collection", "timestamp": "2026-11-21T05:00:00Z", "entry": entries })
}

/// `y-m-d` of a day count since 1970-01-01 (Howard Hinnant's civil-from-days), so the test needs no date crate.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A FHIR dateTime for a Unix time, written in `offset` ("-05:00") or in UTC ("Z").
fn fhir_time(unix: i64, offset: Option<&str>) -> Result<String, String> {
    let shift = match offset {
        None => 0,
        Some(o) => {
            let bad = || format!("offset {o:?} is not ±hh:mm");
            let (sign, rest) = match o.split_at_checked(1) {
                Some(("+", rest)) => (1, rest),
                Some(("-", rest)) => (-1, rest),
                _ => return Err(bad()),
            };
            let (h, m) = rest.split_once(':').ok_or_else(bad)?;
            sign * (h.parse::<i64>().map_err(|_| bad())? * 60 + m.parse::<i64>().map_err(|_| bad())?) * 60
        }
    };
    let local = unix + shift;
    let (y, mo, d) = civil(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    Ok(format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}{}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        offset.unwrap_or("Z")
    ))
}

/// The template with `$name` strings replaced; a placeholder without a value is an error in the case.
fn fill(template: &Value, values: &[(&str, Option<&str>)]) -> Result<Value, String> {
    Ok(match template {
        Value::String(s) if s.starts_with('$') => match values.iter().find(|(k, _)| k == s) {
            Some((_, Some(v))) => Value::String((*v).to_string()),
            _ => return Err(format!("the response template needs {s}, which the case does not give")),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, values)).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| Ok((k.clone(), fill(v, values)?))).collect::<Result<_, String>>()?)
        }
        other => other.clone(),
    })
}

/// What a warning says, comparable across backends: kind, the flagged entry, the message.
type Warning = (String, Option<String>, String);

/// Allergy warnings keep their order (the census's); duplicates are sorted, because the core reads them in index
/// order.
fn normalised(warnings: Vec<Warning>) -> Vec<Warning> {
    let (allergies, mut others): (Vec<Warning>, Vec<Warning>) = warnings.into_iter().partition(|w| w.0 == "allergy");
    others.sort();
    allergies.into_iter().chain(others).collect()
}

/// A DTO enum as it crosses IPC ("safety_check", "possible_duplicate").
fn wire<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

struct CaseRun<'a> {
    shell: &'a Shell,
    contract: &'a Contract,
    case: &'a Case,
    mrn: String,
    /// The new entry's clinical time (Unix seconds).
    base: i64,
    /// Charted entries by key: id and clinical time as written.
    charted: HashMap<String, (String, String)>,
    /// Whether the run reached the signature (which expects `warnings_at_signing`).
    signing: bool,
}

impl CaseRun<'_> {
    fn request(&self, response: Value, sign: bool, answer_allergy: bool, confirm: bool) -> EntryRequest {
        EntryRequest {
            response,
            sign,
            allergy_override: answer_allergy.then(|| self.contract.override_reason.clone()),
            confirm_not_duplicate: confirm,
            reason: None,
            clinical_time: None,
        }
    }

    fn response(&self, form: &str, mrn: &str, medication: Option<&str>, at: &str) -> Result<Value, String> {
        let template = self.contract.responses.get(form).ok_or_else(|| format!("no response template for {form}"))?;
        fill(template, &[("$mrn", Some(mrn)), ("$time", Some(at)), ("$medication", medication)])
    }

    fn chart(&mut self, entries: &[Charted]) -> Result<(), String> {
        for c in entries {
            let mrn = if c.other_patient { OTHER_MRN.to_string() } else { self.mrn.clone() };
            // Whole seconds: the cases' fractions of a minute are seconds.
            let at = fhir_time(self.base + (c.minutes * 60.0).round() as i64, c.offset.as_deref())?;
            let response = self.response(&c.form, &mrn, c.medication.as_deref(), &at)?;
            let status = c.status.as_deref().unwrap_or("signed");
            if !matches!(status, "signed" | "draft" | "entered-in-error") {
                return Err(format!("charted {}: unknown status {status}", c.key));
            }
            let request = self.request(response, status != "draft", true, true);
            let saved = nurse::save_entry(self.shell, request).map_err(|e| format!("charting {}: {e:?}", c.key))?;
            if status == "entered-in-error" {
                nurse::enter_in_error(self.shell, saved.id.clone(), "charted on the wrong patient".into())
                    .map_err(|e| format!("marking {} entered-in-error: {e:?}", c.key))?;
            }
            self.charted.insert(c.key.clone(), (saved.id, at));
        }
        Ok(())
    }

    fn expected_warnings(&self) -> Result<Vec<Warning>, String> {
        let mut out = Vec::new();
        let expect = &self.case.expect;
        let warnings = match (&expect.warnings_at_signing, self.signing) {
            (Some(at_signing), true) => at_signing,
            _ => &expect.warnings,
        };
        for w in warnings {
            let (id, message) = match &w.of {
                None => (None, w.message.clone()),
                Some(key) => {
                    let (id, at) = self.charted.get(key).ok_or_else(|| format!("warning of unknown entry {key}"))?;
                    let message = w.message.replace("{id}", id).replace("{author}", NURSE).replace("{time}", at);
                    (Some(id.clone()), message)
                }
            };
            out.push((w.kind.clone(), id, message));
        }
        Ok(normalised(out))
    }

    fn same_warnings(&self, step: &str, actual: &[SafetyWarning]) -> Result<(), String> {
        let actual =
            normalised(actual.iter().map(|w| (wire(&w.kind), w.entry_id.clone(), w.message.clone())).collect());
        let expected = self.expected_warnings()?;
        if actual != expected {
            return Err(format!("{step}: warnings\n    got      {actual:?}\n    expected {expected:?}"));
        }
        Ok(())
    }

    /// `expected` is "ok" or the kind of refusal (a key of `refusals`).
    fn outcome(
        &self,
        step: &str,
        result: Result<EntrySaved, CommandError>,
        expected: &str,
    ) -> Result<Option<EntrySaved>, String> {
        match (expected, result) {
            ("ok", Ok(saved)) => {
                self.same_warnings(step, &saved.warnings)?;
                Ok(Some(saved))
            }
            ("ok", Err(e)) => Err(format!("{step}: refused ({e:?}), expected to succeed")),
            (kind, result) => {
                let refusal =
                    self.contract.refusals.get(kind).ok_or_else(|| format!("{step}: unknown refusal kind {kind}"))?;
                match result {
                    Err(e) if wire(&e.code) == refusal.code && e.message == refusal.message => Ok(None),
                    Err(e) => Err(format!("{step}: refused with {e:?}, expected the {kind} refusal")),
                    Ok(saved) => Err(format!("{step}: succeeded ({:?}), expected the {kind} refusal", saved.status)),
                }
            }
        }
    }

    fn expect_status(step: &str, saved: Option<EntrySaved>, status: EntryStatus) -> Result<(), String> {
        match saved {
            Some(s) if s.status == status => Ok(()),
            Some(s) => Err(format!("{step}: status {:?}, expected {status:?}", s.status)),
            None => Err(format!("{step}: nothing saved")),
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let case = self.case;
        self.chart(&case.charted)?;
        let new = &self.case.new;
        let (without_override, without_confirmation) =
            (self.case.expect.without_override.as_str(), self.case.expect.without_confirmation.as_str());
        let (needs_override, needs_confirmation) = (without_override != "ok", without_confirmation != "ok");
        let at = fhir_time(self.base, None)?;
        let response = self.response(&new.form, &self.mrn, new.medication.as_deref(), &at)?;
        let target = match (&new.changes, &new.amends) {
            (Some(key), None) | (None, Some(key)) => {
                Some(self.charted.get(key).ok_or_else(|| format!("no charted entry {key}"))?.0.clone())
            }
            (None, None) => None,
            (Some(_), Some(_)) => return Err("a case either changes a draft or amends an entry, not both".into()),
        };

        let checked =
            nurse::check_entry(self.shell, self.request(response.clone(), false, false, false), target.clone())
                .map_err(|e| format!("check: {e:?}"))?;
        if !checked.findings.is_empty() {
            return Err(format!("check: the response has findings {:?}", checked.findings));
        }
        self.same_warnings("check", &checked.warnings)?;

        if let (Some(id), Some(_)) = (&target, &new.amends) {
            let amend = |answer_allergy: bool, confirm: bool| {
                let mut request = self.request(response.clone(), false, answer_allergy, confirm);
                request.reason = Some("corrected after review".into());
                nurse::amend_entry(self.shell, id.clone(), request)
            };
            if needs_override {
                self.outcome("amend without an override reason", amend(false, true), without_override)?;
            }
            if needs_confirmation {
                let result = amend(needs_override, false);
                self.outcome("amend without confirming", result, without_confirmation)?;
            }
            let saved =
                self.outcome("amend with the answers asked for", amend(needs_override, needs_confirmation), "ok")?;
            return Self::expect_status("amend", saved, EntryStatus::Amended);
        }

        let save = |answer_allergy: bool| {
            let request = self.request(response.clone(), false, answer_allergy, new.confirm_on_save);
            match &target {
                Some(id) => nurse::update_entry(self.shell, id.clone(), request),
                None => nurse::save_entry(self.shell, request),
            }
        };
        if target.is_none() {
            // Saving and signing at once asks the same questions.
            if needs_override {
                let result = nurse::save_entry(self.shell, self.request(response.clone(), true, false, true));
                self.outcome("save and sign without an override reason", result, without_override)?;
            }
            if needs_confirmation {
                let request = self.request(response.clone(), true, needs_override, false);
                let result = nurse::save_entry(self.shell, request);
                self.outcome("save and sign without confirming", result, without_confirmation)?;
            }
        }
        let mut draft = self.outcome("save without an override reason", save(false), without_override)?;
        if needs_override {
            draft = self.outcome("save with the override reason", save(true), "ok")?;
        }
        let id = draft.map(|d| d.id).ok_or("the draft was not saved")?;
        self.chart(&case.charted_before_signing)?;
        self.signing = true;
        let mut signed = self.outcome(
            "sign without confirming",
            nurse::sign_entry(self.shell, id.clone(), false),
            without_confirmation,
        )?;
        if needs_confirmation {
            signed = self.outcome("sign, confirming", nurse::sign_entry(self.shell, id, true), "ok")?;
        }
        Self::expect_status("sign", signed, EntryStatus::Signed)
    }
}

#[test]
fn the_real_backend_keeps_the_safety_contract() {
    let contract = contract();
    assert!(!contract.about.is_empty(), "the contract says what it is for");
    assert_eq!(
        dtk::site::SiteConfig::default().duplicate_window_minutes,
        contract.duplicate_window_minutes,
        "the contract's window is the site default (src/site.rs)"
    );
    let census = serde_json::to_vec(&census(&contract)).expect("census serialises");
    let dir = support::vault("Contract Unit", &[(NURSE, Role::Nurse), ("kcharge", Role::Charge)], &census);
    let shell = Shell::open(dir.path());
    support::sign_in(&shell, "kcharge").expect("the charge nurse signs in");
    support::declare_episode(&shell, "Safety contract");
    support::sign_in(&shell, NURSE).expect("the nurse signs in");
    let window = shell.signed_in(|ws, _| Ok(ws.site().duplicate_window_minutes)).expect("site");
    assert_eq!(window, contract.duplicate_window_minutes, "this workstation uses the default window");

    // Two hours ago on a whole minute: every charted time stays in the past, as the core requires.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs();
    let now = i64::try_from(now).expect("a Unix time fits i64");
    let base = now - now.rem_euclid(60) - 2 * 3600;

    let mut failures = Vec::new();
    for (index, case) in contract.cases.iter().enumerate() {
        let mut run = CaseRun {
            shell: &shell,
            contract: &contract,
            case,
            mrn: mrn(index),
            base,
            charted: HashMap::new(),
            signing: false,
        };
        if let Err(e) = run.run() {
            failures.push(format!("case {} ({}): {e}", index + 1, case.name));
        }
    }
    assert!(failures.is_empty(), "the real backend broke the safety contract:\n{}", failures.join("\n"));
}

#[test]
fn times_are_written_as_fhir_date_times() {
    assert_eq!(fhir_time(0, None).as_deref(), Ok("1970-01-01T00:00:00Z"));
    assert_eq!(fhir_time(1_795_255_200, None).as_deref(), Ok("2026-11-21T10:00:00Z"));
    assert_eq!(fhir_time(1_795_255_230, Some("-05:00")).as_deref(), Ok("2026-11-21T05:00:30-05:00"));
    assert_eq!(fhir_time(951_782_400, None).as_deref(), Ok("2000-02-29T00:00:00Z"));
}
