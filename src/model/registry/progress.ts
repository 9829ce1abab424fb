import cliProgress from "cli-progress";
import { formatBytes } from "./errors.js";
import type { PullProgress } from "./index.js";

export interface ProgressReporter {
  onProgress(p: PullProgress): void;
  stop(): void;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * Download progress on stderr: a bar (bytes, rate, ETA) on a terminal; otherwise a plain line every
 * `plainIntervalMs` and one per finished file, so logs stay readable.
 */
export function createProgressReporter(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  plainIntervalMs = 5000,
): ProgressReporter {
  const finished = new Set<string>();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} {bar} {percentage}% | {done} / {size} | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 40,
        fps: 5,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      onProgress(p) {
        const payload = { done: formatBytes(p.overallReceived), size: formatBytes(p.overallTotal), rate: formatBytes(p.bytesPerSecond) };
        if (!started) {
          bar.start(Math.max(p.overallTotal, 1), p.overallReceived, payload);
          started = true;
        }
        bar.setTotal(Math.max(p.overallTotal, 1));
        bar.update(p.overallReceived, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastLine = 0;
  return {
    onProgress(p) {
      if (p.totalBytes > 0 && p.receivedBytes === p.totalBytes && !finished.has(p.file)) {
        finished.add(p.file);
        stream.write(`${label}: got ${p.file} (${formatBytes(p.totalBytes)})\n`);
      }
      const now = Date.now();
      if (now - lastLine < plainIntervalMs) return;
      lastLine = now;
      const percent = p.overallTotal > 0 ? Math.floor((100 * p.overallReceived) / p.overallTotal) : 0;
      const eta = p.bytesPerSecond > 0 ? (p.overallTotal - p.overallReceived) / p.bytesPerSecond : Number.NaN;
      stream.write(
        `${label}: ${formatBytes(p.overallReceived)} / ${formatBytes(p.overallTotal)} (${percent}%), ` +
          `${formatBytes(p.bytesPerSecond)}/s, ETA ${formatSeconds(eta)}\n`,
      );
    },
    stop() {},
  };
}
