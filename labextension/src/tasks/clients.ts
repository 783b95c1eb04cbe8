import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';

import { requestCoda } from '../api';
import { ICredentialStatus } from '../credentials/model';
import type { IAgentInfo } from '../tokens';

export interface IClientConfig {
  client: string;
  where: string;
  snippet: string;
}

/** Stands for the endpoint URL in the snippets `GET coda/api/agents` serves. */
const URL_PLACEHOLDER = '__MCP_URL__';

/** This server's MCP endpoint as a browser sees it (the base URL is already absolute). */
export function mcpUrl(): string {
  const { baseUrl } = ServerConnection.makeSettings();
  return URLExt.join(baseUrl, 'api', 'coda', 'mcp');
}

/**
 * Ready-to-paste MCP client configs: one per agent whose format the server
 * knows (the agent catalogue serves them), plus `coda-bridge` for any stdio
 * client. The Jupyter token is never put in the page: every snippet reads it
 * from the client's environment (JUPYTER_TOKEN), and the bridge variant uses
 * Databricks OAuth instead.
 */
export async function clientConfigs(
  url: string,
  trans: TranslationBundle
): Promise<{ how: string; configs: IClientConfig[] }> {
  const credentials = await requestCoda<ICredentialStatus>('api/credentials');
  if (credentials.mode === 'apps') {
    // Through the Databricks Apps proxy only a Databricks OAuth token gets in
    // (the Jupyter token never crosses it), and agents in this app's own
    // terminals are connected already: the bridge is what works from outside.
    return {
      how: trans.__(
        'From your computer, the Apps proxy accepts a Databricks OAuth token: coda-bridge gets one from your CLI profile.'
      ),
      configs: [
        bridgeConfig(
          url,
          trans,
          trans.__(
            'From your computer, through the Apps proxy, with your CLI profile'
          )
        )
      ]
    };
  }
  const agents = await requestCoda<IAgentInfo[]>('api/agents');
  const served: IClientConfig[] = [];
  for (const agent of agents) {
    if (agent.mcp_client) {
      const { where, snippet } = agent.mcp_client;
      served.push({
        client: agent.label,
        where,
        snippet: snippet.split(URL_PLACEHOLDER).join(url)
      });
    }
  }
  return {
    how: trans.__(
      "Elsewhere, put this server's token in JUPYTER_TOKEN on the client side; it is never shown here."
    ),
    configs: [
      ...served,
      bridgeConfig(
        url,
        trans,
        trans.__(
          'MCP client config (Databricks OAuth through your CLI profile)'
        )
      )
    ]
  };
}

function bridgeConfig(
  url: string,
  trans: TranslationBundle,
  where: string
): IClientConfig {
  return {
    client: trans.__('Any stdio client (coda-bridge)'),
    where,
    snippet: JSON.stringify(
      {
        mcpServers: {
          coda: {
            type: 'stdio',
            command: 'coda-bridge',
            env: { CODA_MCP_URL: url, DATABRICKS_CONFIG_PROFILE: 'DEFAULT' }
          }
        }
      },
      null,
      2
    )
  };
}
