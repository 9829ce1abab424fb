/**
 * The runner's sessions: in the worker thread (default) its vectors equal the main thread's bit for bit, and a
 * cancelled extraction starts no further session run — counted through a host that records every run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModelFiles } from "../../src/model/model-dir.js";
import { ExtractionAbortedError, ModelRunner } from "../../src/model/runner.js";
import { sessionOptions, type ModelSession, type SessionHost, type SessionSource } from "../../src/model/session-host.js";
import { WorkerSessionHost } from "../../src/model/session-worker.js";
import { shapeImage } from "../support/images.js";
import { tinyModelDir } from "./paths.js";

type Graph = "vision" | "embed" | "decoder";

/** A worker host that awaits `onRun` as each run starts (before it reaches the thread). */
class RecordingHost implements SessionHost {
  readonly runs: Graph[] = [];
  onRun: (graph: Graph) => void | Promise<void> = () => undefined;
  private readonly inner = new WorkerSessionHost(sessionOptions(1));
  private readonly visionFile = loadModelFiles(tinyModelDir).onnx.vision;

  async open(source: SessionSource): Promise<ModelSession> {
    const session = await this.inner.open(source);
    const graph: Graph = "decoder" in source ? "decoder" : "vision" in source || source.path === this.visionFile ? "vision" : "embed";
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      inputMetadata: session.inputMetadata,
      run: async (feeds, fetches) => {
        this.runs.push(graph);
        await this.onRun(graph);
        return session.run(feeds, fetches);
      },
      release: () => session.release(),
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const text = "Which shapes are these?";

describe("the runner's sessions", () => {
  let host: RecordingHost;
  let runner: ModelRunner;
  let images: Buffer[];

  beforeAll(async () => {
    host = new RecordingHost();
    runner = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 1, sessionHost: host });
    images = await Promise.all([0, 1, 2, 3, 4].map((seed) => shapeImage(seed % 2 ? "red-circle" : "blue-square", 100 + seed)));
  });
  afterAll(() => runner?.close());

  it("worker-thread sessions give the same vectors as main-thread ones, bit for bit", async () => {
    const main = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 1, inference: "main" });
    const worker = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 1 });
    try {
      for (const request of [{ images: [images[0]!], text }, { images: [images[1]!, images[2]!], text, layers: 2 }]) {
        const [a, b] = [await worker.extract(request), await main.extract(request)];
        expect(Buffer.from(a.vectors.buffer, a.vectors.byteOffset, a.vectors.byteLength)).toEqual(Buffer.from(b.vectors.buffer, b.vectors.byteOffset, b.vectors.byteLength));
      }
    } finally {
      await Promise.all([main.close(), worker.close()]);
    }
  });

  it("cancelled during a batch of images, starts no further vision run: only the one in flight finishes", async () => {
    const controller = new AbortController();
    host.runs.length = 0;
    let runsAtAbort = -1;
    host.onRun = async (graph) => {
      if (graph === "vision" && runsAtAbort < 0) {
        runsAtAbort = host.runs.length;
        // Lets the other images finish preprocessing and wait in the queue, as a long run of a real model would
        // (the counts below hold however long this takes; it only makes the queued case the one tested).
        await new Promise((resolve) => setTimeout(resolve, 300));
        controller.abort();
      }
    };
    const batch = images.slice(0, 4);
    await expect(runner.extract({ images: batch, text, signal: controller.signal })).rejects.toThrow(ExtractionAbortedError);
    expect(runsAtAbort).toBe(1);
    expect(host.runs).toEqual(["vision"]);
    host.onRun = () => undefined;
    // The runner serves the next request; the features of the run that finished were kept, the others are computed now.
    await runner.extract({ images: batch, text });
    expect(host.runs.filter((graph) => graph === "vision")).toHaveLength(batch.length);
  });

  it("cancelled during the token embeddings, does not start the decoder", async () => {
    const controller = new AbortController();
    await runner.extract({ images: [images[4]!], text }); // vision features cached: only embeddings and decoder run next
    host.runs.length = 0;
    host.onRun = (graph) => {
      if (graph === "embed") controller.abort();
    };
    await expect(runner.extract({ images: [images[4]!], text: `${text} (again)`, signal: controller.signal })).rejects.toThrow(ExtractionAbortedError);
    expect(host.runs).toEqual(["embed"]);
    host.onRun = () => undefined;
  });
});
