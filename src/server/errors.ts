import { ImageError } from "../model/image.js";
import { SavError } from "../sav/index.js";
import { StoreError } from "../store/index.js";
import { ImageSourceError } from "./image-source.js";

/**
 * A failure the agent can act on. The message says what went wrong and how to recover; it is
 * the whole of what the agent sees, so it names valid values, limits and the tool to call next.
 */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

const AGENT_FACING_NAMES = new Set(["ModelNotInstalledError", "HubError", "ManifestError", "ModelFileError", "ModelInputError", "GraphEditError"]);

/** A cancelled call (the runner and fetch throw errors named AbortError). */
export function isCancellation(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

/** Errors whose own message is already written for the agent. */
export function isAgentFacingError(error: unknown): error is Error {
  return (
    isCancellation(error) ||
    error instanceof ToolError ||
    error instanceof ImageSourceError ||
    error instanceof ImageError ||
    error instanceof SavError ||
    error instanceof StoreError ||
    // Registry and runner errors, matched by name so this module does not load the runner.
    (error instanceof Error && AGENT_FACING_NAMES.has(error.name))
  );
}

/** The text of an isError result for any thrown value. */
export function errorText(error: unknown): string {
  if (isCancellation(error)) return "The call was cancelled; nothing was stored by it.";
  if (isAgentFacingError(error)) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `Unexpected error in sav-mcp: ${message}. Nothing was changed by this call unless its result said so; retry, and report the problem if it persists.`;
}

/** "a, b and c" style list of quoted names, cut after `max`. */
export function quoteList(values: readonly string[], max = 20): string {
  if (values.length === 0) return "(none)";
  const shown = values.slice(0, max).map((v) => `'${v}'`);
  const rest = values.length > max ? `, … (${values.length - max} more)` : "";
  return shown.join(", ") + rest;
}
