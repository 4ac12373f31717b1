/**
 * The extension's icons: simple SVGs drawn with the theme's icon colour classes, so they follow
 * light and dark themes.
 */

import { LabIcon } from '@jupyterlab/ui-components';

const cloudSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M19.35 10.04A7.49 7.49 0 0 0 12 4C9.11 4 6.6 5.64 5.35 8.04A5.994 5.994 0 0 0 0 14c0 3.31 2.69 6 6 6h13c2.76 0 5-2.24 5-5 0-2.64-2.05-4.78-4.65-4.96zM19 18H6c-2.21 0-4-1.79-4-4 0-2.05 1.53-3.76 3.56-3.97l1.07-.11.5-.95A5.469 5.469 0 0 1 12 6c2.62 0 4.88 1.86 5.39 4.43l.3 1.5 1.53.11A2.98 2.98 0 0 1 22 15c0 1.65-1.35 3-3 3z"/>
  <path class="jp-icon3" fill="#616161" d="M8 12h2v4H8zm3-2h2v6h-2zm3 3h2v3h-2z"/>
</svg>`;

const flowSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="5" cy="6" r="3"/>
    <circle cx="19" cy="6" r="3"/>
    <circle cx="12" cy="18" r="3"/>
    <path d="M7.6 7.5l3.2 8 1.8-.8-3.2-8zM16.4 7.5l-3.2 8-1.8-.8 3.2-8zM8 5h8v2H8z"/>
  </g>
</svg>`;

const notebookSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M6 2h10l4 4v16H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm0 2v16h12V7h-3V4z"/>
    <path d="M8.5 14.5a2.5 2.5 0 0 1 .3-4.98A3.5 3.5 0 0 1 15.4 11a2 2 0 0 1-.4 3.5z"/>
  </g>
</svg>`;

/** The de.NBI Cloud panel (a cloud with bars). */
export const cloudIcon = new LabIcon({ name: 'denbi-jupyter:cloud', svgstr: cloudSvg });

/** The Prefect UI (a small flow graph). */
export const flowIcon = new LabIcon({ name: 'denbi-jupyter:flow', svgstr: flowSvg });

/** The main notebook (a page with a cloud). */
export const notebookIcon = new LabIcon({ name: 'denbi-jupyter:notebook', svgstr: notebookSvg });
