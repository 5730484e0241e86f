//! The MAR schedule on fixed clocks: the FHIR R4 Timing patterns through to due times and statuses, a day's
//! statuses, as-needed orders, daylight saving, orders starting and stopping mid-episode, a four-week episode, and
//! the census reader's new shapes.

use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::orders::{downtime_order, Dose, Order, OrderSource};
use super::{schedule, DueStatus, LocalZone, OrderKind, OrderSchedule, Timing, Window};

fn ny() -> LocalZone {
    LocalZone::named("EST5EDT,M3.2.0,M11.1.0").expect("POSIX rule for New York")
}

fn order(id: &str, medication: &str, timing: Value) -> Order {
    Order {
        id: id.into(),
        source: OrderSource::Census,
        medication: medication.into(),
        code: None,
        dose: Some("1 mg".into()),
        route: Some("Oral".into()),
        text: None,
        timing: Timing::from_fhir(&timing),
        prn: false,
        on_hold: false,
        start: None,
        stop: None,
        discontinue: false,
    }
}

fn per_day(n: u32) -> Value {
    json!({"repeat": {"frequency": n, "period": 1, "periodUnit": "d"}})
}

fn every_hours(h: u32) -> Value {
    json!({"repeat": {"frequency": 1, "period": h, "periodUnit": "h"}})
}

fn dose(medication: &str, at: OffsetDateTime, given: bool, entry: Option<&str>) -> Dose {
    Dose {
        at,
        given,
        reason: (!given).then(|| "Refused by patient".to_string()),
        prn: false,
        medication: medication.into(),
        code: None,
        entry_id: entry.map(str::to_string),
        order_ref: None,
    }
}

fn run(
    orders: &[Order],
    doses: &[Dose],
    from: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
) -> Vec<OrderSchedule> {
    let zone = ny();
    let w = Window { from, until, now, tolerance: Duration::minutes(60), zone: &zone };
    schedule(orders, doses, &w).0
}

/// (due time, status) of an order's rows.
fn rows(s: &OrderSchedule) -> Vec<(String, &'static str)> {
    s.due.iter().map(|d| (d.at.clone().unwrap_or_default(), d.status.as_str())).collect()
}

fn find<'a>(all: &'a [OrderSchedule], id: &str) -> &'a OrderSchedule {
    all.iter().find(|o| o.order == id).unwrap_or_else(|| panic!("order {id} listed"))
}

fn r(at: &str, status: &'static str) -> (String, &'static str) {
    (at.to_string(), status)
}

#[test]
fn a_day_of_bid_tid_daily_q8h_and_bedtime_orders_with_every_status() {
    let from = datetime!(2026-11-21 08:45 -05:00);
    let now = datetime!(2026-11-21 14:30 -05:00);
    let orders = [
        order("bid", "Amlodipine", per_day(2)),
        order("tid", "Metformin", per_day(3)),
        order("qd", "Hydrochlorothiazide", per_day(1)),
        order("q8h", "Vancomycin", every_hours(8)),
        order("hs", "Simvastatin", json!({"repeat": {"when": ["HS"]}})),
    ];
    let doses = [
        dose("Amlodipine", datetime!(2026-11-21 09:20 -05:00), true, Some("e-bid")),
        dose("Metformin", datetime!(2026-11-21 09:05 -05:00), false, Some("e-tid")),
        // The last dose before the outage, from the census: the Q8H order counts from it.
        dose("Vancomycin", datetime!(2026-11-21 06:00 -05:00), true, None),
        dose("Vancomycin", datetime!(2026-11-21 14:10 -05:00), true, Some("e-vanc")),
    ];
    let all = run(&orders, &doses, from, now + Duration::hours(24), now);
    assert_eq!(
        rows(find(&all, "bid")),
        [
            r("2026-11-21T09:00:00-05:00", "given"),
            r("2026-11-21T21:00:00-05:00", "scheduled"),
            r("2026-11-22T09:00:00-05:00", "scheduled")
        ]
    );
    let bid = &find(&all, "bid").due[0];
    assert_eq!((bid.entry_id.as_deref(), bid.given_at.as_deref()), (Some("e-bid"), Some("2026-11-21T09:20:00-05:00")));
    assert_eq!(
        rows(find(&all, "tid")),
        [
            r("2026-11-21T09:00:00-05:00", "not-given"),
            r("2026-11-21T15:00:00-05:00", "due"),
            r("2026-11-21T21:00:00-05:00", "scheduled"),
            r("2026-11-22T09:00:00-05:00", "scheduled")
        ]
    );
    assert_eq!(find(&all, "tid").due[0].reason.as_deref(), Some("Refused by patient"));
    assert_eq!(
        rows(find(&all, "qd")),
        [r("2026-11-21T09:00:00-05:00", "overdue"), r("2026-11-22T09:00:00-05:00", "scheduled")]
    );
    // 06:00 + 8 h = 14:00, given at 14:10; the next counts from 14:10.
    assert_eq!(
        rows(find(&all, "q8h")),
        [
            r("2026-11-21T14:00:00-05:00", "given"),
            r("2026-11-21T22:10:00-05:00", "scheduled"),
            r("2026-11-22T06:10:00-05:00", "scheduled"),
            r("2026-11-22T14:10:00-05:00", "scheduled")
        ]
    );
    let q8h = find(&all, "q8h");
    assert_eq!(q8h.timing, "every 8 hours");
    assert!(q8h.other_doses.len() == 1 && q8h.other_doses[0].from_census, "the census dose stays listed: {q8h:?}");
    assert_eq!(rows(find(&all, "hs")), [r("2026-11-21T21:00:00-05:00", "scheduled")]);
    assert_eq!(find(&all, "hs").timing, "21:00");
}

