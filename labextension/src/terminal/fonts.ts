/**
 * Monospace families the browser can actually draw, found by measuring text
 * on a canvas: nothing is downloaded, so the list is what this machine has.
 * Families that fontconfig silently aliases to a metric twin (Courier New)
 * are left out: they would measure as present without being installed.
 */

const CANDIDATES = [
  'JetBrains Mono',
  'Fira Code',
  'Fira Mono',
  'Cascadia Code',
  'Cascadia Mono',
  'Source Code Pro',
  'SF Mono',
  'Menlo',
  'Monaco',
  'Consolas',
  'Ubuntu Mono',
  'DejaVu Sans Mono',
  'Liberation Mono',
  'Noto Sans Mono',
  'Roboto Mono',
  'IBM Plex Mono',
  'Hack',
  'Inconsolata'
];

// Comparing against several generic families avoids missing a font that
// happens to be the default for one of them.
const BASELINES = ['monospace', 'sans-serif', 'serif'];
const SAMPLE = 'mmmmmmmmmmlli10OWW@#';

/** The installed subset of well-known coding fonts, in preference order. */
export function availableFonts(): string[] {
  const context = document.createElement('canvas').getContext('2d');
  if (!context) {
    return [];
  }
  const width = (family: string): number => {
    context.font = `32px ${family}`;
    return context.measureText(SAMPLE).width;
  };
  const baseline = BASELINES.map(width);
  return CANDIDATES.filter(name =>
    BASELINES.some(
      (generic, index) => width(`"${name}", ${generic}`) !== baseline[index]
    )
  );
}

/** The value for the core `fontFamily` setting. */
export function fontFamilyValue(name: string): string {
  return `"${name}", monospace`;
}

/** The chosen family back from a core `fontFamily` value, if it is one of ours. */
export function chosenFont(value: unknown): string | null {
  if (typeof value !== 'string') {
    return null;
  }
  const match = /^"([^"]+)", monospace$/.exec(value);
  return match ? match[1] : null;
}
