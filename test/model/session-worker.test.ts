/**
 * Sessions in a worker thread against the same graphs on the main thread (tiny model): identical outputs,
 * the same errors, a thread that stops fails its waiting calls and is replaced, and close ends it.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphEditError } from "../../src/model/graph.js";
import { loadModelFiles } from "../../src/model/model-dir.js";
import { MainThreadSessionHost, sessionOptions, type ModelSession, type SessionSource } from "../../src/model/session-host.js";
import { toWire } from "../../src/model/session-wire.js";
import { WorkerSessionHost } from "../../src/model/session-worker.js";
import { HEAD_VECTORS_OUTPUT } from "../../src/model/graph.js";
import { repoRoot, tinyModelDir } from "./paths.js";

const files = loadModelFiles(tinyModelDir);
const text = files.model.text;
const tile = (JSON.parse(readFileSync(path.join(tinyModelDir, "config.json"), "utf8")) as { vision_config: { image_size: number } }).vision_config.image_size;

/** Deterministic inputs for a session, new arrays on every call (a worker run takes the buffers). */
function feedsFor(session: ModelSession): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  session.inputMetadata.forEach((meta) => {
    if (!meta.isTensor) throw new Error(`unexpected input ${meta.name}`);
    // One image of one frame; a five-token prompt with an empty KV cache.
    const symbolic = (i: number): number =>
      i === 0 ? 1 : meta.name.startsWith("pixel_") ? (i === 1 ? 1 : tile) : meta.name.startsWith("past_key_values.") && i === 2 ? 0 : 5;
    const dims = meta.shape.map((d, i) => (typeof d === "number" ? d : symbolic(i)));
    const count = dims.reduce((a, b) => a * b, 1);
    if (meta.type === "float32") feeds[meta.name] = new ort.Tensor("float32", Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37)), dims);
    else if (meta.type === "int64") feeds[meta.name] = new ort.Tensor("int64", BigInt64Array.from({ length: count }, (_, i) => BigInt((i * 7) % 5)), dims);
    else if (meta.type === "bool") feeds[meta.name] = new ort.Tensor("bool", new Uint8Array(count).fill(meta.name === "use_cache_branch" ? 0 : 1), dims);
    else throw new Error(`unexpected input type ${meta.type}`);
  });
  return feeds;
}

function bytesOf(outputs: Record<string, ort.Tensor>): Record<string, { type: string; dims: readonly number[]; bytes: Buffer }> {
  return Object.fromEntries(
    Object.entries(outputs).map(([name, t]) => {
      const data = t.data as Float32Array;
      return [name, { type: t.type, dims: t.dims, bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength) }];
    }),
  );
}

const decoderSource: SessionSource = {
  decoder: { source: files.onnx.decoder, edit: { layers: text.layers, width: text.heads * text.headDim, oProjPattern: files.family.oProjPattern } },
};

