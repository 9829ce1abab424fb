import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";

interface HashMemo {
  size: number;
  mtimeMs: number;
  sha256: string;
}

const memo = new Map<string, HashMemo>();

async function streamHash(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * sha256 of a file, remembered (in memory and in a `<file>.sha256` sidecar when the directory is
 * writable) for as long as its size and mtime stay the same, so large ONNX files are hashed once.
 */
export async function sha256File(file: string): Promise<string> {
  const info = await stat(file);
  const known = memo.get(file);
  if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) return known.sha256;
  const sidecar = `${file}.sha256`;
  try {
    const stored = JSON.parse(await readFile(sidecar, "utf8")) as HashMemo;
    if (stored.size === info.size && stored.mtimeMs === info.mtimeMs && /^[0-9a-f]{64}$/.test(stored.sha256)) {
      memo.set(file, stored);
      return stored.sha256;
    }
  } catch {
    // No usable sidecar: hash the file.
  }
  const entry: HashMemo = { size: info.size, mtimeMs: info.mtimeMs, sha256: await streamHash(file) };
  memo.set(file, entry);
  await writeFile(sidecar, JSON.stringify(entry)).catch(() => undefined);
  return entry.sha256;
}

export function sha256Hex(...parts: (string | Uint8Array)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}
