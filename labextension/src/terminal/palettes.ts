/**
 * Terminal colour schemes: the published palettes of each scheme, with the
 * full 16-colour ANSI set so agents' coloured output keeps its meaning.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

export type PaletteKind = 'dark' | 'light';

export interface IPalette {
  id: string;
  /** The name shown in menus and the palette, in the user's language. */
  label: (trans: TranslationBundle) => string;
  kind: PaletteKind;
  foreground: string;
  background: string;
  cursor: string;
  cursorAccent: string;
  selectionBackground: string;
  black: string;
  red: string;
  green: string;
  yellow: string;
  blue: string;
  magenta: string;
  cyan: string;
  white: string;
  brightBlack: string;
  brightRed: string;
  brightGreen: string;
  brightYellow: string;
  brightBlue: string;
  brightMagenta: string;
  brightCyan: string;
  brightWhite: string;
}

/** The core behaviour: colours follow the JupyterLab theme. */
export const FOLLOW_JUPYTERLAB = 'follow-jupyterlab';

const SOLARIZED = {
  base03: '#002b36',
  base02: '#073642',
  base01: '#586e75',
  base00: '#657b83',
  base0: '#839496',
  base1: '#93a1a1',
  base2: '#eee8d5',
  base3: '#fdf6e3',
  yellow: '#b58900',
  orange: '#cb4b16',
  red: '#dc322f',
  magenta: '#d33682',
  violet: '#6c71c4',
  blue: '#268bd2',
  cyan: '#2aa198',
  green: '#859900'
};

// Solarized uses one ANSI mapping for both variants; only the base colours swap.
const SOLARIZED_ANSI = {
  black: SOLARIZED.base02,
  red: SOLARIZED.red,
  green: SOLARIZED.green,
  yellow: SOLARIZED.yellow,
  blue: SOLARIZED.blue,
  magenta: SOLARIZED.magenta,
  cyan: SOLARIZED.cyan,
  white: SOLARIZED.base2,
  brightBlack: SOLARIZED.base03,
  brightRed: SOLARIZED.orange,
  brightGreen: SOLARIZED.base01,
  brightYellow: SOLARIZED.base00,
  brightBlue: SOLARIZED.base0,
  brightMagenta: SOLARIZED.violet,
  brightCyan: SOLARIZED.base1,
  brightWhite: SOLARIZED.base3
};

const NORD = [
  '#2e3440',
  '#3b4252',
  '#434c5e',
  '#4c566a',
  '#d8dee9',
  '#e5e9f0',
  '#eceff4',
  '#8fbcbb',
  '#88c0d0',
  '#81a1c1',
  '#5e81ac',
  '#bf616a',
  '#d08770',
  '#ebcb8b',
  '#a3be8c',
  '#b48ead'
];

