// The screen gallery's contract: every screen of the app, mounted alone in a plain browser against a seeded
// MemoryBackend, so the accessibility run (axe-core in headless Chromium) and people reviewing the UI can reach each
// screen by name without clicking through the app.
//
// Each area of the app lists its screens in its own file beside this one (session.ts, nurse.ts, charge.ts, him.ts),
// exporting `entries: GalleryEntry[]`; gallery/main.ts discovers the files, so adding a screen touches only its area.
export interface GalleryEntry {
  /** Stable, URL-safe name: the gallery shows it at `gallery.html#<name>`. */
  name: string;
  /** What a reviewer reads in the index. */
  title: string;
  /**
   * Mounts the screen (with its own seeded MemoryBackend) into `target`, and resolves once the screen shows its
   * content (data loaded, not a spinner), so the accessibility check sees what a user would.
   */
  mount(target: HTMLElement): Promise<void>;
}
