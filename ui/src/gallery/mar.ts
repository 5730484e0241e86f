// Gallery entries of the MAR (issue 16 item 3): Okafor's MAR tab with an overdue dose, a given one, an as-needed one;
// Nguyen's with an order the MAR cannot schedule ("see order"); the charge nurse's unit view of overdue doses.
import { mount } from 'svelte';
import PatientChart from '../lib/screens/nurse/PatientChart.svelte';
import ChargeDesk from '../lib/screens/charge/ChargeDesk.svelte';
import { marBackend } from '../lib/screens/nurse/marFixture';
import { settled } from './session';
import type { GalleryEntry } from './types';

const noop = () => {};

function marTab(name: string, title: string, mrn: string): GalleryEntry {
  return {
    name,
    title,
    async mount(target) {
      const backend = await marBackend();
      const patient = backend.state.patients.find((p) => p.mrn === mrn);
      if (!patient) throw new Error(`no patient ${mrn}`);
      mount(PatientChart, { target, props: { backend, patient, tab: 'mar', onOpenForm: noop, onOpenEntry: noop, onBack: noop } });
      await settled(target, '[data-testid="mar-order"]');
    },
  };
}

export const entries: GalleryEntry[] = [
  marTab('mar-tab', 'Nurse: MAR tab (overdue, given, as needed)', 'DEV2003'),
  marTab('mar-see-order', 'Nurse: MAR tab with a "see order" timing', 'DEV2002'),
  {
    name: 'charge-overdue-doses',
    title: 'Charge nurse: overdue doses on the unit',
    async mount(target) {
      const backend = await marBackend('demo.charge');
      const session = { username: 'demo.charge', displayName: 'Demo Charge Nurse', role: 'charge' as const, mustChangePassword: false };
      mount(ChargeDesk, { target, props: { backend, session } });
      await settled(target, 'nav button');
      const button = [...target.querySelectorAll('nav button')].find((b) => b.textContent?.trim() === 'Overdue doses');
      (button as HTMLButtonElement | undefined)?.click();
      await settled(target, '[data-testid="overdue-dose"]');
    },
  },
];
