/** sav-mcp as a library: the MCP server factory, its service layer, the store and the configuration. */
export { loadConfig, DEFAULT_MODEL_ID, TINY_MODEL_ID, DEFAULT_LIMITS, type SavConfig, type SavLimits } from "./config.js";
export { createSavServer, type SavServer, type SavServerDeps } from "./server/create-server.js";
export { createModelProvider, type RegistryModelProviderOptions } from "./server/model-provider.js";
export { ExtractorPool, type ModelProvider, type ExtractorRequestOptions } from "./server/models.js";
export {
  SavService,
  type SavServiceDeps,
  type CallContext,
  type CreateTaskInput,
  type AddExamplesInput,
  type AddExamplesResult,
  type ExampleInput,
  type ClassifyInput,
  type ClassifyResult,
  type EvaluateInput,
  type EvaluateResult,
  type TaskDetail,
  type RemoveExamplesInput,
  type RemoveExamplesResult,
  type ExportResult,
  type ImportResult,
} from "./server/sav-service.js";
export type { TaskView, ModelListingView } from "./server/schemas.js";
export { ToolError } from "./server/errors.js";
export { TOOL_NAMES } from "./server/tools/index.js";
export { runDemo, type DemoOptions, type DemoResult } from "./server/demo.js";
export { TASK_FILE_FORMAT, TASK_FILE_VERSION, taskFileSchema, type TaskFile } from "./server/task-file.js";
export { SavStore, ClassifierCache, StoreError, type TaskRecord, type ExampleRecord } from "./store/index.js";
export type { HeadVectorExtractor, ModelInfo, HeadShape, ExtractRequest, ExtractResult } from "./model/types.js";
