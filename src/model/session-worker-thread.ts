/**
 * The worker thread of a WorkerSessionHost: owns the ONNX Runtime sessions, so their synchronous native
 * calls (load, run) block this thread instead of the server's event loop. Messages are handled in order.
 */
import { parentPort } from "node:worker_threads";
import { openInferenceSession } from "./session-host.js";
import type { LoadedSession } from "./vision-session.js";
import { fromWire, toWire, type FromSessionThread, type ToSessionThread } from "./session-wire.js";

const port = parentPort!;
const sessions = new Map<number, LoadedSession>();
let nextSession = 1;

function session(id: number): LoadedSession {
  const found = sessions.get(id);
  if (!found) throw new Error(`The ONNX Runtime session ${id} was released.`);
  return found;
}

async function handle(message: ToSessionThread): Promise<void> {
  if (message.kind === "open") {
    const opened = await openInferenceSession(message.source, message.options);
    const id = nextSession++;
    sessions.set(id, opened);
    const reply: FromSessionThread = {
      id: message.id,
      kind: "opened",
      session: id,
      inputNames: [...opened.inputNames],
      outputNames: [...opened.outputNames],
      inputMetadata: [...opened.inputMetadata],
    };
    port.postMessage(reply);
  } else if (message.kind === "run") {
    const target = session(message.session);
    const feeds = fromWire(message.feeds);
    const outputs = message.fetches ? await target.run(feeds, message.fetches) : await target.run(feeds);
    const { wire, transfer } = toWire(outputs, true);
    const reply: FromSessionThread = { id: message.id, kind: "ran", outputs: wire };
    port.postMessage(reply, transfer);
  } else if (message.kind === "exit") {
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.allSettled(open.map((s) => s.release()));
    // Only here, between native calls, may the thread end (a terminate() inside one aborts the process).
    process.exit(0);
  } else {
    const target = sessions.get(message.session);
    sessions.delete(message.session);
    await target?.release();
    port.postMessage({ id: message.id, kind: "released" } satisfies FromSessionThread);
  }
}

port.on("message", (message: ToSessionThread) => {
  handle(message).catch((error: unknown) => {
    const failed: FromSessionThread = {
      id: message.id,
      kind: "failed",
      name: error instanceof Error ? error.name : "Error",
      message: error instanceof Error ? error.message : String(error),
    };
    port.postMessage(failed);
  });
});
