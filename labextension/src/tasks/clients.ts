import { PageConfig, URLExt } from '@jupyterlab/coreutils';

export interface IClientConfig {
  client: string;
  where: string;
  snippet: string;
}

/** This server's MCP endpoint as a browser sees it. */
export function mcpUrl(): string {
  return URLExt.join(window.location.origin, PageConfig.getBaseUrl(), 'coda', 'mcp');
}

/**
 * Ready-to-paste MCP client configs. The Jupyter token is never put in the
 * page: every snippet reads it from the client's environment (JUPYTER_TOKEN),
 * and the bridge variant uses Databricks OAuth instead.
 */
export function clientConfigs(url: string): IClientConfig[] {
  const bearer = 'Bearer ${JUPYTER_TOKEN}';
  return [
    {
      client: 'Claude Code',
      where: 'shell',
      snippet: `claude mcp add --transport http coda ${url} --header "Authorization: Bearer $JUPYTER_TOKEN"`
    },
    {
      client: 'Codex',
      where: '~/.codex/config.toml',
      snippet: `[mcp_servers.coda]\nurl = "${url}"\nbearer_token_env_var = "JUPYTER_TOKEN"`
    },
    {
      client: 'Gemini CLI',
      where: '~/.gemini/settings.json',
      snippet: JSON.stringify(
        { mcpServers: { coda: { httpUrl: url, headers: { Authorization: bearer } } } },
        null,
        2
      )
    },
    {
      client: 'OpenCode',
      where: '~/.config/opencode/opencode.json',
      snippet: JSON.stringify(
        {
          mcp: {
            coda: {
              type: 'remote',
              url,
              headers: { Authorization: 'Bearer {env:JUPYTER_TOKEN}' },
              enabled: true
            }
          }
        },
        null,
        2
      )
    },
    {
      client: 'Hermes Agent',
      where: '~/.hermes/config.yaml',
      snippet: `mcp_servers:\n  coda:\n    url: ${url}\n    headers:\n      Authorization: "${bearer}"`
    },
    {
      client: 'Any stdio client (coda-bridge)',
      where: 'MCP client config (Databricks OAuth through your CLI profile)',
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
    }
  ];
}
