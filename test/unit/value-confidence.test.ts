import { describe, expect, it } from "vitest";
import { jsonLeafSpans } from "../../functions/infer/json-leaf-spans.ts";
import { tokenCharSpans, tokenCharSpansByPrefix, valueConfidences, type Detokenize } from "../../functions/infer/value-confidence.ts";
import { ModelOutputError } from "../../functions/shared/errors.ts";

/** Path -> the literal as written, for reading expectations at a glance. */
const literals = (text: string) => Object.fromEntries(jsonLeafSpans(text).map((leaf) => [leaf.path, text.slice(leaf.start, leaf.end)]));

/** The scalar leaves of a parsed value, in the item's path notation. */
function parsedLeaves(value: unknown, path = ""): Array<[string, unknown]> {
  if (Array.isArray(value)) return value.flatMap((item, i) => parsedLeaves(item, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => parsedLeaves(item, path ? `${path}.${key}` : key));
  }
  return [[path, value]];
}

describe("JSON leaf spans", () => {
  it("finds every scalar in nested objects and arrays, by path, with its literal's span", () => {
    const text = '{"a": {"b": [1, {"c": "x"}, [true, null, false]]}, "d": [], "e": {}, "f": [[0]]}';
    expect(literals(text)).toEqual({
      "a.b[0]": "1",
      "a.b[1].c": '"x"',
      "a.b[2][0]": "true",
      "a.b[2][1]": "null",
      "a.b[2][2]": "false",
      "f[0][0]": "0",
    });
    expect(jsonLeafSpans(text).map((leaf) => leaf.type)).toEqual(["number", "string", "boolean", "null", "boolean", "number"]);
  });

  it("keeps escapes inside a string's span and decodes escaped keys", () => {
    const text = String.raw`{"s": "say \"hi\" \\ \/ \n \u00e9", "k\"e\u0079": 1, "t": "\\"}`;
    expect(literals(text)).toEqual({ s: String.raw`"say \"hi\" \\ \/ \n \u00e9"`, 'k"ey': "1", t: String.raw`"\\"` });
  });

  it("counts offsets in UTF-16 code units through non-ASCII text and astral characters", () => {
    const text = '{"名前": "😀 ü", "n": "x😀"}';
    const [name, n] = jsonLeafSpans(text);
    expect(name).toMatchObject({ path: "名前", start: 7, end: 13 });
    expect(text.slice(name!.start, name!.end)).toBe('"😀 ü"');
    expect(text.slice(n!.start, n!.end)).toBe('"x😀"');
  });

  it("takes numbers in every JSON form and whitespace anywhere between tokens", () => {
    const text = ' \n{ "n" : [ -0 , 0.5,1E+10 ,\t-12.25e-3, 123 ] }\n ';
    expect(literals(text)).toEqual({ "n[0]": "-0", "n[1]": "0.5", "n[2]": "1E+10", "n[3]": "-12.25e-3", "n[4]": "123" });
  });

  it("takes a number of any length (a weak model writes hundreds of digits)", () => {
    const digits = "9".repeat(700);
    expect(literals(`{"n": -${digits}.5e-${digits}, "m": 1}`)).toEqual({ n: `-${digits}.5e-${digits}`, m: "1" });
  });

  it("gives a lone scalar the empty path", () => {
    expect(literals(' "x" ')).toEqual({ "": '"x"' });
  });

  it("agrees with JSON.parse on every leaf of a pretty-printed document", () => {
    const value = {
      title: "Invoice «42» — Müller & Søn",
      total: 1234.5,
      paid: false,
      note: null,
      lines: [
        { name: 'Widget "XL"\ttab', qty: 3, tags: ["a", "b\\c", ""] },
        { name: "日本語 😀", qty: -0.001, tags: [] },
      ],
    };
    for (const text of [JSON.stringify(value), JSON.stringify(value, null, 2)]) {
      const leaves = jsonLeafSpans(text);
      expect(leaves.map((leaf) => [leaf.path, JSON.parse(text.slice(leaf.start, leaf.end))])).toEqual(parsedLeaves(value));
    }
  });

  it("rejects text that is not one JSON value", () => {
    for (const text of ['{"a": }', '{"a": 1} x', '{"a": "open', '{"a": 01}', '{"a": "\\q"}', '{"a": tru}', "", '["a",]']) {
      expect(() => jsonLeafSpans(text), text).toThrow(ModelOutputError);
    }
  });
});

/** Detokenizes string tokens by joining them: each token's text is itself. */
const joined: Detokenize<string> = (tokens) => tokens.join("");

/**
 * A SentencePiece-like detokenizer: "▁" is a space, but a leading space of the output is dropped unless the tokens
 * continue earlier ones (lastTokens), as llama.cpp does.
 */
const sentencePiece: Detokenize<string> = (tokens, lastTokens = []) => {
  const text = (list: readonly string[]) => list.join("").replaceAll("▁", " ").replace(/^ /, "");
  return lastTokens.length === 0 ? text(tokens) : text([...lastTokens, ...tokens]).slice(text(lastTokens).length);
};

/** Byte tokens: each token is one UTF-8 byte; incomplete sequences decode to U+FFFD, as llama.cpp's detokenizer does. */
const bytes: Detokenize<number> = (tokens, lastTokens = []) => {
  const decode = (list: readonly number[]) => new TextDecoder().decode(Uint8Array.from(list));
  if (lastTokens.length === 0) return decode(tokens);
  const before = decode(lastTokens);
  const text = decode([...lastTokens, ...tokens]);
  return text.startsWith(before) ? text.slice(before.length) : decode(tokens);
};

