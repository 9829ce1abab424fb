/**
 * MCP over stdio with a message size limit that fits the documented image limit, and that answers an
 * oversized request with an error instead of closing the connection. The SDK's StdioServerTransport drops
 * the whole connection on any message over 10 MiB (an image of ~7.5 MB sent as base64), silently.
 */
import type { Readable, Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { JSONRPCMessageSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** JSON-RPC "invalid request": the message was never parsed. */
const INVALID_REQUEST = -32600;
const PARSE_ERROR = -32700;
/** Bytes kept from each end of an oversized message to find its method and id. */
const KEPT_EDGE_BYTES = 2048;

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

export interface BoundedStdioOptions {
  maxMessageBytes: number;
  /** Diagnostics (stderr in the CLI); stdout is the MCP channel. */
  log: (message: string) => void;
}

/** The id of a request whose body was not parsed: clients put it first or (the SDK) last. */
export function findRequestId(head: string, tail: string): string | number | undefined {
  const value = String.raw`("(?:[^"\\]|\\.){0,200}"|-?\d{1,16})`;
  const first = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${value}`).exec(head);
  const last = new RegExp(String.raw`,\s*"id"\s*:\s*${value}\s*\}\s*$`).exec(tail);
  const raw = first?.[1] ?? last?.[1];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as string | number;
  } catch {
    return undefined;
  }
}

export class BoundedStdioServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Set while the rest of an oversized line is skipped; keeps its first and last bytes. */
  private oversized: { head: Buffer; tail: Buffer; bytes: number } | undefined;
  private started = false;

  constructor(
    private readonly options: BoundedStdioOptions,
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
  ) {}

  async start(): Promise<void> {
    if (this.started) throw new Error("BoundedStdioServerTransport already started");
    this.started = true;
    this.stdin.on("data", this.onData);
    this.stdin.on("error", this.onStreamError);
  }

  private readonly onStreamError = (error: Error): void => this.onerror?.(error);

  private readonly onData = (chunk: Buffer): void => {
    let rest = chunk;
    for (;;) {
      const newline = rest.indexOf(0x0a);
      const piece = newline === -1 ? rest : rest.subarray(0, newline);
      this.take(piece);
      if (newline === -1) return;
      this.endLine();
      rest = rest.subarray(newline + 1);
    }
  };

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.oversized) {
      this.oversized.bytes += piece.length;
      this.oversized.tail = Buffer.concat([this.oversized.tail, piece]).subarray(-KEPT_EDGE_BYTES);
      return;
    }
    this.chunks.push(piece);
    this.buffered += piece.length;
    if (this.buffered > this.options.maxMessageBytes) {
      const whole = Buffer.concat(this.chunks, this.buffered);
      this.oversized = { head: Buffer.from(whole.subarray(0, KEPT_EDGE_BYTES)), tail: Buffer.from(whole.subarray(-KEPT_EDGE_BYTES)), bytes: whole.length };
      this.chunks = [];
      this.buffered = 0;
    }
  }

  private endLine(): void {
    if (this.oversized) {
      const skipped = this.oversized;
      this.oversized = undefined;
      this.refuseOversized(skipped);
      return;
    }
    const line = Buffer.concat(this.chunks, this.buffered).toString("utf8").replace(/\r$/, "");
    this.chunks = [];
    this.buffered = 0;
    if (line.trim() === "") return;
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(JSON.parse(line));
    } catch {
      this.options.log(`ignored a message that is not JSON-RPC (${line.length} characters)`);
      const id = findRequestId(line.slice(0, KEPT_EDGE_BYTES), line.slice(-KEPT_EDGE_BYTES));
      if (id !== undefined) void this.send({ jsonrpc: "2.0", id, error: { code: PARSE_ERROR, message: "The message is not valid JSON-RPC." } });
      return;
    }
    this.onmessage?.(message);
  }

  private refuseOversized(skipped: { head: Buffer; tail: Buffer; bytes: number }): void {
    const limit = this.options.maxMessageBytes;
    const text =
      `The request is ${megabytes(skipped.bytes)}, over this server's ${megabytes(limit)} limit for one MCP message; it was not read. ` +
      "Send fewer or smaller images per call (base64 grows an image by a third), or pass large images as a path inside the allowed directories or as a URL.";
    const head = skipped.head.toString("utf8");
    const id = findRequestId(head, skipped.tail.toString("utf8"));
    this.options.log(`refused a ${skipped.bytes}-byte message (limit ${limit})${id === undefined ? " without a request id" : ""}`);
    if (id === undefined) return;
    if (/"method"\s*:\s*"tools\/call"/.test(head)) {
      // A tool result (not a protocol error) so that the agent reads the recovery advice.
      void this.send({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text }], isError: true } });
    } else {
      void this.send({ jsonrpc: "2.0", id, error: { code: INVALID_REQUEST, message: text } });
    }
  }

  async close(): Promise<void> {
    this.stdin.off("data", this.onData);
    this.stdin.off("error", this.onStreamError);
    if (this.stdin.listenerCount("data") === 0) this.stdin.pause();
    this.chunks = [];
    this.oversized = undefined;
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.stdout.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.stdout.once("drain", resolve);
    });
  }
}