#[test]
fn a_prn_order_shows_its_last_dose_and_when_the_next_is_allowed() {
    let from = datetime!(2026-11-21 08:45 -05:00);
    let now = datetime!(2026-11-21 14:30 -05:00);
    let mut prn = order("prn", "Acetaminophen 325 MG Oral Tablet", every_hours(4));
    prn.prn = true;
    let mut given = dose("acetaminophen", datetime!(2026-11-21 12:00 -05:00), true, Some("e-prn"));
    given.prn = true;
    let doses = [dose("Acetaminophen 325 MG Oral Tablet", datetime!(2026-11-21 06:00 -05:00), true, None), given];
    let all = run(&[prn], &doses, from, now + Duration::hours(24), now);
    let o = find(&all, "prn");
    assert_eq!((o.kind, o.timing.as_str()), (OrderKind::Prn, "as needed, every 4 hours"));
    let line = o.prn.as_ref().expect("prn line");
    assert_eq!(line.last_dose_at.as_deref(), Some("2026-11-21T12:00:00-05:00"));
    assert_eq!(
        (line.min_interval_minutes, line.next_allowed_at.as_deref()),
        (Some(240), Some("2026-11-21T16:00:00-05:00"))
    );
    assert_eq!(rows(o), [r("2026-11-21T16:00:00-05:00", "prn")]);
    assert_eq!(o.due[0].entry_id.as_deref(), Some("e-prn"));
    assert_eq!(o.other_doses.len(), 2, "every PRN dose is listed");
}

#[test]
fn clock_times_follow_daylight_saving_and_intervals_stay_real_hours() {
    // Fall back, 2026-11-01 02:00 EDT.
    let from = datetime!(2026-10-31 08:00 -04:00);
    let until = datetime!(2026-11-02 08:00 -05:00);
    let mut q4h = order("q4h", "Morphine", every_hours(4));
    q4h.start = Some(datetime!(2026-10-31 22:00 -04:00));
    let all = run(&[order("bid", "Amlodipine", per_day(2)), q4h], &[], from, until, until + Duration::hours(1));
    assert_eq!(
        rows(find(&all, "bid")),
        [
            r("2026-10-31T09:00:00-04:00", "overdue"),
            r("2026-10-31T21:00:00-04:00", "overdue"),
            r("2026-11-01T09:00:00-05:00", "overdue"),
            r("2026-11-01T21:00:00-05:00", "overdue")
        ]
    );
    let q4h: Vec<String> = rows(find(&all, "q4h")).into_iter().take(3).map(|(at, _)| at).collect();
    assert_eq!(q4h, ["2026-10-31T22:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T05:00:00-05:00"]);
    // Spring forward, 2026-03-08: 02:30 does not exist that night and is given at 03:30.
    let from = datetime!(2026-03-07 12:00 -05:00);
    let until = datetime!(2026-03-09 12:00 -04:00);
    let night = order("night", "Heparin", json!({"repeat": {"timeOfDay": ["02:30:00"]}}));
    let all = run(&[night], &[], from, until, from);
    assert_eq!(
        rows(find(&all, "night")),
        [r("2026-03-08T03:30:00-04:00", "scheduled"), r("2026-03-09T02:30:00-04:00", "scheduled")]
    );
}

