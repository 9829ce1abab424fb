// Child process for the crash-safety test: appends batches of examples to a task forever and
// reports each committed batch on stdout, until it is killed.
import { SavStore } from "../../src/store/index.js";
import { clusteredExamples, newTask } from "./store-fixtures.js";

const [dataDir, taskName, writer, batchSizeText] = process.argv.slice(2);
if (!dataDir || !taskName || !writer) throw new Error("usage: store-writer DATA_DIR TASK WRITER [BATCH_SIZE]");
const batchSize = Number(batchSizeText ?? "5");

const store = new SavStore({ dataDir, busyTimeoutMs: 30_000 });
let task = store.getTask(taskName);
if (!task) {
  try {
    task = store.createTask(newTask(taskName));
  } catch {
    task = store.getTask(taskName); // the other writer created it first
  }
}
if (!task) throw new Error("task missing");

for (let batch = 0; ; batch++) {
  const examples = clusteredExamples(["a", "b"], Math.ceil(batchSize / 2), { seed: batch, text: `${writer}:${batch}` }).slice(0, batchSize);
  store.addExamples(task.id, examples);
  process.stdout.write(`committed ${batch}\n`);
}
