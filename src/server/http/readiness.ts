import type { RequestHandler } from "express";

/** One readiness check: resolves when the dependency works, throws (with a message for operators) when not. */
export type ReadinessCheck = () => Promise<void>;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, "ok" | string>;
}

/** A check that gives up after `ms`, so a hung dependency makes /readyz answer "not ready" instead of hanging. */
function withTimeout(check: ReadinessCheck, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
    check().then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export const READINESS_CHECK_TIMEOUT_MS = 5_000;

export async function runReadiness(checks: Record<string, ReadinessCheck>, draining: boolean): Promise<ReadinessReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check, READINESS_CHECK_TIMEOUT_MS);
        return [name, "ok"] as const;
      } catch (error) {
        return [name, (error as Error).message.slice(0, 300)] as const;
      }
    }),
  );
  const results: Record<string, string> = Object.fromEntries(entries);
  if (draining) results.shutdown = "the server is shutting down";
  return { ready: Object.values(results).every((v) => v === "ok"), checks: results };
}

/** `/readyz`: 200 when every check passes, 503 with the failing ones otherwise. */
export function readinessHandler(checks: Record<string, ReadinessCheck>, draining: () => boolean): RequestHandler {
  return (_req, res) => {
    void runReadiness(checks, draining()).then((report) => res.status(report.ready ? 200 : 503).json(report));
  };
}
