// Findings (the core's, or the renderer's own) sorted for a form screen: by linkId to show beside each field, and the
// rest for the summary above the form, each as a sentence.

export interface Sorted {
  byField: Record<string, string[]>;
  general: string[];
}

export function sortFindings(list: { linkId: string | null; message: string }[]): Sorted {
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const f of list) {
    if (f.linkId) (byField[f.linkId] ??= []).push(sentence(f.message));
    else general.push(sentence(f.message));
  }
  return { byField, general };
}

function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
