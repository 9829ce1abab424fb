/**
 * Node naming and quantized forms as torch.onnx.export and the onnxruntime quantizers write them,
 * including the exact MatMulNBits packing and the MatMulInteger chain around every o_proj.
 */
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultTinyModelDir } from "../../src/model/families/idefics3/tiny/index.js";
import {
  dims,
  floats,
  initializer,
  int8s,
  intAttr,
  loadModelProto,
  nodeByName,
  producerOf,
  textSizes,
  toNumber,
  uint8s,
  type ModelProto,
  type TextSizes,
} from "./helpers.js";

const dir = defaultTinyModelDir();
let sizes: TextSizes;
let fp32: ModelProto;
let q4: ModelProto;
let int8: ModelProto;

beforeAll(async () => {
  sizes = await textSizes(dir);
  fp32 = await loadModelProto(path.join(dir, "onnx", "decoder_model_merged.onnx"));
  q4 = await loadModelProto(path.join(dir, "onnx", "decoder_model_merged_q4.onnx"));
  int8 = await loadModelProto(path.join(dir, "onnx", "decoder_model_merged_int8.onnx"));
});

const PROJECTIONS = ["self_attn/q_proj", "self_attn/k_proj", "self_attn/v_proj", "self_attn/o_proj", "mlp/gate_proj", "mlp/up_proj", "mlp/down_proj"];

function attentionOutput(layer: number): string {
  return `/model/layers.${layer}/self_attn/Reshape_3_output_0`;
}

describe("fp32 decoder graph", () => {
  it("is IR 8 / opset 17 with torch.onnx.export node names", () => {
    expect(toNumber(fp32.irVersion)).toBe(8);
    expect(fp32.opsetImport?.map((o) => [o.domain, toNumber(o.version)])).toEqual([["", 17]]);
    for (let i = 0; i < sizes.layers; i++) {
      for (const p of PROJECTIONS) expect(nodeByName(fp32, `/model/layers.${i}/${p}/MatMul`).opType).toBe("MatMul");
      expect(nodeByName(fp32, `/model/layers.${i}/input_layernorm/ReduceMean`).opType).toBe("ReduceMean");
      expect(nodeByName(fp32, `/model/layers.${i}/mlp/act_fn/Sigmoid`).opType).toBe("Sigmoid");
    }
    expect(nodeByName(fp32, "/model/norm/Mul_1").opType).toBe("Mul");
    expect(nodeByName(fp32, "/lm_head/MatMul").output).toEqual(["logits"]);
  });

  it("feeds every o_proj from the attention Reshape of width heads x head_dim", () => {
    for (let i = 0; i < sizes.layers; i++) {
      const oProj = nodeByName(fp32, `/model/layers.${i}/self_attn/o_proj/MatMul`);
      expect(oProj.input?.[0]).toBe(attentionOutput(i));
      const reshape = producerOf(fp32, attentionOutput(i));
      expect(reshape?.name).toBe(`/model/layers.${i}/self_attn/Reshape_3`);
      expect(reshape?.opType).toBe("Reshape");
      // attn @ V -> Transpose -> Reshape_3, as in the Llama exports.
      const transpose = producerOf(fp32, reshape?.input?.[0] ?? "");
      expect(transpose?.opType).toBe("Transpose");
      expect(producerOf(fp32, transpose?.input?.[0] ?? "")?.name).toBe(`/model/layers.${i}/self_attn/MatMul_1`);
      expect(dims(initializer(fp32, oProj.input?.[1] ?? ""))).toEqual([sizes.heads * sizes.headDim, sizes.hidden]);
      const info = fp32.graph?.valueInfo?.find((v) => v.name === attentionOutput(i));
      expect(info?.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || toNumber(d.dimValue))).toEqual([
        "batch_size",
        "sequence_length",
        sizes.heads * sizes.headDim,
      ]);
      expect(producerOf(fp32, `present.${i}.key`)?.opType).toBe("Concat");
    }
  });
});

