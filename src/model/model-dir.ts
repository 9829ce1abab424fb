import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { ModelFileError } from "./errors.js";
import { familyForModelType } from "./families/index.js";
import type { FamilyModel, Json, ModelComponents, ModelDirJson, ModelFamily } from "./families/types.js";
import { DTYPES, isDtype, onnxFileName, type Dtype } from "./onnx-files.js";

export { ModelFileError } from "./errors.js";

export type GraphRole = keyof ModelComponents;
export const GRAPH_ROLES: readonly GraphRole[] = ["vision", "embed", "decoder"];

export interface ModelFiles {
  dir: string;
  family: ModelFamily;
  model: FamilyModel;
  /** Path of each graph, by role. */
  onnx: Record<GraphRole, string>;
  /** The dtype variant used per component name, e.g. { vision_encoder: "int8", … }. */
  dtypes: Record<string, string>;
  /** Every file whose bytes determine the features, for the fingerprint. */
  fingerprintFiles: string[];
}

function readJson(dir: string, name: string, purpose: string): Json {
  const file = path.join(dir, name);
  if (!existsSync(file)) throw new ModelFileError(`Model directory ${dir} has no ${name} (${purpose}).`);
  try {
    const value: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    return value as Json;
  } catch (error) {
    throw new ModelFileError(`${file} is not valid JSON (${(error as Error).message}); expected ${purpose}.`);
  }
}

/** The JSON files every family reads: config, processor settings, tokenizer and chat template. */
export function readModelDirJson(dir: string): ModelDirJson {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelFileError(`Model directory ${dir} does not exist.`);
  const config = readJson(dir, "config.json", "the model configuration");
  const preprocessor = readJson(dir, "preprocessor_config.json", "the image processor settings");
  const processor = existsSync(path.join(dir, "processor_config.json")) ? readJson(dir, "processor_config.json", "the processor settings") : {};
  const tokenizerJson = readJson(dir, "tokenizer.json", "the Hugging Face tokenizer");
  const tokenizerConfig = readJson(dir, "tokenizer_config.json", "the tokenizer settings");
  let chatTemplate: unknown;
  let chatTemplateFile = path.join(dir, "chat_template.json");
  if (existsSync(chatTemplateFile)) chatTemplate = readJson(dir, "chat_template.json", "the chat template").chat_template;
  if (chatTemplate === undefined) {
    chatTemplate = tokenizerConfig.chat_template;
    chatTemplateFile = path.join(dir, "tokenizer_config.json");
  }
  if (typeof chatTemplate !== "string" || chatTemplate === "") {
    throw new ModelFileError(`Model directory ${dir} has no chat template (chat_template.json or tokenizer_config.json).`);
  }
  return { dir, config, preprocessor, processor, tokenizerJson, tokenizerConfig, chatTemplate, chatTemplateFile };
}

/** Reads and checks a model directory in a published ONNX layout; its config.json `model_type` picks the family. */
export function loadModelFiles(dir: string, dtypes: Record<string, string> = {}): ModelFiles {
  const json = readModelDirJson(dir);
  const family = familyForModelType(String(json.config.model_type ?? ""));
  const model = family.load(json);
  if (!existsSync(path.join(dir, "onnx"))) {
    throw new ModelFileError(`Model directory ${dir} has no onnx/ folder; the ${family.id} graphs (${Object.values(family.components).join(", ")}) belong there.`);
  }
  const chosen: Record<string, string> = {};
  const onnx = {} as Record<GraphRole, string>;
  for (const role of GRAPH_ROLES) {
    const component = family.components[role];
    const dtype = dtypes[component] ?? "fp32";
    if (!isDtype(dtype)) throw new ModelFileError(`Unknown dtype "${dtype}". Known dtypes: ${DTYPES.join(", ")}.`);
    const file = path.join(dir, onnxFileName(component, dtype as Dtype));
    if (!existsSync(file)) {
      throw new ModelFileError(`Model directory ${dir} has no onnx/${path.basename(file)} (the ${component} graph, dtype ${dtype}).`);
    }
    chosen[component] = dtype;
    onnx[role] = file;
  }
  const jsonFiles = ["config.json", "preprocessor_config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.json", ...(family.featureFiles ?? [])]
    .map((name) => path.join(dir, name))
    .filter((file) => existsSync(file));
  // External weights (`<graph>.onnx_data`, as the large exports ship) determine the features as much as the graph does.
  const graphs = GRAPH_ROLES.flatMap((role) => [onnx[role], `${onnx[role]}_data`].filter((file) => existsSync(file)));
  return { dir, family, model, onnx, dtypes: chosen, fingerprintFiles: [...jsonFiles, ...graphs] };
}
