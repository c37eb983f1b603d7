import { ModelOutputError } from "../shared/errors.ts";

/**
 * Where each scalar value of a JSON text is: JSON.parse gives the values but not their positions, and the model's
 * per-token probabilities are tied to positions in the answer text.
 */

export type JsonLeafType = "string" | "number" | "boolean" | "null";

export interface JsonLeafSpan {
  /** In the item's notation: `title`, `lines[0].name`, `entities[2].kind`. */
  path: string;
  type: JsonLeafType;
  /** The literal's span in the text, UTF-16 code units, end exclusive; a string's includes its quotes. */
  start: number;
  end: number;
}

/**
 * Every scalar leaf of a JSON text (strings, numbers, booleans, null) with its path and span, in text order. The text
 * must be one JSON value (whitespace around it allowed); anything else throws ModelOutputError (the engine scans only
 * answers that already parsed). Empty objects and arrays have no leaves.
 */
export function jsonLeafSpans(text: string): JsonLeafSpan[] {
  const leaves: JsonLeafSpan[] = [];
  let at = 0;

  const fail = (what: string): never => {
    throw new ModelOutputError(`The answer is not JSON: ${what} at offset ${at}`);
  };
  const skipWhitespace = () => {
    while (at < text.length && (text[at] === " " || text[at] === "\t" || text[at] === "\n" || text[at] === "\r")) at++;
  };
  const expect = (char: string) => {
    if (text[at] !== char) fail(`Expected ${JSON.stringify(char)}`);
    at++;
  };
  // Returns the decoded string (object keys need it); `at` ends after the closing quote.
  const scanString = (): string => {
    expect('"');
    let value = "";
    let runStart = at;
    for (;;) {
      if (at >= text.length) fail("Unterminated string");
      const char = text[at]!;
      if (char === '"') {
        value += text.slice(runStart, at);
        at++;
        return value;
      }
      if (char === "\\") {
        value += text.slice(runStart, at);
        const escape = text[at + 1];
        if (escape === "u") {
          const hex = text.slice(at + 2, at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("Bad \\u escape");
          value += String.fromCharCode(parseInt(hex, 16));
          at += 6;
        } else {
          const decoded = escape === undefined ? undefined : simpleEscapes[escape];
          if (decoded === undefined) fail("Bad escape");
          value += decoded;
          at += 2;
        }
        runStart = at;
        continue;
      }
      if (char < " ") fail("Control character in string");
      at++;
    }
  };
  const scanNumber = () => {
    numberPattern.lastIndex = at;
    const match = numberPattern.exec(text);
    if (!match) fail("Expected a value");
    at = numberPattern.lastIndex;
  };
  const scanLiteral = (literal: string) => {
    if (!text.startsWith(literal, at)) fail(`Expected ${literal}`);
    at += literal.length;
  };
  const scanValue = (path: string, depth: number): void => {
    if (depth > maxDepth) fail("Nesting too deep");
    skipWhitespace();
    const start = at;
    const char = text[at];
    if (char === "{") {
      at++;
      skipWhitespace();
      if (text[at] === "}") {
        at++;
        return;
      }
      for (;;) {
        skipWhitespace();
        const key = scanString();
        skipWhitespace();
        expect(":");
        scanValue(path ? `${path}.${key}` : key, depth + 1);
        skipWhitespace();
        if (text[at] === ",") {
          at++;
          continue;
        }
        expect("}");
        return;
      }
    }
    if (char === "[") {
      at++;
      skipWhitespace();
      if (text[at] === "]") {
        at++;
        return;
      }
      for (let index = 0; ; index++) {
        scanValue(`${path}[${index}]`, depth + 1);
        skipWhitespace();
        if (text[at] === ",") {
          at++;
          continue;
        }
        expect("]");
        return;
      }
    }
    let type: JsonLeafType;
    if (char === '"') {
      scanString();
      type = "string";
    } else if (char === "t" || char === "f") {
      scanLiteral(char === "t" ? "true" : "false");
      type = "boolean";
    } else if (char === "n") {
      scanLiteral("null");
      type = "null";
    } else {
      scanNumber();
      type = "number";
    }
    leaves.push({ path, type, start, end: at });
  };

  scanValue("", 0);
  skipWhitespace();
  if (at !== text.length) fail("Unexpected text after the value");
  return leaves;
}

const simpleEscapes: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
// Sticky: matches at lastIndex only, however long the number (a weak model can write hundreds of digits).
const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// Far beyond any extraction schema; keeps a pathological text from exhausting the stack.
const maxDepth = 512;
