// Svelte compiler options for the UI: runes everywhere, so no component falls back to Svelte 4 semantics.
export default {
  compilerOptions: { runes: true },
};
