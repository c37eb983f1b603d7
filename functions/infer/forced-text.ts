import type { JsonSchemaNode } from "../shared/json-schema.ts";

/**
 * Follows a JSON answer as the model writes it under the schema's grammar and says which text comes next whatever the
 * model chooses: the rest of a property name once its opening quote is written (the grammar writes every required
 * property, in the schema's order), the colon after it, the rest of `null`/`true`/`false` once begun, and the comma
 * after a finished string or literal that is not an object's last property. The engine feeds that text in one batch,
 * as it does a prompt, instead of one decode per token (engine.ts). Whitespace is never forced: the grammar lets the
 * model choose it. Only objects whose properties are all required get their names forced (otherwise a property may be
 * left out and the next name is not known).
 *
 * A small JSON scanner of our own: streaming JSON parsers (e.g. on npm) report values, not the grammar position a
 * half-written property name is at, which is what this needs.
 */
type Scalar = { kind: "string"; escaped: boolean; isKey: boolean; text: string } | { kind: "literal"; rest: string } | { kind: "number" };

interface ObjectFrame {
  kind: "object";
  keys: string[] | undefined;
  schema: JsonSchemaNode | undefined;
  /** Properties written so far (the next one's index). */
  written: number;
  key: string | undefined;
  state: "beforeKey" | "afterKey" | "beforeValue" | "afterValue";
}

interface ArrayFrame {
  kind: "array";
  schema: JsonSchemaNode | undefined;
  state: "beforeValue" | "afterValue";
}

type Frame = ObjectFrame | ArrayFrame;

const LITERALS: Record<string, string> = { n: "null", t: "true", f: "false" };
const WHITESPACE = new Set([" ", "\n", "\t", "\r"]);

export class JsonAnswerTracker {
  private readonly stack: Frame[] = [];
  private scalar: Scalar | undefined;
  /** The last value finished was a number: a comma after it is the model's to write (the number may go on). */
  private lastWasNumber = false;
  private started = false;
  private broken = false;

  constructor(private readonly schema: JsonSchemaNode) {}

  /** Consumes the answer's next text. */
  append(text: string): void {
    for (const char of text) {
      if (this.broken) return;
      this.consume(char);
    }
  }

  /** The text the grammar forces next ("" when the model has a choice, or when the tracker lost its way). */
  forced(): string {
    if (this.broken) return "";
    const scalar = this.scalar;
    const top = this.stack.at(-1);
    if (scalar?.kind === "literal") return scalar.rest;
    if (scalar?.kind === "string" && scalar.isKey && !scalar.escaped && top?.kind === "object" && top.keys) {
      const expected = top.keys[top.written];
      return expected !== undefined && expected.startsWith(scalar.text) ? `${expected.slice(scalar.text.length)}":` : "";
    }
    if (scalar !== undefined || top?.kind !== "object") return "";
    if (top.state === "afterKey") return ":";
    if (top.state === "afterValue" && !this.lastWasNumber && top.keys && top.written < top.keys.length - 1) return ",";
    return "";
  }

  private consume(char: string): void {
    const scalar = this.scalar;
    if (scalar?.kind === "string") {
      if (scalar.escaped) scalar.escaped = false;
      else if (char === "\\") scalar.escaped = true;
      else if (char === '"') {
        this.scalar = undefined;
        if (scalar.isKey) this.keyDone(scalar.text);
        else this.valueDone(false);
        return;
      }
      scalar.text += char;
      return;
    }
    if (scalar?.kind === "literal") {
      if (scalar.rest[0] !== char) return this.lose();
      scalar.rest = scalar.rest.slice(1);
      if (scalar.rest === "") {
        this.scalar = undefined;
        this.valueDone(false);
      }
      return;
    }
    if (scalar?.kind === "number") {
      if (/[0-9.eE+-]/.test(char)) return;
      this.scalar = undefined;
      this.valueDone(true);
      // The character that ended the number belongs to what follows it.
    }
    this.structural(char);
  }

  private structural(char: string): void {
    const top = this.stack.at(-1);
    if (!this.started) {
      if (WHITESPACE.has(char)) return;
      if (char !== "{") return this.lose();
      this.started = true;
      this.pushObject(this.schema);
      return;
    }
    if (top === undefined) return; // After the answer: whitespace only.
    if (WHITESPACE.has(char)) return;
    if (top.kind === "object") {
      switch (top.state) {
        case "beforeKey":
          if (char === '"') this.scalar = { kind: "string", escaped: false, isKey: true, text: "" };
          else if (char === "}") this.pop();
          else this.lose();
          return;
        case "afterKey":
          if (char === ":") top.state = "beforeValue";
          else this.lose();
          return;
        case "beforeValue":
          return this.beginValue(char, top.key === undefined ? undefined : top.schema?.properties?.[top.key]);
        case "afterValue":
          if (char === ",") {
            top.written++;
            top.key = undefined;
            top.state = "beforeKey";
          } else if (char === "}") this.pop();
          else this.lose();
          return;
      }
    }
    if (top.state === "beforeValue") {
      if (char === "]") return this.pop();
      return this.beginValue(char, top.schema);
    }
    if (char === ",") top.state = "beforeValue";
    else if (char === "]") this.pop();
    else this.lose();
  }

  private beginValue(char: string, schema: JsonSchemaNode | undefined): void {
    if (char === '"') this.scalar = { kind: "string", escaped: false, isKey: false, text: "" };
    else if (char === "{") this.pushObject(schema);
    else if (char === "[") this.stack.push({ kind: "array", schema: schema?.items, state: "beforeValue" });
    else if (LITERALS[char]) this.scalar = { kind: "literal", rest: LITERALS[char]!.slice(1) };
    else if (char === "-" || (char >= "0" && char <= "9")) this.scalar = { kind: "number" };
    else this.lose();
  }

  private pushObject(schema: JsonSchemaNode | undefined): void {
    const keys = Object.keys(schema?.properties ?? {});
    const required = new Set(Array.isArray(schema?.required) ? (schema.required as string[]) : []);
    const allRequired = keys.length > 0 && keys.every((key) => required.has(key));
    this.stack.push({ kind: "object", keys: allRequired ? keys : undefined, schema, written: 0, key: undefined, state: "beforeKey" });
  }

  private keyDone(key: string): void {
    const top = this.stack.at(-1);
    if (top?.kind !== "object") return this.lose();
    top.key = key;
    top.state = "afterKey";
  }

  private valueDone(isNumber: boolean): void {
    this.lastWasNumber = isNumber;
    const top = this.stack.at(-1);
    if (top) top.state = "afterValue";
  }

  private pop(): void {
    this.stack.pop();
    this.valueDone(false);
  }

  /** Text the tracker does not understand: it forces nothing from then on (the grammar still decides everything). */
  private lose(): void {
    this.broken = true;
  }
}
