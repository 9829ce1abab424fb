/**
 * update_task: change a task's settings in place. A prompt change is refused once the task has examples:
 * every stored vector was read with the old prompt and the images are not kept, so re-extraction would
 * depend on every source still being readable and unchanged — the agent re-adds them to a new task instead.
 */
import { StoreError, type TaskChanges } from "../../store/index.js";
import { quoteList, ToolError } from "../errors.js";
import { pickFields } from "../schemas/tasks.js";
import { updateTaskOutputSchema, type UpdateTaskInput, type UpdateTaskResult } from "../schemas/update-task.js";
import type { ServiceContext } from "./context.js";

export async function updateTask(service: ServiceContext, input: UpdateTaskInput): Promise<UpdateTaskResult> {
  const task = await service.requireTask(input.task);
  const counts = await service.store.labelCounts(task.id);
  const exampleCount = Object.values(counts).reduce((a, b) => a + b, 0);
  const changes: TaskChanges = {};
  const changed: string[] = [];
  let labels = task.labels ? [...task.labels] : null;

  if (input.prompt !== undefined && input.prompt !== task.prompt) {
    if (exampleCount > 0) {
      throw new ToolError(
        `Nothing was changed: the prompt of task '${task.name}' cannot change while it has ${exampleCount} examples, because each stored vector was read with the old prompt ` +
          "and the images themselves are not stored. Create a new task with the new prompt (create_sav_task) and add the examples again: add_examples with `folder` or `manifest`, " +
          "or from the `sources` get_task with includeExamples: true lists.",
      );
    }
    changes.prompt = input.prompt;
    changed.push("prompt");
  }
  if (input.renameLabel) {
    const { from, to } = input.renameLabel;
    const known = labels ?? Object.keys(counts);
    if (!known.includes(from)) {
      throw new ToolError(`Nothing was changed: task '${task.name}' has no label '${from}' to rename. Its labels: ${quoteList(known)}.`);
    }
    if (from !== to) {
      if ((labels && labels.includes(to)) || (counts[to] ?? 0) > 0) {
        throw new ToolError(`Nothing was changed: label '${to}' is already in use in task '${task.name}'. Choose a new name, or remove_examples with label '${from}' first.`);
      }
      changes.renameLabel = { from, to };
      if (labels) labels = labels.map((label) => (label === from ? to : label));
      changed.push(`label '${from}' → '${to}'`);
    }
  }
  if (input.addLabels) {
    if (!labels) {
      throw new ToolError(`Nothing was changed: task '${task.name}' has no closed label set, so it accepts any label already; just use the new labels in add_examples.`);
    }
    const fresh = [...new Set(input.addLabels.map((l) => l.trim()))].filter((label) => !labels!.includes(label));
    if (fresh.length > 0) {
      labels = [...labels, ...fresh];
      changed.push(`labels + ${quoteList(fresh)}`);
    }
  }
  if (labels && task.labels && labels.join("\u0000") !== task.labels.join("\u0000")) changes.labels = labels;
  const description = input.description === undefined ? undefined : input.description.trim() === "" ? null : input.description;
  if (description !== undefined && description !== task.description) {
    changes.description = description;
    changed.push("description");
  }
  if (input.heads !== undefined && input.heads !== task.k) {
    changes.k = input.heads;
    changed.push(`heads ${task.k} → ${input.heads}`);
  }
  if (input.selection !== undefined && input.selection !== task.selection) {
    changes.selection = input.selection;
    changed.push(`selection ${task.selection} → ${input.selection}`);
  }

  const minConfidence = input.minConfidence === 0 ? null : input.minConfidence;
  if (minConfidence !== undefined && minConfidence !== (task.minConfidence ?? null)) {
    changes.minConfidence = minConfidence;
    changed.push(`minConfidence ${task.minConfidence ?? "none"} → ${minConfidence ?? "none"}`);
  }

  let updated = task;
  if (changed.length > 0) {
    try {
      updated = await service.store.updateTask(task.id, changes);
    } catch (error) {
      if (error instanceof StoreError && (error.code === "has-examples" || error.code === "label-exists")) {
        // Another call added examples between the checks and the update.
        throw new ToolError(`Nothing was changed: ${error.message} Call update_task again to see the current state.`);
      }
      throw error;
    }
  }
  const classifierRebuilt = updated.exampleVersion !== task.exampleVersion;
  if (classifierRebuilt) service.classifiers.forget(task.id);
  return { ...pickFields(updateTaskOutputSchema, await service.taskView(updated)), changed, classifierRebuilt };
}
