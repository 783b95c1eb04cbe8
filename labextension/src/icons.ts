import { LabIcon } from '@jupyterlab/ui-components';

const AGENTS_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><rect x="2" y="4" width="20" height="16" rx="3" fill="none" stroke="#616161" stroke-width="2"/><path d="M6 9l3.5 3L6 15" fill="none" stroke="#616161" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/><rect x="11" y="14" width="7" height="2" rx="1"/></g></svg>';

export const agentsIcon = new LabIcon({
  name: 'coda-jupyter:agents-panel',
  svgstr: AGENTS_SVG
});
