/**
 * Renders a model's chat template with bounds: a template comes with downloaded model files, and a loop
 * such as `{% for i in range(10**9) %}` or `{{ 'x' * 10**9 }}` must be a clear error naming the file,
 * not a hung server or a heap crash. The template's source size, the steps the interpreter takes, every
 * string it produces and the `range()` it may build are all limited.
 */
import { Environment, Interpreter, Template } from "@huggingface/jinja";
import { ModelFileError } from "./errors.js";

export const TEMPLATE_LIMITS = {
  /** Published chat templates are a few KB; the largest known (tool-calling ones) about 10 KB. */
  maxTemplateChars: 64 * 1024,
  /** Interpreter steps (expressions and statements evaluated) per render. */
  maxSteps: 200_000,
  /** Characters of any string the template produces, beyond the text passed in. */
  maxOutputOverhead: 64 * 1024,
  /** Elements of one `range()`. */
  maxRange: 10_000,
} as const;

class TemplateLimit extends Error {}

interface RuntimeValue {
  type: string;
  value: unknown;
}
/** The package's runtime types do not resolve under NodeNext; this is the part used here. */
const InterpreterBase = Interpreter as unknown as new (env: Environment) => {
  run(program: unknown): RuntimeValue;
  evaluate(statement: unknown, environment: unknown): RuntimeValue;
};

class BoundedInterpreter extends InterpreterBase {
  private steps = 0;
  /** The iterables of the loops met so far: each element of one counts as a step. */
  private readonly iterables = new WeakSet<object>();

  constructor(
    env: Environment,
    private readonly maxChars: number,
  ) {
    super(env);
  }

  override evaluate(statement: unknown, environment: unknown): RuntimeValue {
    if (++this.steps > TEMPLATE_LIMITS.maxSteps) throw new TemplateLimit(`it took more than ${TEMPLATE_LIMITS.maxSteps} steps to render`);
    const node = statement as { type?: string; iterable?: object } | undefined;
    if (node?.type === "For" && node.iterable) this.iterables.add(node.iterable);
    const value = super.evaluate(statement, environment);
    if (node && this.iterables.has(node) && (typeof value.value === "string" || Array.isArray(value.value))) {
      this.steps += (value.value as string | unknown[]).length;
      if (this.steps > TEMPLATE_LIMITS.maxSteps) throw new TemplateLimit(`it took more than ${TEMPLATE_LIMITS.maxSteps} steps to render`);
    }
    if (value.type === "StringValue" && (value.value as string).length > this.maxChars) {
      throw new TemplateLimit(`it produced a string of more than ${this.maxChars} characters`);
    }
    return value;
  }
}

function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error("range() step must not be zero");
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > TEMPLATE_LIMITS.maxRange) throw new TemplateLimit(`it asked for range() of ${count} elements (limit ${TEMPLATE_LIMITS.maxRange})`);
  return Array.from({ length: count }, (_, i) => start + i * step);
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** The date directives chat templates use (`strftime_now("%d %B %Y")`). */
function strftimeNow(format: string): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  const fields: Record<string, string> = {
    "%d": pad(now.getDate()),
    "%m": pad(now.getMonth() + 1),
    "%Y": String(now.getFullYear()),
    "%H": pad(now.getHours()),
    "%M": pad(now.getMinutes()),
    "%S": pad(now.getSeconds()),
    "%B": MONTHS[now.getMonth()]!,
    "%b": MONTHS[now.getMonth()]!.slice(0, 3),
    "%%": "%",
  };
  return format.replace(/%[dmYHMSBb%]/g, (directive) => fields[directive]!);
}

export class BoundedTemplate {
  private readonly template: Template;

  /** `file` names where the template came from, for the messages. */
  constructor(
    source: string,
    private readonly file: string,
  ) {
    if (source.length > TEMPLATE_LIMITS.maxTemplateChars) {
      throw new ModelFileError(
        `The chat template in ${file} is ${source.length} characters, over the ${TEMPLATE_LIMITS.maxTemplateChars} character limit for a chat template. ` +
          "The model files look wrong: reinstall the model, or use a model directory whose chat template is the published one.",
      );
    }
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new ModelFileError(`The chat template in ${file} does not parse: ${(error as Error).message}`);
    }
  }

  /** Renders with `items`; `inputChars` (the user's text) is allowed on top of the output bound. */
  render(items: Record<string, unknown>, inputChars: number): string {
    const env = new Environment();
    const globals: Record<string, unknown> = {
      false: false,
      true: true,
      none: null,
      False: false,
      True: true,
      None: null,
      raise_exception: (message: string) => {
        throw new Error(message);
      },
      range: boundedRange,
      strftime_now: strftimeNow,
    };
    for (const [key, value] of Object.entries({ ...globals, ...items })) env.set(key, value);
    try {
      return new BoundedInterpreter(env, inputChars + TEMPLATE_LIMITS.maxOutputOverhead).run(this.template.parsed).value as string;
    } catch (error) {
      if (!(error instanceof TemplateLimit || error instanceof RangeError)) throw error;
      const why = error instanceof TemplateLimit ? error.message : `it ran out of memory (${(error as Error).message})`;
      throw new ModelFileError(
        `The chat template in ${this.file} runs too long: ${why}. A chat template renders one user turn in a few hundred steps; ` +
          "this one is broken or hostile. Reinstall the model, or use a model directory whose chat template is the published one.",
      );
    }
  }
}
