// A realistic, deterministic HIM worklist for the gallery and the screens' tests: a few hundred entries of a 5 East
// outage from four workstations, census patients (matched), one downtime registration with a temporary MRN (pending),
// a paper back-entry, cross-workstation duplicate proposals, and an import folder with good and refused files.
// Every name and number is synthetic.
import { FORM_BASE, type HimRow, type HimSeed } from './him';
import { MRN_SYSTEM, TEMP_MRN_SYSTEM } from './state';
import type { PatientInfo } from '../generated/PatientInfo';

const PATIENTS: [name: string, mrn: string, birthDate: string, bed: string][] = [
  ['Avery Lindqvist', 'DEV2001', '1948-03-12', '5E-01'],
  ['Bea Okonkwo', 'DEV2002', '1961-11-30', '5E-02'],
  ['Carlos Ibáñez', 'DEV2003', '1975-07-04', '5E-03'],
  ['Dagny Haraldsdóttir', 'DEV2004', '1939-01-22', '5E-04'],
  ['Eitan Rosenfeld', 'DEV2005', '1983-05-17', '5E-05'],
  ['Fatima Al-Sayed', 'DEV2006', '1990-09-09', '5E-06'],
  ['Gus Papadopoulos', 'DEV2007', '1952-12-01', '5E-07'],
  ['Hana Kobayashi', 'DEV2008', '1944-06-28', '5E-08'],
  ['Ines Moreau', 'DEV2009', '1968-02-14', '5E-09'],
  ['Jae-won Park', 'DEV2010', '1979-10-05', '5E-10'],
  ['Kofi Mensah', 'DEV2011', '1958-04-19', '5E-11'],
  ['Łucja Wiśniewska', 'DEV2012', '1986-08-23', '5E-12'],
];

/** The downtime registration: arrived during the outage, registered with a temporary MRN. */
export const TEMP_PATIENT = { name: 'Unknown Male Trauma', mrn: 'T5E-0007', birthDate: null, bed: '5E-14' };

const FORMS = ['medication-administration', 'vital-signs', 'nursing-note', 'intake-output'];
export const WORKSTATIONS = ['5E-WS1', '5E-WS2', '5E-WS3', '5E-WS4'];
const NURSES = ['Dana Rivera, RN', 'Sam Whitfield, RN', 'Priya Natarajan, RN', 'Tomás Herrera, RN'];
const MEDS = ['Heparin 5000 units SC', 'Metoprolol 25 mg PO', 'Acetaminophen 650 mg PO', 'Ondansetron 4 mg IV'];
export const EPISODE = '4f6a1c9e-2b7d-4e0a-9c3f-8d1e5b2a7c60';

