/**
 * The rules a task and its examples obey, in one place: the tool schemas (create_sav_task, add_examples)
 * are built from them and import_task applies them to a file, so nothing enters the store by one door that
 * another would refuse.
 */
import { ToolError, quoteList } from "./errors.js";
import { TEXT_PLACEHOLDER } from "./prompt-text.js";

export const TASK_LIMITS = {
  promptChars: 4000,
  descriptionChars: 2000,
  labelChars: 100,
  minLabels: 2,
  maxLabels: 100,
  maxHeads: 4096,
  textChars: 20_000,
  /** `{text}` occurrences in one prompt: each one repeats the example's text in the model's input. */
  maxTextPlaceholders: 8,
} as const;

/** Task names are used in resource URIs and file names, hence the conservative alphabet. */
export const TASK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const TASK_NAME_RULE = "A task name is 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. 'kid-safe').";

/** The image placeholder of the chat templates: in a prompt it would be expanded into image tokens. */
const IMAGE_PLACEHOLDER = "<image>";

/**
 * Characters that make two labels look the same while they differ: controls, format characters (zero-width
 * spaces and joiners, bidi marks), variation selectors, and spaces other than U+0020.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u034F\u115F\u1160\u3164\uFFA0\u180B-\u180F\uFE00-\uFE0F\u{E0100}-\u{E01EF}]|(?! )\p{Zs}/u;

/** Labels are compared and stored trimmed and in Unicode NFC. */
export function normalizeLabel(label: string): string {
  return label.trim().normalize("NFC");
}

/** Why a (normalized) label is refused, or undefined. */
export function labelProblem(label: string): string | undefined {
  if (label === "") return "A label cannot be empty.";
  if (label.length > TASK_LIMITS.labelChars) return `A label is at most ${TASK_LIMITS.labelChars} characters (got ${label.length}).`;
  const invisible = INVISIBLE.exec(label);
  if (invisible) {
    const code = invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `The label ${JSON.stringify(label)} contains the invisible or control character U+${code}; labels use visible characters and plain spaces only.`;
  }
  return undefined;
}

export function checkLabel(label: string): string {
  const normalized = normalizeLabel(label);
  const problem = labelProblem(normalized);
  if (problem) throw new ToolError(problem);
  return normalized;
}

/** A closed label set: each label valid, 2-100 of them, none repeated after normalization. */
export function checkLabelSet(labels: readonly string[]): string[] {
  const normalized = labels.map(checkLabel);
  const duplicates = normalized.filter((label, index) => normalized.indexOf(label) !== index);
  if (duplicates.length > 0) {
    throw new ToolError(`The labels list repeats ${quoteList([...new Set(duplicates)])} (labels are compared trimmed and Unicode-normalized). Give each label once.`);
  }
  if (normalized.length < TASK_LIMITS.minLabels) {
    throw new ToolError('A closed label set needs at least two labels (e.g. ["safe", "unsafe"]); omit `labels` to accept any label.');
  }
  if (normalized.length > TASK_LIMITS.maxLabels) {
    throw new ToolError(`A closed label set has at most ${TASK_LIMITS.maxLabels} labels (got ${normalized.length}).`);
  }
  return normalized;
}

/** Why a (trimmed) prompt is refused, or undefined. */
export function promptProblem(prompt: string): string | undefined {
  if (prompt === "") return "The prompt cannot be empty: give the question asked with each image.";
  if (prompt.length > TASK_LIMITS.promptChars) return `The prompt is at most ${TASK_LIMITS.promptChars} characters (got ${prompt.length}).`;
  if (prompt.includes(IMAGE_PLACEHOLDER)) {
    return `The prompt contains "${IMAGE_PLACEHOLDER}", which the model reserves for images (they are placed before the prompt automatically). Remove it or reword it, e.g. "the image".`;
  }
  const placeholders = prompt.split(TEXT_PLACEHOLDER).length - 1;
  if (placeholders > TASK_LIMITS.maxTextPlaceholders) {
    return (
      `The prompt uses ${TEXT_PLACEHOLDER} ${placeholders} times; the limit is ${TASK_LIMITS.maxTextPlaceholders} (each one repeats the whole text in the model's input). ` +
      `Use ${TEXT_PLACEHOLDER} once and refer to "the text" elsewhere.`
    );
  }
  return undefined;
}

export function headsProblem(heads: number): string | undefined {
  if (!Number.isInteger(heads) || heads < 1 || heads > TASK_LIMITS.maxHeads) return `heads (k) is a whole number from 1 to ${TASK_LIMITS.maxHeads} (got ${heads}).`;
  return undefined;
}

export function descriptionProblem(description: string): string | undefined {
  if (description.length > TASK_LIMITS.descriptionChars) return `The description is at most ${TASK_LIMITS.descriptionChars} characters (got ${description.length}).`;
  return undefined;
}

export function textProblem(text: string): string | undefined {
  if (text.length > TASK_LIMITS.textChars) return `An example's or query's text is at most ${TASK_LIMITS.textChars} characters (got ${text.length}).`;
  return undefined;
}

export interface TaskDefinition {
  prompt: string;
  description: string | null;
  labels: string[] | null;
  heads: number;
}

export function checkTaskName(name: string, where: string): string {
  if (!TASK_NAME_PATTERN.test(name)) throw new ToolError(`${where}: ${TASK_NAME_RULE} Pass \`name\` to use another one.`);
  return name;
}

/** Applies every creation rule but the name's to a task definition (from an imported file); returns it normalized. */
export function checkTaskDefinition(task: TaskDefinition, where: string): TaskDefinition {
  const fail = (problem: string) => new ToolError(`${where}: ${problem}`);
  const prompt = task.prompt.trim();
  const problem = promptProblem(prompt) ?? headsProblem(task.heads) ?? (task.description === null ? undefined : descriptionProblem(task.description));
  if (problem) throw fail(problem);
  let labels: string[] | null = null;
  if (task.labels !== null && task.labels.length > 0) {
    try {
      labels = checkLabelSet(task.labels);
    } catch (error) {
      throw fail((error as Error).message);
    }
  }
  return { ...task, prompt, labels };
}

/** Applies add_examples' rules to one example's label and text; returns the normalized label. */
export function checkExample(example: { label: string; text: string | null }, labels: readonly string[] | null, where: string): string {
  let label: string;
  try {
    label = checkLabel(example.label);
  } catch (error) {
    throw new ToolError(`${where}: ${(error as Error).message}`);
  }
  if (labels && !labels.includes(label)) throw new ToolError(`${where}: label '${label}' is not one of the task's labels (${quoteList(labels)}).`);
  const problem = example.text === null ? undefined : textProblem(example.text);
  if (problem) throw new ToolError(`${where}: ${problem}`);
  return label;
}