describe("sessions in a worker thread", () => {
  let worker: WorkerSessionHost;
  let main: MainThreadSessionHost;
  let temp: string;

  beforeAll(() => {
    worker = new WorkerSessionHost(sessionOptions(1));
    main = new MainThreadSessionHost(sessionOptions(1));
    temp = mkdtempSync(path.join(os.tmpdir(), "sav-session-worker-"));
  });
  afterAll(async () => {
    await Promise.all([worker?.close(), main?.close()]);
    rmSync(temp, { recursive: true, force: true });
  });

  it.each<[string, SessionSource, string[] | undefined]>([
    ["vision encoder", { path: files.onnx.vision }, undefined],
    ["token embeddings", { path: files.onnx.embed }, undefined],
    ["edited decoder, one fetched output", decoderSource, [HEAD_VECTORS_OUTPUT]],
  ])("%s: same names, metadata and outputs, bit for bit, as on the main thread", async (_, source, fetches) => {
    const [remote, local] = await Promise.all([worker.open(source), main.open(source)]);
    expect(remote.inputNames).toEqual(local.inputNames);
    expect(remote.outputNames).toEqual(local.outputNames);
    expect(remote.inputMetadata).toEqual(local.inputMetadata);
    const [a, b] = [await remote.run(feedsFor(remote), fetches), await local.run(feedsFor(local), fetches)];
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    if (fetches) expect(Object.keys(a)).toEqual(fetches);
    expect(bytesOf(a)).toEqual(bytesOf(b));
    expect(a[Object.keys(a)[0]!]).toBeInstanceOf(ort.Tensor);
  });

  it("moves whole input buffers and copies views into larger ones, leaving those intact", () => {
    const whole = new Float32Array([1, 2, 3]);
    const backing = new Float32Array([9, 8, 7, 6]);
    const view = backing.subarray(1, 3);
    const { wire, transfer } = toWire({ a: new ort.Tensor("float32", whole, [3]), b: new ort.Tensor("float32", view, [2]) }, false);
    expect(transfer).toHaveLength(2);
    expect(transfer).toContain(whole.buffer);
    expect(transfer).not.toContain(backing.buffer);
    expect(Array.from(wire.b!.data as Float32Array)).toEqual([8, 7]);
    structuredClone(wire, { transfer });
    expect(whole.length).toBe(0); // moved
    expect(Array.from(backing)).toEqual([9, 8, 7, 6]);
  });

  it("a run's error comes back with ONNX Runtime's message", async () => {
    const [remote, local] = await Promise.all([worker.open({ path: files.onnx.vision }), main.open({ path: files.onnx.vision })]);
    const bad = () => ({ nonsense: new ort.Tensor("float32", new Float32Array(1), [1]) });
    const expected = await local.run(bad()).then(() => "no error", (error: Error) => error.message);
    expect(expected).not.toBe("no error");
    await expect(remote.run(bad())).rejects.toThrow(expected);
    // The thread survives it.
    await expect(remote.run(feedsFor(remote))).resolves.toBeDefined();
  });

  it("a load's error comes back with the same message, and a graph-edit error as a GraphEditError", async () => {
    const truncated = path.join(temp, "truncated.onnx");
    copyFileSync(files.onnx.vision, truncated);
    truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
    const expected = await main.open({ path: truncated }).then(() => "no error", (error: Error) => error.message);
    expect(expected).toContain("truncated.onnx");
    await expect(worker.open({ path: truncated })).rejects.toThrow(expected);

    const notADecoder: SessionSource = { decoder: { ...decoderSource.decoder, source: files.onnx.vision } };
    const local = await main.open(notADecoder).then(() => undefined, (error: unknown) => error);
    expect(local).toBeInstanceOf(GraphEditError);
    const remote = await worker.open(notADecoder).then(() => undefined, (error: unknown) => error);
    expect(remote).toBeInstanceOf(GraphEditError);
    expect((remote as Error).message).toBe((local as Error).message);
  });

  it("a thread that stops fails the calls waiting on it with a clear error; the next call opens the session in a new thread", async () => {
    const host = new WorkerSessionHost(sessionOptions(1));
    try {
      const session = await host.open({ path: files.onnx.vision });
      const before = bytesOf(await session.run(feedsFor(session)));
      const stopping = host.stopThread();
      const waiting = session.run(feedsFor(session));
      await expect(waiting).rejects.toThrow(/ONNX Runtime worker thread stopped \(exit code 0\) during a run of .*vision_encoder\.onnx\. The next call starts a new one/);
      await stopping;
      expect(bytesOf(await session.run(feedsFor(session)))).toEqual(before);
    } finally {
      await host.close();
    }
  });

  it("close ends the thread: waiting and later calls fail, nothing hangs", async () => {
    const host = new WorkerSessionHost(sessionOptions(1));
    const session = await host.open({ path: files.onnx.vision });
    const closing = host.close();
    const waiting = expect(session.run(feedsFor(session))).rejects.toThrow("The model was closed.");
    await closing;
    await waiting;
    await expect(session.run(feedsFor(session))).rejects.toThrow("The model was closed.");
    await expect(host.open({ path: files.onnx.vision })).rejects.toThrow("The model was closed.");
    await session.release();
  });

  it("an idle thread does not keep the process alive, and close lets the caller go on until the thread ended", () => {
    const script = path.join(temp, "close.mts");
    const module = (name: string) => JSON.stringify(pathToFileURL(path.join(repoRoot, "src/model", name)).href);
    writeFileSync(
      script,
      [
        `import { WorkerSessionHost } from ${module("session-worker.ts")};`,
        `import { sessionOptions } from ${module("session-host.ts")};`,
        "const host = new WorkerSessionHost(sessionOptions(1));",
        `await host.open({ path: ${JSON.stringify(files.onnx.embed)} });`,
        "await host.close();",
        'console.log("closed");',
        // An idle host left open must not hold the process either.
        `await new WorkerSessionHost(sessionOptions(1)).open({ path: ${JSON.stringify(files.onnx.embed)} });`,
        'console.log("left open");',
      ].join("\n"),
    );
    const run = spawnSync(path.join(repoRoot, "node_modules/.bin/tsx"), [script], { encoding: "utf8", timeout: 60_000 });
    expect(run.stdout.trim().split("\n")).toEqual(["closed", "left open"]);
    expect(run.status).toBe(0);
  });
});
