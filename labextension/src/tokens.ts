import { Token } from '@lumino/coreutils';

import { AgentRegistry } from './agents';

/** The client-side agent catalogue, shared by the launcher, panels and terminal features. */
export const ICodaAgents = new Token<AgentRegistry>(
  'coda-jupyter:agents',
  'The coding agents known to the server, refreshed as installs finish.'
);
