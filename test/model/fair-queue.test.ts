import { describe, expect, it } from "vitest";
import { FairQueue } from "../../src/model/fair-queue.js";

/** Lets every settled promise's callbacks run (the queue starts the next job in a promise callback). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A queue whose jobs run until the test finishes them, recording the order jobs start in
 * ("A0" is lane A's first job).
 */
function harness() {
  const starts: string[] = [];
  const finishers: (() => void)[] = [];
  const counts = new Map<string, number>();
  const queue = new FairQueue();
  const results: Promise<string>[] = [];
  return {
    queue,
    starts,
    results,
    submit(lane: string): string {
      const n = counts.get(lane) ?? 0;
      counts.set(lane, n + 1);
      const name = `${lane}${n}`;
      results.push(
        queue.run(lane, () => {
          starts.push(name);
          return new Promise<string>((resolve) => finishers.push(() => resolve(name)));
        }),
      );
      return name;
    },
    /** Ends the running job and lets the queue start the next. */
    async finish(): Promise<void> {
      expect(finishers).toHaveLength(1);
      finishers.shift()!();
      await settle();
    },
    running: () => finishers.length,
  };
}

/**
 * The oracle: the same policy written as tickets. A lane draws a ticket when it gets work while neither
 * waiting nor running, or when its job ends and it still has work; the waiting lane with the smallest
 * ticket goes next; within a lane, first in first out.
 */
function oracle(script: Step[]): string[] {
  const queues = new Map<string, string[]>();
  const ticket = new Map<string, number>();
  const counts = new Map<string, number>();
  let next = 0;
  let running: string | undefined;
  const starts: string[] = [];
  const startOne = () => {
    const lanes = [...ticket.entries()].sort((a, b) => a[1] - b[1]);
    if (lanes.length === 0) return;
    const lane = lanes[0]![0];
    ticket.delete(lane);
    starts.push(queues.get(lane)!.shift()!);
    running = lane;
  };
  // The script, then finishing jobs until none is left.
  const steps = script.concat(Array.from({ length: script.length }, () => ({ kind: "finish" as const })));
  for (const step of steps) {
    if (step.kind === "submit") {
      const n = counts.get(step.lane) ?? 0;
      counts.set(step.lane, n + 1);
      const queue = queues.get(step.lane) ?? [];
      queues.set(step.lane, queue);
      queue.push(`${step.lane}${n}`);
      if (!ticket.has(step.lane) && running !== step.lane) ticket.set(step.lane, next++);
      if (running === undefined) startOne();
    } else if (running !== undefined) {
      const lane = running;
      running = undefined;
      if (queues.get(lane)!.length > 0) ticket.set(lane, next++);
      startOne();
    }
  }
  return starts;
}

type Step = { kind: "submit"; lane: string } | { kind: "finish" };

/** A small deterministic generator (mulberry32), so a failing script can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("the fair inference queue", () => {
  it("starts a later lane's single job right after the running one, not after another lane's backlog of 40", async () => {
    const h = harness();
    for (let i = 0; i < 40; i++) h.submit("A");
    await settle();
    expect(h.starts).toEqual(["A0"]);
    await h.finish();
    await h.finish();
    // A2 is running; B's job arrives with 37 of A's still waiting.
    h.submit("B");
    await h.finish();
    expect(h.starts).toEqual(["A0", "A1", "A2", "B0"]);
    while (h.running() > 0) await h.finish();
    expect(h.starts.slice(4)).toEqual(Array.from({ length: 37 }, (_, i) => `A${i + 3}`));
    expect(await Promise.all(h.results)).toHaveLength(41);
  });

  it("alternates between busy lanes and keeps each lane's jobs in submission order", async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.submit("A");
    for (let i = 0; i < 3; i++) h.submit("B");
    h.submit("C");
    while (h.running() > 0) await h.finish();
    expect(h.starts).toEqual(["A0", "B0", "C0", "A1", "B1", "A2", "B2"]);
  });

  it("runs one job at a time and goes on after a job throws or rejects", async () => {
    const queue = new FairQueue();
    let active = 0;
    let most = 0;
    const job = (fail: "throw" | "reject" | undefined) => async () => {
      active++;
      most = Math.max(most, active);
      await settle();
      active--;
      if (fail === "reject") throw new Error("rejected");
      return "ok";
    };
    const outcomes = await Promise.allSettled([
      queue.run("a", () => {
        throw new Error("thrown");
      }),
      queue.run("a", job("reject")),
      queue.run("b", job(undefined)),
      queue.run("b", () => 42),
    ]);
    expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as Error).message))).toEqual(["thrown", "rejected", "ok", 42]);
    expect(most).toBe(1);
    expect(queue.pending).toBe(0);
  });

  it("matches the ticket oracle on random scripts, and no lane waits behind more than one job of each other lane", async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rand = random(seed);
      const lanes = ["A", "B", "C", "D"].slice(0, 2 + Math.floor(rand() * 3));
      const script: Step[] = [];
      for (let i = 0; i < 80; i++) {
        script.push(rand() < 0.55 ? { kind: "submit", lane: lanes[Math.floor(rand() * lanes.length)]! } : { kind: "finish" });
      }
      const h = harness();
      const waitingSince = new Map<string, number>();
      for (const step of script) {
        if (step.kind === "submit") {
          const name = h.submit(step.lane);
          waitingSince.set(name, h.starts.length);
          await settle();
        } else if (h.running() > 0) await h.finish();
      }
      while (h.running() > 0) await h.finish();
      expect(h.starts, `seed ${seed}`).toEqual(oracle(script));
      // Bounded waiting: once a job heads its lane, each other lane starts at most one job before it
      // (beyond the one running when it got there).
      for (const [index, name] of h.starts.entries()) {
        const lane = name[0]!;
        const previous = h.starts.slice(0, index).filter((s) => s[0] === lane).length;
        const headFrom = Math.max(waitingSince.get(name)!, previous === 0 ? 0 : h.starts.indexOf(`${lane}${previous - 1}`) + 1);
        const between = h.starts.slice(headFrom, index);
        for (const other of lanes.filter((l) => l !== lane)) {
          expect(between.filter((s) => s[0] === other).length, `seed ${seed}, ${name}`).toBeLessThanOrEqual(1);
        }
      }
    }
  });
});
