/**
 * The messages between a WorkerSessionHost and its thread (session-worker-thread.ts), and tensors as they
 * cross: typed arrays by transferring their buffers, so a run's inputs and outputs are moved, not copied.
 */
import * as ort from "onnxruntime-node";
import type { SessionSource } from "./session-host.js";

export interface WireTensor {
  type: ort.Tensor.Type;
  dims: readonly number[];
  data: ort.Tensor.DataType;
}

export interface OpenedSession {
  session: number;
  inputNames: string[];
  outputNames: string[];
  inputMetadata: ort.InferenceSession.ValueMetadata[];
}

export type ToSessionThread = { id: number } & (
  | { kind: "open"; source: SessionSource; options: ort.InferenceSession.SessionOptions }
  | { kind: "run"; session: number; feeds: Record<string, WireTensor>; fetches?: string[] }
  | { kind: "release"; session: number }
  /** Release every session and end the thread. */
  | { kind: "exit" }
);

export type FromSessionThread = { id: number } & (
  | ({ kind: "opened" } & OpenedSession)
  | { kind: "ran"; outputs: Record<string, WireTensor> }
  | { kind: "released" }
  | { kind: "failed"; name: string; message: string }
);

/**
 * Tensors as messages, with the buffers to transfer. `own`: the buffers may be moved whole (the worker's
 * outputs). Otherwise only a typed array that spans its whole, unshared buffer is moved; any other is copied
 * first, so that moving it cannot detach memory the caller still uses for something else.
 */
export function toWire(tensors: Record<string, ort.Tensor>, own: boolean): { wire: Record<string, WireTensor>; transfer: ArrayBuffer[] } {
  const wire: Record<string, WireTensor> = {};
  const transfer = new Set<ArrayBuffer>();
  for (const [name, tensor] of Object.entries(tensors)) {
    let data = tensor.data;
    if (ArrayBuffer.isView(data)) {
      const buffer = data.buffer;
      const whole = data.byteOffset === 0 && data.byteLength === buffer.byteLength;
      if (!(buffer instanceof ArrayBuffer) || (!own && (!whole || transfer.has(buffer)))) {
        data = Buffer.isBuffer(data) ? new Uint8Array(data) : (data.slice() as typeof data);
      }
      transfer.add(data.buffer as ArrayBuffer);
    }
    wire[name] = { type: tensor.type, dims: tensor.dims, data };
  }
  return { wire, transfer: [...transfer] };
}

export function fromWire(wire: Record<string, WireTensor>): Record<string, ort.Tensor> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(wire)) tensors[name] = new ort.Tensor(t.type, t.data as never, t.dims);
  return tensors;
}