export const PALETTES: readonly IPalette[] = [
  {
    // VS Code "Dark Modern" terminal colours.
    id: 'dark',
    label: trans => trans.__('Dark'),
    kind: 'dark',
    foreground: '#cccccc',
    background: '#1e1e1e',
    cursor: '#ffffff',
    cursorAccent: '#1e1e1e',
    selectionBackground: '#264f78',
    black: '#000000',
    red: '#cd3131',
    green: '#0dbc79',
    yellow: '#e5e510',
    blue: '#2472c8',
    magenta: '#bc3fbc',
    cyan: '#11a8cd',
    white: '#e5e5e5',
    brightBlack: '#666666',
    brightRed: '#f14c4c',
    brightGreen: '#23d18b',
    brightYellow: '#f5f543',
    brightBlue: '#3b8eea',
    brightMagenta: '#d670d6',
    brightCyan: '#29b8db',
    brightWhite: '#e5e5e5'
  },
  {
    // VS Code "Light Modern" terminal colours.
    id: 'light',
    label: trans => trans.__('Light'),
    kind: 'light',
    foreground: '#333333',
    background: '#ffffff',
    cursor: '#000000',
    cursorAccent: '#ffffff',
    selectionBackground: '#add6ff',
    black: '#000000',
    red: '#cd3131',
    green: '#00bc00',
    yellow: '#949800',
    blue: '#0451a5',
    magenta: '#bc05bc',
    cyan: '#0598bc',
    white: '#555555',
    brightBlack: '#666666',
    brightRed: '#cd3131',
    brightGreen: '#14ce14',
    brightYellow: '#b5ba00',
    brightBlue: '#0451a5',
    brightMagenta: '#bc05bc',
    brightCyan: '#0598bc',
    brightWhite: '#a5a5a5'
  },
  {
    id: 'dracula',
    label: trans => trans.__('Dracula'),
    kind: 'dark',
    foreground: '#f8f8f2',
    background: '#282a36',
    cursor: '#f8f8f2',
    cursorAccent: '#282a36',
    selectionBackground: '#44475a',
    black: '#21222c',
    red: '#ff5555',
    green: '#50fa7b',
    yellow: '#f1fa8c',
    blue: '#bd93f9',
    magenta: '#ff79c6',
    cyan: '#8be9fd',
    white: '#f8f8f2',
    brightBlack: '#6272a4',
    brightRed: '#ff6e6e',
    brightGreen: '#69ff94',
    brightYellow: '#ffffa5',
    brightBlue: '#d6acff',
    brightMagenta: '#ff92df',
    brightCyan: '#a4ffff',
    brightWhite: '#ffffff'
  },
  {
    id: 'solarized-dark',
    label: trans => trans.__('Solarized Dark'),
    kind: 'dark',
    foreground: SOLARIZED.base0,
    background: SOLARIZED.base03,
    cursor: SOLARIZED.base1,
    cursorAccent: SOLARIZED.base03,
    selectionBackground: SOLARIZED.base02,
    ...SOLARIZED_ANSI
  },
  {
    id: 'solarized-light',
    label: trans => trans.__('Solarized Light'),
    kind: 'light',
    foreground: SOLARIZED.base00,
    background: SOLARIZED.base3,
    cursor: SOLARIZED.base01,
    cursorAccent: SOLARIZED.base3,
    selectionBackground: SOLARIZED.base2,
    ...SOLARIZED_ANSI
  },
  {
    id: 'nord',
    label: trans => trans.__('Nord'),
    kind: 'dark',
    foreground: NORD[4],
    background: NORD[0],
    cursor: NORD[4],
    cursorAccent: NORD[0],
    selectionBackground: NORD[2],
    black: NORD[1],
    red: NORD[11],
    green: NORD[14],
    yellow: NORD[13],
    blue: NORD[9],
    magenta: NORD[15],
    cyan: NORD[8],
    white: NORD[5],
    brightBlack: NORD[3],
    brightRed: NORD[11],
    brightGreen: NORD[14],
    brightYellow: NORD[13],
    brightBlue: NORD[9],
    brightMagenta: NORD[15],
    brightCyan: NORD[7],
    brightWhite: NORD[6]
  },
  {
    id: 'monokai',
    label: trans => trans.__('Monokai'),
    kind: 'dark',
    foreground: '#f8f8f2',
    background: '#272822',
    cursor: '#f8f8f0',
    cursorAccent: '#272822',
    selectionBackground: '#49483e',
    black: '#272822',
    red: '#f92672',
    green: '#a6e22e',
    yellow: '#f4bf75',
    blue: '#66d9ef',
    magenta: '#ae81ff',
    cyan: '#a1efe4',
    white: '#f8f8f2',
    brightBlack: '#75715e',
    brightRed: '#f92672',
    brightGreen: '#a6e22e',
    brightYellow: '#f4bf75',
    brightBlue: '#66d9ef',
    brightMagenta: '#ae81ff',
    brightCyan: '#a1efe4',
    brightWhite: '#f9f8f5'
  },
  {
    // GitHub's Primer "dark default" terminal colours.
    id: 'github-dark',
    label: trans => trans.__('GitHub Dark'),
    kind: 'dark',
    foreground: '#e6edf3',
    background: '#0d1117',
    cursor: '#2f81f7',
    cursorAccent: '#0d1117',
    selectionBackground: '#264f78',
    black: '#484f58',
    red: '#ff7b72',
    green: '#3fb950',
    yellow: '#d29922',
    blue: '#58a6ff',
    magenta: '#bc8cff',
    cyan: '#39c5cf',
    white: '#b1bac4',
    brightBlack: '#6e7681',
    brightRed: '#ffa198',
    brightGreen: '#56d364',
    brightYellow: '#e3b341',
    brightBlue: '#79c0ff',
    brightMagenta: '#d2a8ff',
    brightCyan: '#56d4dd',
    brightWhite: '#ffffff'
  }
];

export function paletteById(id: string): IPalette | undefined {
  return PALETTES.find(palette => palette.id === id);
}

const COLOUR_KEYS = [
  'foreground',
  'background',
  'cursor',
  'cursorAccent',
  'selectionBackground',
  'black',
  'red',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyan',
  'white',
  'brightBlack',
  'brightRed',
  'brightGreen',
  'brightYellow',
  'brightBlue',
  'brightMagenta',
  'brightCyan',
  'brightWhite'
] as const;

/** The colours as an xterm theme object. */
export function xtermColours(palette: IPalette): Record<string, string> {
  const colours: Record<string, string> = {};
  for (const key of COLOUR_KEYS) {
    colours[key] = palette[key];
  }
  return colours;
}