describe("q4 decoder graph (MatMul4BitsQuantizer form)", () => {
  it("replaces every constant-weight MatMul by MatMulNBits <name>_Q4 and keeps the activation input", () => {
    expect(q4.opsetImport?.map((o) => [o.domain, toNumber(o.version)])).toEqual([["", 17], ["com.microsoft", 1]]);
    const constantMatMuls = (q4.graph?.node ?? []).filter(
      (n) => n.opType === "MatMul" && q4.graph?.initializer?.some((t) => t.name === n.input?.[1]),
    );
    expect(constantMatMuls).toEqual([]);
    for (let i = 0; i < sizes.layers; i++) {
      for (const p of PROJECTIONS) {
        const node = nodeByName(q4, `/model/layers.${i}/${p}/MatMul_Q4`);
        expect(node.opType).toBe("MatMulNBits");
        expect(node.domain).toBe("com.microsoft");
      }
      const oProj = nodeByName(q4, `/model/layers.${i}/self_attn/o_proj/MatMul_Q4`);
      expect(oProj.input?.[0]).toBe(attentionOutput(i));
      expect(oProj.input).toHaveLength(3);
      expect(intAttr(oProj, "K")).toBe(sizes.heads * sizes.headDim);
      expect(intAttr(oProj, "N")).toBe(sizes.hidden);
      expect(intAttr(oProj, "bits")).toBe(4);
      expect(intAttr(oProj, "block_size")).toBe(32);
    }
    expect(nodeByName(q4, "/lm_head/MatMul_Q4").output).toEqual(["logits"]);
  });

  it("packs symmetric 4-bit blocks: low nibble first, zero point 8, scale = signed absmax / -8", () => {
    for (const p of ["self_attn/o_proj", "mlp/down_proj"]) {
      const name = `/model/layers.1/${p}/MatMul`;
      const weight = initializer(fp32, nodeByName(fp32, name).input?.[1] ?? "");
      const node = nodeByName(q4, `${name}_Q4`);
      const packed = initializer(q4, node.input?.[1] ?? "");
      const scales = initializer(q4, node.input?.[2] ?? "");
      const [K, N] = dims(weight) as [number, number];
      const kBlocks = K / 32;
      expect(packed.name).toBe(`${weight.name}_Q4`);
      expect(scales.name).toBe(`${weight.name}_scales`);
      expect(packed.dataType).toBe(2);
      expect(dims(packed)).toEqual([N, kBlocks, 16]);
      expect(dims(scales)).toEqual([N * kBlocks]);
      const w = floats(weight);
      const q = uint8s(packed);
      const s = floats(scales);
      let mismatches = 0;
      let worstUnclamped = 0;
      for (let n = 0; n < N; n++) {
        for (let b = 0; b < kBlocks; b++) {
          const scale = s[n * kBlocks + b] as number;
          let extreme = 0;
          for (let r = b * 32; r < (b + 1) * 32; r++) {
            const v = w[r * N + n] as number;
            if (Math.abs(v) > Math.abs(extreme)) extreme = v;
          }
          expect(scale).toBeCloseTo(extreme / -8, 6);
          for (let r = b * 32; r < (b + 1) * 32; r++) {
            const byte = q[(n * kBlocks + b) * 16 + Math.floor((r - b * 32) / 2)] as number;
            const nibble = r % 2 === 0 ? byte & 0xf : byte >> 4;
            const v = w[r * N + n] as number;
            const exact = v / scale + 8;
            if (nibble !== Math.min(15, Math.max(0, Math.round(exact)))) mismatches++;
            // The value of largest magnitude maps to 0 (-8 x scale); the other side only reaches 15 (+7).
            if (exact < 15.5) worstUnclamped = Math.max(worstUnclamped, Math.abs((nibble - 8) * scale - v) / Math.abs(scale));
          }
        }
      }
      expect(mismatches).toBeLessThanOrEqual(Math.ceil((K * N) / 1000));
      expect(worstUnclamped).toBeLessThanOrEqual(0.5 + 1e-3);
    }
  });
});

describe("int8 decoder graph (quantize_dynamic IntegerOps form)", () => {
  it("quantizes each o_proj input with DynamicQuantizeLinear and chains MatMulInteger, Cast, Mul, Mul", () => {
    expect(int8.producerName).toBe("onnx.quantize");
    for (let i = 0; i < sizes.layers; i++) {
      const x = attentionOutput(i);
      const o = `/model/layers.${i}/self_attn/o_proj/MatMul`;
      const weightName = nodeByName(fp32, o).input?.[1] as string;
      const dq = nodeByName(int8, `${x}_QuantizeLinear`);
      expect(dq.opType).toBe("DynamicQuantizeLinear");
      expect(dq.input).toEqual([x]);
      expect(dq.output).toEqual([`${x}_quantized`, `${x}_scale`, `${x}_zero_point`]);
      const mmi = nodeByName(int8, `${o}_quant`);
      expect(mmi.opType).toBe("MatMulInteger");
      expect(mmi.input).toEqual([`${x}_quantized`, `${weightName}_quantized`, `${x}_zero_point`, `${weightName}_zero_point`]);
      expect(mmi.output).toEqual([`${o}_output_0_output_quantized`]);
      const cast = nodeByName(int8, `${o}_output_0_output_quantized_cast`);
      expect(cast.opType).toBe("Cast");
      const scalesMul = nodeByName(int8, `${o}_quant_scales_mul`);
      expect(scalesMul.input).toEqual([`${x}_scale`, `${weightName}_scale`]);
      const outMul = nodeByName(int8, `${o}_quant_output_scale_mul`);
      expect(outMul.input).toEqual([cast.output?.[0], scalesMul.output?.[0]]);
      expect(outMul.output).toEqual([`${o}_output_0`]);
    }
    // q/k/v share one DynamicQuantizeLinear of the normed hidden state, as the quantizer dedups by name.
    const qInput = nodeByName(fp32, "/model/layers.0/self_attn/q_proj/MatMul").input?.[0];
    expect((int8.graph?.node ?? []).filter((n) => n.name === `${qInput}_QuantizeLinear`)).toHaveLength(1);
  });

  it("stores int8 weights symmetric per tensor (zero point 0, scale absmax / 127)", () => {
    const weightName = nodeByName(fp32, "/model/layers.0/self_attn/o_proj/MatMul").input?.[1] as string;
    const w = floats(initializer(fp32, weightName));
    const q = initializer(int8, `${weightName}_quantized`);
    expect(q.dataType).toBe(3);
    expect(dims(q)).toEqual(dims(initializer(fp32, weightName)));
    const scale = floats(initializer(int8, `${weightName}_scale`))[0] as number;
    const zp = initializer(int8, `${weightName}_zero_point`);
    expect(dims(zp)).toEqual([]);
    expect(int8s(zp)[0]).toBe(0);
    const absMax = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(scale).toBeCloseTo(absMax / 127, 7);
    const values = int8s(q);
    let worst = 0;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs((values[i] as number) * scale - (w[i] as number)));
    expect(worst).toBeLessThanOrEqual(scale / 2 + 1e-7);
  });
});