/** A small linear congruential generator, so every run seeds the same worklist. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 16) % n;
  };
}

function id(n: number): string {
  return `e${String(n).padStart(5, '0')}-5e`;
}

function time(minutes: number): string {
  const t = new Date(Date.UTC(2026, 10, 21, 14, 0) + minutes * 60_000);
  return t.toISOString().replace('.000Z', 'Z');
}

function row(n: number, pick: (k: number) => number, overrides: Partial<HimRow> = {}): HimRow {
  const form = FORMS[pick(FORMS.length)] ?? 'vital-signs';
  const [name, mrn, birthDate, bed] = PATIENTS[pick(PATIENTS.length)] ?? PATIENTS[0]!;
  const ws = pick(WORKSTATIONS.length);
  const at = time(n * 2 + pick(30));
  const medication = form === 'medication-administration' ? (MEDS[pick(MEDS.length)] ?? null) : null;
  const answers =
    form === 'medication-administration'
      ? [
          { linkId: 'medication', text: medication ?? '' },
          { linkId: 'time-given', text: at },
          { linkId: 'route', text: medication?.includes(' IV') ? 'Intravenous' : 'Oral' },
        ]
      : form === 'vital-signs'
        ? [
            { linkId: 'heart-rate', text: `${60 + pick(50)} /min` },
            { linkId: 'bp-systolic', text: `${100 + pick(60)} mm[Hg]` },
            { linkId: 'temperature', text: `${(36 + pick(30) / 10).toFixed(1)} Cel` },
          ]
        : [{ linkId: 'note', text: 'Patient resting, no distress. Family at bedside.' }];
  return {
    entryId: id(n),
    state: 'matched',
    duplicateOf: null,
    batchId: null,
    reason: null,
    workstation: WORKSTATIONS[ws] ?? '5E-WS1',
    episodeId: EPISODE,
    paper: false,
    form: `${FORM_BASE}${form}|1.0.0`,
    entryStatus: pick(40) === 0 ? 'amended' : 'signed',
    version: 1,
    author: NURSES[ws] ?? 'Dana Rivera, RN',
    patientName: name,
    birthDate,
    mrn,
    location: bed,
    matchedMrn: null,
    clinicalTime: at,
    medication,
    paperPage: null,
    proposedDuplicates: [],
    decidedBy: 'lhim',
    decidedAt: '2026-11-22T08:05:00Z',
    answers,
    recordedAt: time(n * 2 + 35),
    temporary: false,
    ...overrides,
  };
}

/** `count` rows (default 320) with the mix above; ids sort in creation order. */
export function himSeed(count = 320): HimSeed {
  const pick = lcg(20261121);
  const rows: HimRow[] = [];
  for (let n = 1; n <= count; n++) rows.push(row(n, pick));
  // The temporary-MRN patient: six entries from two workstations, all pending until matched.
  for (const n of [7, 48, 95, 160, 201, 288].filter((k) => k <= count)) {
    rows[n - 1] = row(n, pick, {
      state: 'pending',
      patientName: TEMP_PATIENT.name,
      mrn: TEMP_PATIENT.mrn,
      birthDate: TEMP_PATIENT.birthDate,
      location: TEMP_PATIENT.bed,
      temporary: true,
    });
  }
  // Duplicate pairs: the same dose charted on two workstations five minutes apart, and a paper form of an entry.
  const proposals: [string, string][] = [];
  for (const [a, b, paper] of [
    [12, 13, false],
    [40, 41, true],
    [131, 132, false],
    [250, 251, false],
  ] as const) {
    if (b > count) continue;
    const left = rows[a - 1]!;
    const later = new Date(Date.parse(left.clinicalTime ?? time(0)) + 5 * 60_000).toISOString().replace('.000Z', 'Z');
    const form = `${FORM_BASE}medication-administration|1.0.0`;
    const medication = MEDS[0]!;
    Object.assign(left, {
      form,
      medication,
      answers: [
        { linkId: 'medication', text: medication },
        { linkId: 'time-given', text: left.clinicalTime ?? '' },
        { linkId: 'route', text: 'Subcutaneous' },
      ],
    });
    rows[b - 1] = {
      ...left,
      entryId: id(b),
      workstation: paper ? 'HIM-STATION' : WORKSTATIONS[(WORKSTATIONS.indexOf(left.workstation) + 1) % 4]!,
      author: paper ? 'S. Whitfield RN (on paper)' : NURSES[(WORKSTATIONS.indexOf(left.workstation) + 1) % 4]!,
      paper,
      clinicalTime: later,
      answers: [
        { linkId: 'medication', text: medication },
        { linkId: 'time-given', text: later },
        { linkId: 'route', text: 'Subcutaneous' },
      ],
    };
    proposals.push([id(a), id(b)]);
  }
  // Decisions already taken earlier in the shift, each with who and why.
  const decided: [number, HimRow['state'], string | null][] = [
    [3, 'accepted', null],
    [5, 'rejected', 'Charted on the wrong patient; re-charted by the unit as entry e00006'],
    [9, 'needs-correction', 'Dose documented as 50 mg; MAR says 25 mg. Asked 5 East to amend'],
  ];
  for (const [n, state, reason] of decided) {
    const r = rows[n - 1];
    if (r && r.state === 'matched') Object.assign(r, { state, reason, decidedBy: 'mokafor', decidedAt: '2026-11-22T07:40:00Z' });
  }
  for (const r of rows) {
    r.proposedDuplicates = proposals.filter(([a, b]) => a === r.entryId || b === r.entryId).map(([a, b]) => (a === r.entryId ? b : a));
  }

  const late = row(count + 1, pick, { workstation: '5E-WS2', author: NURSES[1]! });
  // 5E-WS6 died in the downtime's second week: its entries are in the unit share its peers hold a copy of.
  const dead = [row(count + 2, pick, { workstation: '5E-WS6' }), row(count + 3, pick, { workstation: '5E-WS6' })];
  return {
    rows,
    proposals,
    importDir: '/media/usb/handoff',
    files: [
      {
        name: '5E-WS2-late.dtkh',
        bytes: 48_212,
        // From the PC that replaced 5E-WS2 after its disk died (restored from its backup).
        outcome: {
          rows: [late],
          conflicts: [{ entryId: id(22), version: 2 }],
          unsignedLeft: [{ user: 'rpatel', count: 2 }],
          workstation: '5E-WS5',
          restoredFrom: ['5E-WS2'],
        },
      },
      {
        name: '5E-WS3-copy.dtkh',
        bytes: 51_009,
        outcome: { refused: { code: 'integrity', message: 'the file was changed after the workstation signed it (tampered)' } },
      },
      {
        name: '5E-WS4-partial.dtkh',
        bytes: 8_192,
        outcome: { refused: { code: 'integrity', message: 'the file is truncated: 8192 of 60417 bytes' } },
      },
      {
        name: '5E-WS1-old.dtkh',
        bytes: 40_871,
        outcome: {
          refused: { code: 'conflict', message: 'file #1 of this workstation is older than file #2 already imported (replayed)' },
        },
      },
    ],
    shares: [
      {
        name: '5E-unit-share',
        workstations: [
          { workstation: '5E-WS1', segments: 14, writtenAt: '2026-11-22T05:58:00Z', rows: rows.filter((r) => r.workstation === '5E-WS1').slice(0, 3) },
          { workstation: '5E-WS6', segments: 9, writtenAt: '2026-11-22T03:12:00Z', rows: dead, unsigned: 1 },
          {
            workstation: '5E-WS3',
            segments: 0,
            writtenAt: '',
            rows: [],
            refused: '5E-WS3/0000000004.dtku: changed after its workstation signed it (does not decrypt or verify)',
          },
        ],
      },
    ],
    failOnFirstPost: [id(3)],
    patients: [
      ...PATIENTS.map(([name, mrn, birthDate, bed]): PatientInfo => ({
        id: `patient-${mrn}`,
        name,
        mrn,
        mrnSystem: MRN_SYSTEM,
        temporary: false,
        birthDate,
        gender: null,
        location: bed,
        allergies: [],
      })),
      {
        id: `patient-${TEMP_PATIENT.mrn}`,
        name: TEMP_PATIENT.name,
        mrn: TEMP_PATIENT.mrn,
        mrnSystem: TEMP_MRN_SYSTEM,
        temporary: true,
        birthDate: null,
        gender: null,
        location: TEMP_PATIENT.bed,
        allergies: [],
      },
    ],
    scans: {
      '/media/scans/page-001.png': {
        qr: `DTK1;form=${FORM_BASE}vital-signs|1.0.0;mrn=DEV2003;ep=${EPISODE}`,
        form: `${FORM_BASE}vital-signs|1.0.0`,
        formTitle: 'Vital signs',
        mrn: 'DEV2003',
        episode: EPISODE,
        entry: null,
        unit: '5 East',
        mar: false,
      },
      // Paper from a total outage: a blank form printed before any episode, and a downtime MAR page naming none.
      '/media/scans/blank-001.png': {
        qr: `DTK1;form=${FORM_BASE}vital-signs|1.0.0;mrn=DEV2004;unit=5 East`,
        form: `${FORM_BASE}vital-signs|1.0.0`,
        formTitle: 'Vital signs',
        mrn: 'DEV2004',
        episode: null,
        entry: null,
        unit: '5 East',
        mar: false,
      },
      '/media/scans/mar-001.png': {
        qr: 'DTK1;form=http://downtimekit.example.org/print/downtime-mar|1;mrn=DEV2005;unit=5 East',
        form: 'http://downtimekit.example.org/print/downtime-mar|1',
        formTitle: null,
        mrn: 'DEV2005',
        episode: null,
        entry: null,
        unit: '5 East',
        mar: true,
      },
    },
    episodes: [
      { id: EPISODE, unit: '5 East', startedAt: '2026-11-21T06:00:00Z', endedAt: '2026-11-21T20:00:00Z', paperOnly: false },
    ],
  };
}
