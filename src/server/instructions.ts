import { TINY_MODEL_ID, type SavConfig } from "../config.js";
import { formatMegabytes } from "./wording.js";

/**
 * Fields several tools share, described here once rather than in every tool's schema (tools/list has a
 * 13 KB budget); test/server/scenario.test.ts checks each input field is described by itself, by its
 * tool's description or here.
 */
export const SHARED_FIELDS = {
  task: "is a task name (list_tasks)",
  text: "fills the prompt's {text}",
  picture: "(true) adds the head map as a PNG",
} as const;

/** The server's `instructions`: the workflow in a few lines, with this server's own limits. */
export function serverInstructions(config: SavConfig, defaultModel: string): string {
  const { limits } = config;
  return [
    "sav-mcp builds few-shot image classifiers from a handful of labelled example images, using Sparse Attention Vectors",
    "(the most discriminative attention heads of a local vision-language model vote on the label).",
    "",
    "Workflow:",
    "1. list_tasks: reuse an existing task if one fits.",
    "2. create_sav_task {name, prompt, labels?}: the prompt is the question asked with every image, e.g. 'Is this image safe to show to children? Answer yes or no.';",
    "   put {text} in it when each image comes with its own text (an instruction, a claim).",
    "3. add_examples {task, examples: [{image, label, text?}]}: at least two labels, ideally 5-20 images per label.",
    "4. evaluate_task {task}: cross-validated accuracy, confusion matrix and advice.",
    `5. classify_image {task, image | images (up to ${limits.maxBatchImages})}: label, share of votes, votes per label.`,
    "Tasks persist across restarts; export_task / import_task move them between machines with the same model.",
    `Shared fields: ${Object.entries(SHARED_FIELDS).map(([field, meaning]) => `\`${field}\` ${meaning}`).join("; ")}. Numbers may be sent as strings of digits.`,
    "Output schemas list each result's top-level fields and their types; nested fields are named in the results themselves.",
    "",
    `Images: {"path": ...} (inside ${config.allowedDirs.join(", ")} or the client's roots), {"url": "https://..."}` +
      `${config.allowPrivateUrls ? "" : " (public hosts only)"}, or {"data": base64 or data URI}.`,
    `Limits: ${formatMegabytes(limits.maxImageBytes)} and ${Math.round(limits.maxImagePixels / 1e6)} megapixels per image; JPEG, PNG, WebP, GIF (first frame), AVIF, TIFF;`,
    `${limits.maxExamplesPerCall} examples per add_examples call; ${limits.maxImagesPerPrompt} images per example.`,
    `Default model: ${defaultModel} (list_models shows what is installed). '${TINY_MODEL_ID}' has random weights: it works offline, but its labels are not meaningful.`,
  ].join("\n");
}
