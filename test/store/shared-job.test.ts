import { describe, expect, it } from "vitest";
import { SharedJobs } from "../../src/shared-job.js";

/** A job that runs until the test settles it, recording the signal it was given. */
function controllableJob() {
  const runs: { signal: AbortSignal; resolve: (value: string) => void; reject: (error: Error) => void }[] = [];
  const work = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      runs.push({ signal, resolve, reject });
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  return { runs, work };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("SharedJobs", () => {
  it("runs one job per key for concurrent callers and a new one after it settled", async () => {
    const jobs = new SharedJobs<string, string>();
    const { runs, work } = controllableJob();
    const first = jobs.run("a", work);
    const second = jobs.run("a", work, new AbortController().signal);
    const other = jobs.run("b", work);
    await turn();
    expect(runs).toHaveLength(2);
    expect(jobs.size).toBe(2);
    runs[0]!.resolve("A");
    runs[1]!.resolve("B");
    expect(await Promise.all([first, second, other])).toEqual(["A", "A", "B"]);
    expect(jobs.size).toBe(0);
    const again = jobs.run("a", work);
    await turn();
    expect(runs).toHaveLength(3);
    runs[2]!.resolve("A2");
    expect(await again).toBe("A2");
  });

  it("gives every caller the job's error", async () => {
    const jobs = new SharedJobs<string, string>();
    const { runs, work } = controllableJob();
    const callers = [jobs.run("a", work), jobs.run("a", work, new AbortController().signal)];
    await turn();
    runs[0]!.reject(new Error("too few examples"));
    for (const caller of callers) await expect(caller).rejects.toThrow("too few examples");
  });

  it("keeps the job running while one caller is still waiting, and aborts it once every caller cancelled", async () => {
    const jobs = new SharedJobs<string, string>();
    const { runs, work } = controllableJob();
    const [one, two] = [new AbortController(), new AbortController()];
    const first = jobs.run("a", work, one.signal);
    const second = jobs.run("a", work, two.signal);
    await turn();
    one.abort(new Error("first cancelled"));
    await expect(first).rejects.toThrow("first cancelled");
    expect(runs[0]!.signal.aborted).toBe(false);

    two.abort(new Error("second cancelled"));
    await expect(second).rejects.toThrow("second cancelled");
    expect(runs[0]!.signal.aborted).toBe(true);
    // A caller after everyone cancelled starts afresh rather than joining the stopping job.
    const third = jobs.run("a", work);
    await turn();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve("fresh");
    expect(await third).toBe("fresh");
  });

  it("never aborts a job a caller without a signal waits for", async () => {
    const jobs = new SharedJobs<string, string>();
    const { runs, work } = controllableJob();
    const controller = new AbortController();
    const patient = jobs.run("a", work);
    const impatient = jobs.run("a", work, controller.signal);
    await turn();
    controller.abort(new Error("cancelled"));
    await expect(impatient).rejects.toThrow("cancelled");
    expect(runs[0]!.signal.aborted).toBe(false);
    runs[0]!.resolve("done");
    expect(await patient).toBe("done");
  });

  it("refuses an already cancelled caller without starting the job", () => {
    const jobs = new SharedJobs<string, string>();
    const { runs, work } = controllableJob();
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    expect(() => jobs.run("a", work, controller.signal)).toThrow("too late");
    expect(runs).toHaveLength(0);
  });
});
