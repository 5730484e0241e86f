// The SDC features real forms use, on the form screen: item.prefix, questionnaire-hidden, entryFormat, the item
// controls (drop-down, check-box, slider, spinner, autocomplete), and the FHIRPath expressions evaluated live with
// fhirpath.js: variables, a calculated BMI (read-only, in the saved response), an enableWhenExpression and an
// initialExpression from %patient. The form is tests/data/forms/standard/sdc-features.json, which the core loads too.
import { describe, expect, it, vi } from 'vitest';
import axe from 'axe-core';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import FormScreen from './FormScreen.svelte';
import type { EntryRequest } from '../../backend/generated/EntryRequest';
import { demoBackend, patient, sdcForm } from './testing';

function mount() {
  const backend = demoBackend();
  const form = sdcForm(backend);
  const who = patient(backend, 'DEV2003');
  const saved: EntryRequest[] = [];
  const original = backend.saveEntry.bind(backend);
  backend.saveEntry = vi.fn(async (request: EntryRequest) => {
    saved.push(request);
    return original(request);
  });
  render(FormScreen, {
    backend,
    patient: who,
    form,
    user: { username: 'demo.nurse', displayName: 'Dana Demo', role: 'nurse', mustChangePassword: false },
    onClose: vi.fn(),
  });
  return { who, saved, user: userEvent.setup() };
}

const field = (linkId: string) => document.querySelector(`[data-link-id="${linkId}"]`) as HTMLElement | null;

function answerOf(request: EntryRequest | undefined, linkId: string): unknown {
  const items = (request?.response as { item?: { linkId: string; answer?: unknown[] }[] }).item ?? [];
  return items.find((i) => i.linkId === linkId)?.answer;
}

