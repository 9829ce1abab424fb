export {
  SavStore,
  StoreError,
  DATABASE_FILE,
  type StoreErrorCode,
  type StoreOptions,
  type TaskRecord,
  type TaskSummary,
  type NewTask,
  type NewExample,
  type ExampleRecord,
  type ExampleWithVectors,
  type ClassifierState,
} from "./store.js";
export { ClassifierCache, DEFAULT_CLASSIFIER_CACHE_BYTES, type CachedClassifier, type ClassifierCacheStats } from "./classifier-cache.js";
export { SCHEMA_VERSION, SchemaTooNewError } from "./schema.js";
export { float32ToLittleEndian, littleEndianToFloat32, sameShape, shapeSize } from "./vectors.js";
