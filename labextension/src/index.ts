/** The lab extension: one plugin per file, listed here. */
import { attentionPlugin } from './attention/plugin';
import { credentialsPlugin } from './credentials/plugin';
import { agentsPlugin } from './launcher/plugin';
import { notebookRelayPlugin } from './notebook/plugin';
import { sendToAgentPlugin } from './send/plugin';
import { setupPlugin } from './setup/plugin';
import { tasksPlugin } from './tasks/plugin';
import { terminalFeaturesPlugin } from './terminal/plugin';

export default [
  agentsPlugin,
  setupPlugin,
  credentialsPlugin,
  tasksPlugin,
  terminalFeaturesPlugin,
  notebookRelayPlugin,
  attentionPlugin,
  sendToAgentPlugin
];
