import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SavStore } from "../../src/store/index.js";
import { callOk, startHarness, type Harness } from "../support/mcp-harness.js";
import { clusteredExamples, newTask } from "../support/store-fixtures.js";
import { makeTempDir } from "../support/temp-dir.js";

const LABELS = Array.from({ length: 10 }, (_, i) => `label-${i}`);
const SHAPE = { layers: 4, heads: 4, headDim: 64 };

describe("evaluate_task runs its cross-validation off the event loop", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let harness: Harness;

  beforeAll(async () => {
    temp = makeTempDir();
    const dirs = { dataDir: path.join(temp.dir, "data"), modelsDir: path.join(temp.dir, "models"), allowedDirs: [] };
    const store = new SavStore({ dataDir: dirs.dataDir });
    const task = store.createTask(newTask("large", { shape: SHAPE }));
    store.addExamples(task.id, clusteredExamples(LABELS, 200, { shape: SHAPE, seed: 4 }));
    store.close();
    harness = await startHarness(dirs);
  });
  afterAll(async () => {
    await harness?.close();
    temp?.cleanup();
  });

  it("answers list_tasks calls sent one after another while a 2,000-example evaluation runs", async () => {
    const { client } = harness;
    let evaluated = false;
    const evaluation = callOk<{ exampleCount: number; accuracy: number }>(client, "evaluate_task", { task: "large" }).then(
      (result) => {
        evaluated = true;
        return result;
      },
    );
    // A blocked event loop would answer at most the calls that slipped in before the cross-validation started.
    const answeredDuringEvaluation: boolean[] = [];
    for (let call = 0; call < 5; call++) {
      const listed = await callOk<{ tasks: { name: string }[] }>(client, "list_tasks", {});
      expect(listed.tasks.map((t) => t.name)).toEqual(["large"]);
      answeredDuringEvaluation.push(!evaluated);
    }
    const report = await evaluation;
    expect(answeredDuringEvaluation).toEqual([true, true, true, true, true]);
    expect(report.exampleCount).toBe(2000);
    expect(report.accuracy).toBeGreaterThan(0.9);
  });

  it("stops a cancelled evaluation and keeps serving", async () => {
    const { client } = harness;
    const controller = new AbortController();
    const pending = client.callTool({ name: "evaluate_task", arguments: { task: "large" } }, undefined, {
      signal: controller.signal,
    });
    await callOk(client, "list_tasks", {}); // answered while the evaluation runs
    controller.abort(new Error("user cancelled"));
    await expect(pending).rejects.toThrow("user cancelled");
    const report = await callOk<{ exampleCount: number }>(client, "evaluate_task", { task: "large", folds: 5 });
    expect(report.exampleCount).toBe(2000);
  });
});