describe('SDC features on the form screen', () => {
  it('shows the prefix before the text, the entry format as a placeholder, and never shows a hidden item', () => {
    mount();
    const weight = screen.getByLabelText(/^2\. Weight/);
    expect(weight).toHaveAttribute('placeholder', 'nnn.n');
    expect(field('audit-code')).toBeNull();
    expect(screen.queryByText('Internal code')).toBeNull();
  });

  it('fills an item from %patient when the form opens', () => {
    const { who } = mount();
    const family = who.name.split(',')[0]!.trim();
    expect(screen.getByLabelText(/^1\. Patient's family name/)).toHaveValue(family);
  });

  it('computes the BMI from the weight and height as they are typed, read-only, and turns an item on by expression', async () => {
    const { user } = mount();
    const bmi = screen.getByLabelText(/^BMI/);
    expect(bmi).toHaveAttribute('readonly');
    expect(bmi).toHaveValue('');
    expect(field('obesity-advice')).toBeNull();

    await user.type(screen.getByLabelText(/^2\. Weight/), '70');
    const height = screen.getByLabelText(/^3\. Height/);
    expect(height).toHaveAttribute('type', 'number');
    await user.type(height, '1.75');
    expect(bmi).toHaveValue('22.9');
    expect(field('obesity-advice')).toBeNull();

    await user.clear(screen.getByLabelText(/^2\. Weight/));
    await user.type(screen.getByLabelText(/^2\. Weight/), '100');
    expect(bmi).toHaveValue('32.7');
    expect(field('obesity-advice')).not.toBeNull();
    expect(within(field('bmi')!).getByText(/Calculated by the form/)).toBeInTheDocument();
  });

  it('draws the item controls the form names: check boxes, a drop-down, a slider and a searchable list', async () => {
    const { user } = mount();
    const sites = screen.getByRole('group', { name: /Where is the pain\?/ });
    await user.click(within(sites).getByRole('checkbox', { name: 'Head' }));
    await user.click(within(sites).getByRole('checkbox', { name: 'Abdomen' }));
    expect(within(sites).getByRole('checkbox', { name: 'Head' })).toBeChecked();
    expect(within(sites).getByRole('checkbox', { name: 'Chest' })).not.toBeChecked();

    await user.selectOptions(screen.getByRole('combobox', { name: /^Position/ }), 'Sitting');
    expect(screen.getByRole('combobox', { name: /^Position/ })).toHaveValue('sitting');

    const slider = screen.getByRole('slider', { name: /^Pain \(0 to 10\)/ });
    expect(slider).toHaveAttribute('min', '0');
    expect(slider).toHaveAttribute('max', '10');
    expect(within(field('pain')!).getByText('Not answered')).toBeInTheDocument();

    const ward = screen.getByRole('group', { name: /Transferred from/ });
    expect(within(ward).getAllByRole('radio')).toHaveLength(3);
    await user.type(within(ward).getByRole('searchbox'), 'emerg');
    expect(within(ward).getAllByRole('radio')).toHaveLength(1);
    await user.click(within(ward).getByRole('radio', { name: 'Emergency department' }));
    expect(within(ward).getByRole('radio', { name: 'Emergency department' })).toBeChecked();
  });

  it('saves the calculated BMI, every checked box, the hidden item and the chosen options in the response', async () => {
    const { user, saved } = mount();
    await user.type(screen.getByLabelText(/^2\. Weight/), '70');
    await user.type(screen.getByLabelText(/^3\. Height/), '1.75');
    const sites = screen.getByRole('group', { name: /Where is the pain\?/ });
    await user.click(within(sites).getByRole('checkbox', { name: 'Head' }));
    await user.click(within(sites).getByRole('checkbox', { name: 'Chest' }));
    await user.click(within(sites).getByRole('checkbox', { name: 'Head' }));
    await user.click(within(sites).getByRole('checkbox', { name: 'Abdomen' }));
    await user.selectOptions(screen.getByRole('combobox', { name: /^Position/ }), 'Supine');
    await user.type(screen.getByLabelText(/^Time of assessment/), '2026-12-07T09:30');
    await user.click(screen.getByRole('button', { name: /^Save/ }));

    const request = saved[0];
    expect(answerOf(request, 'bmi')).toEqual([{ valueDecimal: 22.9 }]);
    expect(answerOf(request, 'site')).toEqual([
      { valueCoding: { system: 'http://example.org/site', code: 'chest', display: 'Chest' } },
      { valueCoding: { system: 'http://example.org/site', code: 'abdomen', display: 'Abdomen' } },
    ]);
    expect(answerOf(request, 'position')).toEqual([
      { valueCoding: { system: 'http://example.org/position', code: 'supine', display: 'Supine' } },
    ]);
    expect(answerOf(request, 'audit-code')).toEqual([{ valueString: 'X1' }]);
    expect(answerOf(request, 'obesity-advice')).toBeUndefined();
  });

  it('offers only the options its answerExpression allows, live, and will not save one it has taken away', async () => {
    const { user, saved } = mount();
    const route = () => screen.getByRole('group', { name: /Route for the next dose/ });
    const line = screen.getByRole('group', { name: /IV line in place\?/ });
    expect(within(route()).getAllByRole('radio').map((r) => r.getAttribute('value'))).toEqual(['po', 'sc']);

    await user.click(within(line).getByRole('radio', { name: 'Yes' }));
    expect(within(route()).getAllByRole('radio').map((r) => r.getAttribute('value'))).toEqual(['po', 'iv', 'sc']);
    await user.click(within(route()).getByRole('radio', { name: 'Intravenous' }));

    // The line is taken out after IV was chosen: IV is no longer offered, and the save is refused in the core's words.
    await user.click(within(line).getByRole('radio', { name: 'No' }));
    expect(within(route()).queryByRole('radio', { name: 'Intravenous' })).toBeNull();
    await user.type(screen.getByLabelText(/^Time of assessment/), '2026-12-07T09:30');
    await user.click(screen.getByRole('button', { name: /^Save/ }));
    expect(await within(field('route')!).findByText(/not one of the answers its answerExpression allows/i)).toBeInTheDocument();
    expect(saved).toHaveLength(0);
  });

  it('has no accessibility violations', async () => {
    const { container } = render(FormScreen, {
      backend: demoBackend(),
      patient: patient(demoBackend(), 'DEV2003'),
      form: sdcForm(demoBackend()),
      onClose: vi.fn(),
    });
    const result = await axe.run(container);
    expect(result.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  });
});