fn order_response(time: &str, (medication, code): (&str, &str), frequency: &str, duration_days: Option<u32>) -> Value {
    let mut items = vec![
        json!({"linkId": "order-time", "answer": [{"valueDateTime": time}]}),
        json!({"linkId": "medication", "answer": [{"valueCoding": {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": medication}}]}),
        json!({"linkId": "dose", "answer": [{"valueQuantity": {"value": 1, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}}]}),
        json!({"linkId": "route", "answer": [{"valueCoding": {"system": "http://snomed.info/sct", "code": "47625008", "display": "Intravenous route"}}]}),
        json!({"linkId": "frequency", "answer": [{"valueCoding": {"system": "http://downtimekit.example.org/fhir/CodeSystem/frequency", "code": frequency}}]}),
    ];
    if let Some(d) = duration_days {
        items.push(json!({"linkId": "duration", "answer": [{"valueQuantity": {"value": d, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}]}));
    }
    json!({"resourceType": "QuestionnaireResponse", "item": items})
}

#[test]
fn downtime_orders_join_from_their_start_and_a_discontinue_order_stops_one() {
    let zone = ny();
    let from = datetime!(2026-11-21 08:45 -05:00);
    let now = datetime!(2026-11-21 14:30 -05:00);
    let q8h = downtime_order(
        "e-q8h",
        &order_response("2026-11-21T13:10:00-05:00", ("vancomycin", "11124"), "every-8-hours", Some(1)),
        &zone,
    )
    .expect("order");
    let bid = downtime_order(
        "e-bid",
        &order_response("2026-11-21T13:10:00-05:00", ("ceftriaxone", "2193"), "twice-daily", None),
        &zone,
    )
    .expect("order");
    let stop = downtime_order(
        "e-stop",
        &order_response("2026-11-21T13:00:00-05:00", ("amlodipine", "17767"), "discontinue", None),
        &zone,
    )
    .expect("order");
    assert!(stop.discontinue);
    let census = order("census:amlo", "Amlodipine 5 MG Oral Tablet", per_day(2));
    let all = run(&[census, q8h, bid, stop], &[], from, now + Duration::hours(24), now);
    assert_eq!(all.len(), 3, "a discontinue order only stops others");
    // Started at 13:10 and running one day: due at once, then every 8 hours until 13:10 tomorrow.
    assert_eq!(
        rows(find(&all, "e-q8h")),
        [
            r("2026-11-21T13:10:00-05:00", "overdue"),
            r("2026-11-21T21:10:00-05:00", "scheduled"),
            r("2026-11-22T05:10:00-05:00", "scheduled")
        ]
    );
    assert_eq!(find(&all, "e-q8h").stops_at.as_deref(), Some("2026-11-22T13:10:00-05:00"));
    assert_eq!(
        rows(find(&all, "e-bid")),
        [r("2026-11-21T21:00:00-05:00", "scheduled"), r("2026-11-22T09:00:00-05:00", "scheduled")]
    );
    let amlo = find(&all, "census:amlo");
    assert_eq!(rows(amlo), [r("2026-11-21T09:00:00-05:00", "overdue")]);
    assert_eq!(
        (amlo.stops_at.as_deref(), amlo.stopped_by.as_deref()),
        (Some("2026-11-21T13:00:00-05:00"), Some("e-stop"))
    );
}

#[test]
fn a_four_week_episode_lists_every_due_time_and_each_dose_once() {
    let from = datetime!(2026-11-02 08:00 -05:00);
    let until = from + Duration::days(28);
    let mut doses = Vec::new();
    let mut day = from.date();
    while day < until.date() {
        for hour in [9, 21] {
            let at = day.with_hms(hour, 5, 0).expect("time").assume_offset(time::macros::offset!(-05:00));
            if !(day.day() == 10 && hour == 21) {
                doses.push(dose("Amlodipine", at, true, Some("e")));
            }
        }
        day = day.next_day().expect("day");
    }
    for k in 0..=112 {
        doses.push(dose("Vancomycin", from + Duration::hours(6 * k), k != 50, Some("e")));
    }
    let orders = [order("bid", "Amlodipine", per_day(2)), order("q6h", "Vancomycin", every_hours(6))];
    let all = run(&orders, &doses, from, until, until + Duration::hours(1));
    let count = |id: &str, status: DueStatus| find(&all, id).due.iter().filter(|d| d.status == status).count();
    assert_eq!(find(&all, "bid").due.len(), 56);
    assert_eq!((count("bid", DueStatus::Given), count("bid", DueStatus::Overdue)), (55, 1));
    assert_eq!(find(&all, "q6h").due.len(), 113);
    assert_eq!((count("q6h", DueStatus::Given), count("q6h", DueStatus::NotGiven)), (112, 1));
    assert!(all.iter().all(|o| o.other_doses.is_empty()), "every dose covers a due time");
}

#[test]
fn an_order_the_mar_cannot_schedule_keeps_its_words_and_a_stray_dose_is_listed() {
    let from = datetime!(2026-11-21 08:45 -05:00);
    let now = datetime!(2026-11-21 14:30 -05:00);
    let mut insulin = order("insulin", "Insulin lispro", json!({"code": {"text": "per sliding scale"}}));
    insulin.text = Some("4 [iU] Subcutaneous before meals per sliding scale".into());
    let doses = [
        dose("Insulin lispro", datetime!(2026-11-21 11:30 -05:00), true, Some("e-ins")),
        dose("lorazepam", datetime!(2026-11-21 12:00 -05:00), true, Some("e-lor")),
    ];
    let zone = ny();
    let w = Window { from, until: now + Duration::hours(24), now, tolerance: Duration::minutes(60), zone: &zone };
    let (all, stray) = schedule(&[insulin], &doses, &w);
    let o = find(&all, "insulin");
    assert_eq!(
        (o.kind, o.timing.as_str()),
        (OrderKind::SeeOrder, "4 [iU] Subcutaneous before meals per sliding scale")
    );
    assert!(o.see_order.as_deref().is_some_and(|w| w.contains("no repeat pattern")), "{o:?}");
    assert!(o.due.is_empty() && o.other_doses.len() == 1, "{o:?}");
    assert_eq!(stray.len(), 1);
    assert_eq!(stray[0].entry_id.as_deref(), Some("e-lor"));
}

fn bundle(extra: Vec<Value>) -> Vec<u8> {
    let mut entry = vec![json!({"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "http://hospital.example.org/mrn", "value": "MAR1"}], "name": [{"family": "Test"}]}})];
    entry.extend(extra.into_iter().map(|r| json!({"resource": r})));
    serde_json::to_vec(&json!({"resourceType": "Bundle", "type": "collection", "entry": entry})).expect("json")
}

#[test]
fn the_census_keeps_timing_status_dose_and_the_last_doses_given() {
    let request = |id: &str, status: &str, dosage: Value| {
        json!({"resourceType": "MedicationRequest", "id": id, "status": status, "intent": "order",
            "subject": {"reference": "urn:uuid:p1"}, "authoredOn": "2026-11-19T09:30:00Z",
            "medicationCodeableConcept": {"text": "Vancomycin 1 G Injection"}, "dosageInstruction": [dosage]})
    };
    let bytes = bundle(vec![
        request(
            "mr1",
            "active",
            json!({"text": "1 g IV every 8 hours", "timing": every_hours(8),
            "route": {"text": "Intravenous"}, "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "g"}}]}),
        ),
        request("mr2", "on-hold", json!({"text": "as needed", "asNeededCodeableConcept": {"text": "pain"}})),
        request("mr3", "stopped", json!({"text": "stopped"})),
        json!({"resourceType": "MedicationAdministration", "status": "completed", "subject": {"reference": "urn:uuid:p1"},
            "medicationCodeableConcept": {"text": "Vancomycin 1 G Injection"}, "request": {"reference": "MedicationRequest/mr1"},
            "effectiveDateTime": "2026-11-21T04:00:00Z", "dosage": {"dose": {"value": 1, "unit": "g"}}}),
        json!({"resourceType": "MedicationAdministration", "status": "completed", "subject": {"reference": "urn:uuid:p1"},
            "medicationCodeableConcept": {"text": "Vancomycin"}, "effectiveDateTime": "2026-11-21"}),
    ]);
    let census = crate::census::parse(&bytes, Some("http://hospital.example.org/mrn")).expect("census");
    let p = &census.patients[0];
    assert_eq!(p.medications.len(), 2, "active and on-hold orders are kept");
    let vanc = &p.medications[0];
    assert_eq!(
        (vanc.dose.as_deref(), vanc.status.as_deref(), vanc.id.as_deref()),
        (Some("1 g"), Some("active"), Some("mr1"))
    );
    assert_eq!(vanc.timing.as_ref().map(|t| t.rule()), Some(Ok(super::Rule::Interval { minutes: 480 })));
    assert!(p.medications[1].prn && p.medications[1].prn_reason.as_deref() == Some("pain"));
    assert_eq!(p.administrations.len(), 1, "a dose without a time of day is counted, not guessed");
    assert_eq!(p.administrations[0].request.as_deref(), Some("MedicationRequest/mr1"));
    assert_eq!(census.skipped.get("MedicationAdministration (no time or medication)"), Some(&1));
    // The last dose before the outage anchors the order it names.
    let zone = LocalZone::utc();
    let orders = super::orders::census_orders(p, &zone);
    let doses = super::orders::census_doses(p);
    let now = datetime!(2026-11-21 09:00 UTC);
    let w = Window {
        from: datetime!(2026-11-21 08:00 UTC),
        until: now + Duration::hours(8),
        now,
        tolerance: Duration::minutes(60),
        zone: &zone,
    };
    let (all, _) = schedule(&orders, &doses, &w);
    assert_eq!(rows(&all[0]), [r("2026-11-21T12:00:00Z", "scheduled")]);
    assert_eq!(all[1].kind, OrderKind::OnHold);
}

#[test]
fn fail_a_census_timing_with_a_key_given_twice() {
    let text =
        String::from_utf8(bundle(vec![json!({"resourceType": "MedicationRequest", "id": "mr1", "status": "active",
        "subject": {"reference": "urn:uuid:p1"}, "medicationCodeableConcept": {"text": "Vancomycin"},
        "dosageInstruction": [{"timing": {"repeat": {"period": 8, "periodUnit": "h"}}}]})]))
        .expect("utf-8");
    let twice = text.replace("\"period\":8,", "\"period\":8,\"period\":1,");
    assert_ne!(twice, text);
    let err = crate::census::parse(twice.as_bytes(), None).expect_err("a repeated key is bad input");
    assert!(err.to_string().contains("\"period\" is given twice"), "{err}");
}

#[test]
fn a_dose_given_late_covers_the_overdue_due_time_it_was_late_for() {
    // The nurse gives the 09:00 dose at 11:30 and the 09:00 Q8H dose at 12:00: each late dose covers the due time
    // it was late for, not the next one, and the interval counts on from the late dose.
    let from = datetime!(2026-11-21 08:45 -05:00);
    let now = datetime!(2026-11-21 12:05 -05:00);
    let mut q8h = order("q8h", "Vancomycin", every_hours(8));
    q8h.start = Some(datetime!(2026-11-21 09:00 -05:00));
    let orders = [order("bid", "Amlodipine", per_day(2)), q8h];
    let doses = [
        dose("Amlodipine", datetime!(2026-11-21 11:30 -05:00), true, Some("e-late")),
        dose("Vancomycin", datetime!(2026-11-21 12:00 -05:00), true, Some("e-vanc")),
    ];
    let all = run(&orders, &doses, from, now + Duration::hours(12), now);
    assert_eq!(
        rows(find(&all, "bid")),
        [r("2026-11-21T09:00:00-05:00", "given"), r("2026-11-21T21:00:00-05:00", "scheduled")]
    );
    let bid = &find(&all, "bid").due[0];
    assert_eq!((bid.entry_id.as_deref(), bid.given_at.as_deref()), (Some("e-late"), Some("2026-11-21T11:30:00-05:00")));
    assert_eq!(
        rows(find(&all, "q8h")),
        [r("2026-11-21T09:00:00-05:00", "given"), r("2026-11-21T20:00:00-05:00", "scheduled")]
    );
    // A dose within the next due time's window is that one's, not a late one for the missed time before it.
    let doses = [dose("Amlodipine", datetime!(2026-11-21 20:30 -05:00), true, Some("e-next"))];
    let all = run(&orders[..1], &doses, from, now + Duration::hours(12), datetime!(2026-11-21 20:35 -05:00));
    assert_eq!(
        rows(find(&all, "bid")),
        [r("2026-11-21T09:00:00-05:00", "overdue"), r("2026-11-21T21:00:00-05:00", "given")]
    );
}
