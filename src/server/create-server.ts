import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { SavConfig } from "../config.js";
import { callLane, type LaneSettings } from "./call-lane.js";
import { asTaskStore, type ClassifierCache, SavStore, type TaskStore } from "../store/index.js";
import type { ImageSourceContext } from "./image-source.js";
import { serverInstructions } from "./instructions.js";
import { SessionLogLevels } from "./logging.js";
import type { ModelProvider } from "./models.js";
import { type CalibrationFitter, serverClassifierCache } from "./off-thread-work.js";
import { registerResources } from "./resources.js";
import { ClientRoots } from "./roots.js";
import { SavService } from "./sav-service.js";
import { enableToolTasks, ToolTaskStore } from "./tool-tasks.js";
import { registerTools, TASK_CAPABLE_TOOLS } from "./tools/index.js";
import { PACKAGE_VERSION } from "./version.js";

export interface SavServerDeps {
  config: SavConfig;
  /** Supplies extractors (one per model id, shared). The caller owns it and closes it. */
  models: ModelProvider;
  /** An open store; by default the server opens a SQLite one in config.dataDir and closes it in close(). */
  store?: TaskStore | SavStore;
  /** A classifier cache to share between servers on the same store; by default one that builds in a worker thread (small training sets: on the calling thread). */
  classifiers?: ClassifierCache;
  classifierCacheBytes?: number;
  /** How classify_image fits a classifier's temperature; by default as the build (serverCalibrationFitter). */
  fitCalibration?: CalibrationFitter;
  /** Use the client's declared roots as extra allowed image directories (default true). */
  useClientRoots?: boolean;
  /** Overrides for URL loading (tests). */
  imageLoading?: Pick<ImageSourceContext, "fetchImpl" | "lookup">;
  /** How calls are named in the inference queue (HTTP: tenant, and a lane per stateless request). */
  lanes?: LaneSettings;
}

export interface SavServer {
  server: McpServer;
  service: SavService;
  /** Closes the MCP connection and the store if this server opened it. */
  close(): Promise<void>;
}

function maxInputElements(config: SavConfig): number {
  const { maxExamplesPerCall, maxImagesPerPrompt, maxBatchImages } = config.limits;
  const perExample = 4 + maxImagesPerPrompt * 2;
  return Math.max(20_000, maxExamplesPerCall * perExample + maxBatchImages * 2 + 100);
}

/** Builds the MCP server: tools, resources and instructions over a store and a model provider. */
export function createSavServer(deps: SavServerDeps): SavServer {
  const ownsStore = deps.store === undefined;
  const store = asTaskStore(deps.store ?? new SavStore({ dataDir: deps.config.dataDir }));
  const toolTasks = new ToolTaskStore();
  const server = new McpServer(
    { name: "sav-mcp", title: "SAV few-shot image classifier", version: PACKAGE_VERSION },
    {
      capabilities: { logging: {} },
      instructions: serverInstructions(deps.config, deps.models.defaultModel),
      // Caps array elements + object members in one call's arguments before any parsing work: room for the
      // largest legal add_examples call (and a remove_examples id list), not for arbitrarily large payloads.
      maxToolInputElements: maxInputElements(deps.config),
      // Long calls (add_examples, classify_image batches, evaluate_task) may run as MCP tasks.
      taskStore: toolTasks,
    },
  );
  const roots = deps.useClientRoots === false ? undefined : new ClientRoots(server.server);
  const service = new SavService({
    config: deps.config,
    store,
    models: deps.models,
    classifiers: deps.classifiers ?? serverClassifierCache(store, deps.classifierCacheBytes),
    fitCalibration: deps.fitCalibration,
    extraAllowedDirs: roots ? () => roots.dirs() : undefined,
    imageLoading: deps.imageLoading,
    generator: `sav-mcp ${PACKAGE_VERSION}`,
    onTasksChanged: () => {
      if (server.isConnected()) server.sendResourceListChanged();
    },
  });
  registerTools({
    server,
    service,
    config: deps.config,
    logs: new SessionLogLevels(server),
    lane: (extra) => callLane(deps.lanes, extra.sessionId),
  });
  registerResources(server, service);
  enableToolTasks(server, toolTasks, TASK_CAPABLE_TOOLS);

  let closed = false;
  return {
    server,
    service,
    async close() {
      if (closed) return;
      closed = true;
      toolTasks.close();
      await server.close();
      if (ownsStore) await store.close();
    },
  };
}
