import { spawn, type ChildProcess } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { REPO_ROOT, SOURCE_CLI } from "./stdio-server.js";

export interface HttpProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
  connect(token?: string): Promise<Client>;
  kill(signal: NodeJS.Signals): void;
}

/** `sav-mcp serve --http 127.0.0.1:0 ...` from source as a child process; resolves once it prints its URL. */
export async function startHttpProcess(options: { env: Record<string, string>; args?: string[] }): Promise<HttpProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", SOURCE_CLI, "serve", "--http", "127.0.0.1:0", ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...options.env, PATH: process.env.PATH ?? "" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /serving MCP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  });
  const clients: Client[] = [];
  return {
    child,
    url,
    stderr: () => stderr,
    exited,
    async connect(token) {
      const client = new Client({ name: "http-process-test", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), { requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : undefined }),
      );
      clients.push(client);
      return client;
    },
    kill: (signal) => child.kill(signal),
  };
}
