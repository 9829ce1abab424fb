import type { SavConfig } from "../../config.js";
import type { ClassifierCache, TaskStore } from "../../store/index.js";
import { createSavServer } from "../create-server.js";
import type { ModelProvider } from "../models.js";
import { serverClassifierCache } from "../off-thread-work.js";
import type { AuthSettings } from "./auth.js";
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, startHttpServer, type RunningHttpServer } from "./http-server.js";
import { jwtOptionsFromEnv } from "./jwt.js";
import type { ListenAddress } from "./listen-address.js";
import type { SessionFactory } from "./mcp-endpoint.js";
import { parseTenantDirs, tenantAllowedDirs } from "./tenant-dirs.js";
import { TenantTaskStore } from "./tenant-store.js";
import { loadTokens } from "./tokens.js";

export interface HttpServeSettings {
  listen: ListenAddress;
  stateless: boolean;
  allowedHosts: string[];
  corsOrigins: string[];
  publicUrl?: string;
  shutdownTimeoutMs: number;
  maxCallsPerTenant?: number;
}

/** Auth from SAV_AUTH_TOKENS / SAV_AUTH_TOKENS_FILE / SAV_JWT_*; the JWT audience defaults to the bound resource URL. */
export function authFromEnv(env: NodeJS.ProcessEnv): AuthSettings {
  return { tokens: loadTokens(env), jwt: jwtOptionsFromEnv(env) };
}

export interface ServeHttpDeps {
  config: SavConfig;
  models: ModelProvider;
  store: TaskStore;
  env: NodeJS.ProcessEnv;
  log: (message: string) => void;
}

/**
 * One HTTP server for many clients: one model provider, one store and one classifier cache shared by
 * every session's MCP server. Client roots are ignored: they name directories on the client's machine.
 */
export async function serveHttp(settings: HttpServeSettings, deps: ServeHttpDeps): Promise<RunningHttpServer> {
  const { config, models, store } = deps;
  const classifiers = serverClassifierCache(store);
  const auth = authFromEnv(deps.env);
  // Loading the default model at start makes /readyz turn ready only once it can serve.
  const defaultModel = models.extractor(models.defaultModel);
  defaultModel.catch(() => undefined);
  return startHttpServer({
    listen: settings.listen,
    stateless: settings.stateless,
    allowedHosts: settings.allowedHosts,
    corsOrigins: settings.corsOrigins,
    publicUrl: settings.publicUrl,
    maxCallsPerTenant: settings.maxCallsPerTenant,
    limits: config.limits,
    auth,
    log: deps.log,
    createServer: tenantServerFactory({ config, models, store, classifiers, tenantDirs: parseTenantDirs(deps.env.SAV_TENANT_DIRS) }),
    readiness: {
      store: async () => {
        await store.exampleVersion(0);
      },
      model: async () => {
        await defaultModel;
      },
    },
  });
}

/**
 * A session's MCP server for a tenant: its own view of the store (only its tasks) and its own allowed
 * directories, over the shared store, model provider and classifier cache.
 */
export function tenantServerFactory(shared: {
  config: SavConfig;
  models: ModelProvider;
  store: TaskStore;
  classifiers: ClassifierCache;
  tenantDirs: Map<string, string[]>;
}): SessionFactory {
  return ({ tenant, lane }) =>
    createSavServer({
      config: { ...shared.config, allowedDirs: tenantAllowedDirs(shared.config.allowedDirs, tenant, shared.tenantDirs) },
      models: shared.models,
      store: new TenantTaskStore(shared.store, tenant),
      classifiers: shared.classifiers,
      useClientRoots: false,
      lanes: { tenant, lane },
    });
}

/** SIGTERM/SIGINT: drain, cancel what is left at the deadline, then close the store and the models. */
export function shutdownOnSignals(
  running: RunningHttpServer,
  close: () => Promise<void>,
  log: (message: string) => void,
  timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS,
): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${signal}): finishing in-flight calls for up to ${timeoutMs} ms`);
    const report = await running.shutdown(timeoutMs);
    log(`stopped: ${report.finished} call(s) finished, ${report.cancelled} cancelled`);
    await close().catch((error: unknown) => log(`error while closing: ${String(error)}`));
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
