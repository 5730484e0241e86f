// Every HIM, administrator, MAR and charge nurse gallery entry mounts alone and has no axe-core violations (jsdom; Chromium's gallery
// run adds contrast).
import { describe, expect, it } from 'vitest';
import axe from 'axe-core';
import { entries as him } from './him';
import { entries as admin } from './admin';
import { entries as mar } from './mar';
import { entries as charge } from './charge';

for (const [area, entries] of [
  ['HIM', him],
  ['Administrator', admin],
  ['MAR', mar],
  ['Charge nurse', charge],
] as const) {
  describe(`${area} gallery`, { timeout: 30_000 }, () => {
    for (const entry of entries) {
      it(`${entry.name} mounts and is axe-clean`, async () => {
        const target = document.createElement('div');
        document.body.replaceChildren(target);
        await entry.mount(target);
        const result = await axe.run(target, { rules: { 'color-contrast': { enabled: false } } });
        expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
      });
    }
  });
}
