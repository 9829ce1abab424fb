import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BUILT_CLI = path.join(REPO_ROOT, "dist", "cli.js");
export const SOURCE_CLI = path.join(REPO_ROOT, "src", "cli.ts");

export interface StdioServer {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  close(): Promise<void>;
}

/**
 * Starts `sav-mcp serve` as a child process and connects a client over stdio: the built CLI
 * (dist/cli.js) or, with `fromSource`, src/cli.ts through tsx.
 */
export async function startStdioServer(options: {
  env: Record<string, string>;
  fromSource?: boolean;
  args?: string[];
}): Promise<StdioServer> {
  const cliArgs = ["serve", ...(options.args ?? [])];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: options.fromSource ? ["--import", "tsx", SOURCE_CLI, ...cliArgs] : [BUILT_CLI, ...cliArgs],
    cwd: REPO_ROOT,
    env: { ...options.env, PATH: process.env.PATH ?? "" },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "stdio-test", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    transport,
    stderr: () => stderr,
    close: async () => {
      await client.close().catch(() => undefined);
    },
  };
}

export function builtCliExists(): boolean {
  return fs.existsSync(BUILT_CLI);
}
