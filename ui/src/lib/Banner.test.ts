// The banner's interim-backup line (issue 14, "a dead disk"): the backup's age, OVERDUE past the site's interval,
// and a failed automatic backup said plainly, on every signed-in screen.
import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import Banner from './Banner.svelte';
import type { BackupInfo, DowntimeStatus } from './backend';

const now = new Date('2026-12-01T12:00:00Z');
const session = { username: 'demo.nurse', displayName: 'Demo Nurse', role: 'nurse' as const, mustChangePassword: false };

function status(backup: Partial<BackupInfo>): DowntimeStatus {
  return {
    unit: '5 East',
    episode: null,
    snapshotTime: null,
    lastSave: null,
    backup: { lastAt: null, lastFolder: null, overdue: false, running: false, failure: null, intervalHours: 4, ...backup },
    readOnly: false,
    idleTimeoutSecs: 300,
  };
}

function backupLine(backup: Partial<BackupInfo>): string {
  const { unmount } = render(Banner, { unit: '5 East', session, status: status(backup), now });
  const text = screen.getByTestId('banner-backup').textContent?.replace(/\s+/g, ' ').trim() ?? '';
  unmount();
  return text;
}

describe('the banner shows the interim backup', () => {
  it('says its age, overdue, running, failed or none', () => {
    expect(backupLine({ lastAt: '2026-12-01T10:00:00Z', lastFolder: '/media/usb/dtk' })).toBe(
      'Backup 2 h 0 min old (/media/usb/dtk)',
    );
    expect(backupLine({ lastAt: '2026-12-01T07:00:00Z', overdue: true })).toBe('Backup OVERDUE: 5 h 0 min old');
    expect(backupLine({ running: true })).toBe('Backing up…');
    expect(backupLine({ failure: 'the backup folder /media/usb/dtk is not there', overdue: true })).toBe(
      'Backup FAILED: the backup folder /media/usb/dtk is not there',
    );
    expect(backupLine({ overdue: true })).toBe('No backup yet: OVERDUE');
    expect(backupLine({})).toBe('No backup yet');
  });
});
