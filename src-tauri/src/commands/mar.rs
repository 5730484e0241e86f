//! The MAR's conversions from the core (`dtk::api::Mar`, `dtk::api::UnitOverdue`) to the DTOs: field for field, so
//! that the MAR tab shows what `dtk mar --patient MRN --json` prints (`tests/mar.rs` holds the two together). The
//! commands themselves are `nurse::patient_mar` and `charge::unit_overdue`.
use crate::dto::{
    Allergy, DueStatus, MarDose, MarDue, MarOrder, MarOrderKind, MarPrn, MarView, OverdueDose, UnitOverdue,
};
use dtk::mar;

/// Minutes are small: a value that did not fit would be a damaged setting, shown as 0 rather than failing the MAR.
fn minutes(m: i64) -> i32 {
    i32::try_from(m).unwrap_or(0)
}

fn status(s: mar::DueStatus) -> DueStatus {
    match s {
        mar::DueStatus::Given => DueStatus::Given,
        mar::DueStatus::NotGiven => DueStatus::NotGiven,
        mar::DueStatus::Due => DueStatus::Due,
        mar::DueStatus::Overdue => DueStatus::Overdue,
        mar::DueStatus::Scheduled => DueStatus::Scheduled,
        mar::DueStatus::Prn => DueStatus::Prn,
    }
}

fn kind(k: mar::OrderKind) -> MarOrderKind {
    match k {
        mar::OrderKind::Scheduled => MarOrderKind::Scheduled,
        mar::OrderKind::Prn => MarOrderKind::Prn,
        mar::OrderKind::SeeOrder => MarOrderKind::SeeOrder,
        mar::OrderKind::OnHold => MarOrderKind::OnHold,
    }
}

fn dose(d: mar::DoseLine) -> MarDose {
    MarDose {
        at: d.at,
        medication: d.medication,
        given: d.given,
        reason: d.reason,
        entry_id: d.entry_id,
        given_by: d.given_by,
        from_census: d.from_census,
    }
}

fn order(o: mar::OrderSchedule) -> MarOrder {
    MarOrder {
        order: o.order,
        from_census: o.source == mar::OrderSource::Census,
        medication: o.medication,
        dose: o.dose,
        route: o.route,
        timing: o.timing,
        kind: kind(o.kind),
        see_order: o.see_order,
        starts_at: o.starts_at,
        stops_at: o.stops_at,
        prn: o.prn.map(|p| MarPrn {
            last_dose_at: p.last_dose_at,
            min_interval_minutes: p.min_interval_minutes.map(minutes),
            next_allowed_at: p.next_allowed_at,
        }),
        due: o
            .due
            .into_iter()
            .map(|d| MarDue {
                at: d.at,
                status: status(d.status),
                entry_id: d.entry_id,
                given_at: d.given_at,
                given_by: d.given_by,
                from_census: d.from_census,
                reason: d.reason,
            })
            .collect(),
        other_doses: o.other_doses.into_iter().map(dose).collect(),
    }
}

pub(super) fn view(m: dtk::api::Mar) -> MarView {
    MarView {
        mrn: m.mrn,
        name: m.name,
        allergies: m
            .allergies
            .into_iter()
            .map(|a| Allergy { substance: a.substance, reaction: a.reaction, criticality: a.criticality })
            .collect(),
        drill: m.drill,
        from: m.from,
        until: m.until,
        now: m.now,
        time_zone: m.time_zone,
        window_minutes: minutes(m.window_minutes),
        orders: m.orders.into_iter().map(order).collect(),
        unmatched_doses: m.unmatched_doses.into_iter().map(dose).collect(),
    }
}

pub(super) fn unit(u: dtk::api::UnitOverdue) -> UnitOverdue {
    UnitOverdue {
        now: u.now,
        window_minutes: minutes(u.window_minutes),
        doses: u
            .doses
            .into_iter()
            .map(|d| OverdueDose {
                mrn: d.mrn,
                name: d.name,
                location: d.location,
                medication: d.medication,
                dose: d.dose,
                route: d.route,
                due_at: d.due_at,
            })
            .collect(),
        unreadable: u.unreadable,
    }
}
