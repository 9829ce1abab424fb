export { SavStore, DATABASE_FILE, type StoreOptions } from "./store.js";
export {
  StoreError,
  type StoreErrorCode,
  type TaskRecord,
  type TaskSummary,
  type TaskListOptions,
  type TaskStore,
  type RemoveWhich,
  type TaskChanges,
  type NewTask,
  type NewExample,
  type ExampleRecord,
  type ExampleWithVectors,
  type ClassifierState,
} from "./types.js";
export { SqliteTaskStore, asTaskStore } from "./sqlite-task-store.js";
export {
  buildInThread,
  ClassifierCache,
  DEFAULT_CLASSIFIER_CACHE_BYTES,
  type CachedClassifier,
  type ClassifierBuilder,
  type ClassifierCacheOptions,
  type ClassifierCacheStats,
} from "./classifier-cache.js";
export { SCHEMA_VERSION, SchemaTooNewError } from "./schema.js";
export { float32ToLittleEndian, littleEndianToFloat32, sameShape, shapeSize } from "./vectors.js";
export { PostgresTaskStore, isPostgresUrl } from "./postgres-store.js";
export { openTaskStore, StoreUrlError } from "./open-store.js";
