import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { editDecoder, findHeadTaps, GraphEditError, HEAD_VECTORS_OUTPUT } from "../../src/model/graph.js";
import { onnx, type Onnx } from "../../src/model/onnx-proto.js";

const WIDTH = 4;

function floatInit(name: string, dims: number[], values: number[]): Onnx.ITensorProto {
  return { name, dims, dataType: 1, rawData: new Uint8Array(new Float32Array(values).buffer) };
}

function tensorInfo(name: string, dims: (number | string)[]): Onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** Two "layers": h_i = x * (i+2) (the attention output stand-in), o_proj = h_i @ W_i, summed into the output. */
function layerNodes(prefix: string, layers: number, oProjName = "o_proj"): { nodes: Onnx.INodeProto[]; inits: Onnx.ITensorProto[]; out: string } {
  const nodes: Onnx.INodeProto[] = [];
  const inits: Onnx.ITensorProto[] = [];
  let current = "inputs_embeds";
  for (let i = 0; i < layers; i++) {
    const scale = `${prefix}scale.${i}`;
    const weight = `${prefix}model.layers.${i}.self_attn.o_proj.weight`;
    inits.push(floatInit(scale, [], [i + 2]));
    inits.push(floatInit(weight, [WIDTH, WIDTH], Array.from({ length: WIDTH * WIDTH }, (_, k) => ((k * 7 + i) % 5) - 2)));
    const attn = `${prefix}/model/layers.${i}/self_attn/Reshape_3_output_0`;
    const proj = `${prefix}/model/layers.${i}/self_attn/${oProjName}/MatMul_output_0`;
    const sum = `${prefix}/model/layers.${i}/Add_output_0`;
    nodes.push({ name: `${prefix}/model/layers.${i}/self_attn/Reshape_3`, opType: "Mul", input: [current, scale], output: [attn] });
    nodes.push({ name: `${prefix}/model/layers.${i}/self_attn/${oProjName}/MatMul`, opType: "MatMul", input: [attn, weight], output: [proj] });
    nodes.push({ name: `${prefix}/model/layers.${i}/Add`, opType: "Add", input: [current, proj], output: [sum] });
    current = sum;
  }
  return { nodes, inits, out: current };
}

function plainDecoder(oProjName = "o_proj"): Onnx.ModelProto {
  const { nodes, inits, out } = layerNodes("", 2, oProjName);
  nodes.push({ name: "/lm_head/Identity", opType: "Identity", input: [out], output: ["logits"] });
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "decoder",
      node: nodes,
      initializer: inits,
      input: [tensorInfo("inputs_embeds", ["batch_size", "sequence_length", WIDTH])],
      output: [tensorInfo("logits", ["batch_size", "sequence_length", WIDTH])],
    },
  });
}

function ifWrappedDecoder(): Onnx.ModelProto {
  const branch = (name: string): Onnx.IGraphProto => {
    const { nodes, inits, out } = layerNodes(`${name}`, 2);
    nodes.push({ name: `${name}/lm_head/Identity`, opType: "Identity", input: [out], output: [`${name}_logits`] });
    return { name, node: nodes, initializer: inits, output: [tensorInfo(`${name}_logits`, ["batch_size", "sequence_length", WIDTH])] };
  };
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "merged",
      node: [
        {
          name: "optimum::if",
          opType: "If",
          input: ["use_cache_branch"],
          output: ["logits"],
          attribute: [
            { name: "then_branch", type: 5, g: branch("with_past") },
            { name: "else_branch", type: 5, g: branch("no_past") },
          ],
        },
      ],
      input: [tensorInfo("inputs_embeds", ["batch_size", "sequence_length", WIDTH]), { name: "use_cache_branch", type: { tensorType: { elemType: 9, shape: { dim: [{ dimValue: 1 }] } } } }],
      output: [tensorInfo("logits", ["batch_size", "sequence_length", WIDTH])],
    },
  });
}

const embeds = new Float32Array([1, 2, 3, 4, 0.5, -1, 2, 0, -3, 1, 1, 2]); // sequence of 3 positions

async function run(model: Onnx.IModelProto, extraFeeds: Record<string, ort.Tensor> = {}): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  const outputs = await session.run({ inputs_embeds: new ort.Tensor("float32", embeds, [1, 3, WIDTH]), ...extraFeeds });
  expect(session.outputNames).toEqual([HEAD_VECTORS_OUTPUT]);
  return outputs[HEAD_VECTORS_OUTPUT].data as Float32Array;
}

/** What the layers compute, by hand: the o_proj input at the last position for each layer. */
function expectedHeads(layers: number): number[] {
  const model = plainDecoder();
  const weights = model.graph!.initializer!.filter((t) => t.name!.endsWith("o_proj.weight")).map((t) => new Float32Array(t.rawData!.slice().buffer));
  let x = Array.from(embeds.subarray(8, 12));
  const out: number[] = [];
  for (let i = 0; i < layers; i++) {
    const h = x.map((v) => v * (i + 2));
    out.push(...h);
    const proj = Array.from({ length: WIDTH }, (_, n) => h.reduce((s, v, k) => s + v * weights[i][k * WIDTH + n], 0));
    x = x.map((v, n) => v + proj[n]);
  }
  return out;
}

describe("editDecoder", () => {
  it("finds each layer's o_proj input by name and operator, with its width from the weight", () => {
    const taps = findHeadTaps(plainDecoder().graph!);
    expect(taps.map((t) => [t.layer, t.tensor, t.width])).toEqual([
      [0, "/model/layers.0/self_attn/Reshape_3_output_0", WIDTH],
      [1, "/model/layers.1/self_attn/Reshape_3_output_0", WIDTH],
    ]);
  });

  it("replaces the outputs by the o_proj inputs at the last position, [batch, layers, width]", async () => {
    const edited = editDecoder(plainDecoder(), { layers: 2, width: WIDTH });
    expect(edited.layers).toBe(2);
    const values = await run(edited.model);
    expect(Array.from(values)).toEqual(expectedHeads(2).map((v) => Math.fround(v)));
  });

  it("prunes the layers after the last one kept", async () => {
    const edited = editDecoder(plainDecoder(), { layers: 2, width: WIDTH, keepLayers: 1 });
    const names = edited.model.graph!.node!.map((n) => n.name);
    expect(names.some((n) => n!.includes("layers.1/"))).toBe(false);
    expect(names.some((n) => n!.includes("lm_head"))).toBe(false);
    expect(Array.from(await run(edited.model))).toEqual(expectedHeads(1));
  });

  it("adds the output to both branches of a merged decoder's If node", async () => {
    const edited = editDecoder(ifWrappedDecoder(), { layers: 2, width: WIDTH });
    const values = await run(edited.model, { use_cache_branch: new ort.Tensor("bool", new Uint8Array([0]), [1]) });
    expect(Array.from(values)).toEqual(expectedHeads(2));
  });

  it("fails clearly on a graph without o_proj nodes", () => {
    expect(() => editDecoder(plainDecoder("out_proj"), { layers: 2, width: WIDTH })).toThrow(GraphEditError);
    expect(() => editDecoder(plainDecoder("out_proj"), { layers: 2, width: WIDTH })).toThrow(/No o_proj node found/);
  });

  it("fails clearly when a layer is missing or the width disagrees with the config", () => {
    expect(() => editDecoder(plainDecoder(), { layers: 3, width: WIDTH })).toThrow(/layer\(s\) 2 of 3/);
    expect(() => editDecoder(plainDecoder(), { layers: 2, width: 8 })).toThrow(/width is 4, but heads × head_dim in config.json is 8/);
  });
});