describe("token spans in the answer text", () => {
  it("lays tokens end to end", () => {
    expect(tokenCharSpans(['{"', "ab", '":', "1}"], joined)).toEqual([[0, 2], [2, 4], [4, 6], [6, 8]]);
  });

  it("keeps the spaces a token detokenizes to only after other tokens", () => {
    const tokens = ["▁{", '"a":', "▁1", "}"];
    expect(sentencePiece(tokens)).toBe('{"a": 1}');
    expect(tokenCharSpans(tokens, sentencePiece)).toEqual([[0, 1], [1, 5], [5, 7], [7, 8]]);
  });

  it("gives the byte tokens of one character that character's span, all of them", () => {
    const tokens = [...new TextEncoder().encode('"é😀"')];
    expect(tokens).toHaveLength(8);
    expect(tokenCharSpans(tokens, bytes)).toEqual([[0, 1], [1, 2], [1, 2], [2, 4], [2, 4], [2, 4], [2, 4], [4, 5]]);
  });

  it("falls back to detokenizing prefixes when the pieces do not add up to the whole text", () => {
    // Ignores the context it is given, so every piece loses its leading space: the pieces spell '{"a":1}'.
    const forgetful: Detokenize<string> = (tokens) => sentencePiece(tokens);
    const tokens = ["▁{", '"a":', "▁1", "}"];
    expect(tokenCharSpans(tokens, forgetful)).toEqual([[0, 1], [1, 5], [5, 7], [7, 8]]);
  });

  it("by prefixes, lets a token that ends inside a character touch that character", () => {
    const tokens = [...new TextEncoder().encode("aé")];
    expect(tokenCharSpansByPrefix(tokens, bytes)).toEqual([[0, 1], [1, 2], [1, 2]]);
  });
});

describe("value confidences", () => {
  const geometricMean = (...values: number[]) => Math.round(Math.exp(values.reduce((sum, p) => sum + Math.log(p), 0) / values.length) * 1e4) / 1e4;
  const confidencesOf = (pieces: Array<[string, number]>) => {
    const text = pieces.map(([piece]) => piece).join("");
    const tokens = pieces.map(([piece]) => piece);
    return valueConfidences(text, tokenCharSpans(tokens, joined), pieces.map(([, p]) => p));
  };

  it("takes the geometric mean over a string's tokens between its quotes, leaving out tokens that hold only a quote", () => {
    const confidences = confidencesOf([
      ['{"', 1], ["name", 1], ['":', 1], [" ", 0.5], ['"', 0.9], ["Ac", 0.4], ["me", 0.8], [" Corp", 0.6], ['"', 0.7], ["}", 1],
    ]);
    expect(confidences).toEqual({ name: geometricMean(0.4, 0.8, 0.6) });
  });

  it("counts a token that straddles a quote: it holds part of the value", () => {
    const straddling = confidencesOf([['{"name":', 1], [' "Ac', 0.3], ["me", 0.9], [' Corp"', 0.5], ["}", 1]]);
    expect(straddling).toEqual({ name: geometricMean(0.3, 0.9, 0.5) });
  });

  it("counts every token that overlaps a number, boolean or null, including one that runs on past it", () => {
    const confidences = confidencesOf([
      ['{"n": ', 1], ["4", 0.5], ["2", 0.8], [', "ok": ', 1], ["tr", 0.6], ["ue", 1], [', "none": n', 0.3], ["ull", 1], ["}", 1],
    ]);
    expect(confidences).toEqual({ n: geometricMean(0.5, 0.8), ok: geometricMean(0.6, 1), none: geometricMean(0.3, 1) });
  });

  it("gives an empty string the probability of its quotes: the choice to close it at once", () => {
    expect(confidencesOf([['{"e": ', 1], ['"', 0.9], ['"', 0.2], ["}", 1]])).toEqual({ e: geometricMean(0.9, 0.2) });
  });

  it("leaves out tokens without a probability, and values with none left", () => {
    const confidences = confidencesOf([['{"a": ', 1], ["1", Number.NaN], ["2", 0.25], [', "b": ', 1], ["3", Number.NaN], ["}", 1]]);
    expect(confidences).toEqual({ a: 0.25 });
  });

  it("keys every leaf of a nested answer by its item path, each in [0, 1]", () => {
    const text = '{"lines": [{"name": "A", "qty": 2}, {"name": "Bé", "qty": null}], "total": 9.5}';
    const tokens = [...new TextEncoder().encode(text)];
    const probabilities = tokens.map((_, i) => ((i * 37) % 100) / 100 + 0.005);
    const confidences = valueConfidences(text, tokenCharSpans(tokens, bytes), probabilities);
    expect(Object.keys(confidences)).toEqual(["lines[0].name", "lines[0].qty", "lines[1].name", "lines[1].qty", "total"]);
    for (const value of Object.values(confidences)) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    // "Bé": B's byte, then é's two bytes (sharing é's span), between the quotes.
    const at = text.indexOf("Bé");
    const byteAt = new TextEncoder().encode(text.slice(0, at)).length;
    expect(confidences["lines[1].name"]).toBe(geometricMean(probabilities[byteAt]!, probabilities[byteAt + 1]!, probabilities[byteAt + 2]!));
  });
});
