import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FairQueue } from "../../src/model/fair-queue.js";
import { ModelRunner } from "../../src/model/runner.js";
import { tinyModelDir } from "./paths.js";

function picture(seed: number): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 48, channels: 3, background: { r: seed * 40, g: 255 - seed * 30, b: 90 } } })
    .png()
    .toBuffer();
}

/** Lets pending promise callbacks run; a decoder run (native, asynchronous) cannot finish within one turn of these. */
const microtasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe("the runner's inference queue across lanes", () => {
  const starts: string[] = [];
  let runner: ModelRunner;
  let imageA: Buffer;
  let imageB: Buffer;

  beforeAll(async () => {
    runner = await ModelRunner.create({ id: "tiny-smolvlm", dir: tinyModelDir }, { threads: 1, queue: new FairQueue({ onStart: (lane) => starts.push(lane) }) });
    [imageA, imageB] = await Promise.all([picture(1), picture(2)]);
    // Vision features cached, so each request below is one decoder job, queued as soon as it is made
    // (no image decoding in between whose duration would decide the order).
    await runner.extract({ images: [imageA], text: "warm", lane: "warm" });
    await runner.extract({ images: [imageB], text: "warm", lane: "warm" });
  });
  afterAll(() => runner?.close());

  it("starts lane B's one job right after the running one, while lane A still has its backlog of 40", async () => {
    starts.length = 0;
    const finished: string[] = [];
    const backlog = Array.from({ length: 40 }, (_, i) =>
      runner.extract({ images: [imageA], text: `question ${i}`, lane: "A" }).then(() => finished.push(`A${i}`)),
    );
    await microtasks();
    const startsBefore = starts.length;
    expect(startsBefore).toBeGreaterThanOrEqual(1);
    const single = runner.extract({ images: [imageB], text: "question B", lane: "B" }).then(() => finished.push("B"));
    await Promise.all([...backlog, single]);

    const bStart = starts.indexOf("B");
    // B's job was queued while the job started last before it was made still ran: it is the next to start.
    expect(bStart).toBeLessThanOrEqual(startsBefore);
    expect(starts.filter((lane) => lane === "A")).toHaveLength(40);
    expect(starts.slice(bStart + 1).filter((lane) => lane === "A").length).toBeGreaterThanOrEqual(35);
    expect(finished.indexOf("B")).toBeLessThanOrEqual(startsBefore);
  });

  it("serves one lane first come, first served", async () => {
    starts.length = 0;
    const finished: number[] = [];
    await Promise.all(Array.from({ length: 6 }, (_, i) => runner.extract({ images: [imageA], text: `fifo ${i}`, lane: "A" }).then(() => finished.push(i))));
    expect(finished).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
