/**
 * pdf.js 5 builds a `DOMMatrix` when its module is evaluated, and polyfills it in Node from the native
 * `@napi-rs/canvas` package, which the chunk function does not ship (it only reads text; it never renders).
 * This module installs a small 2-D `DOMMatrix` first. Import it before anything that imports pdf.js.
 *
 * Without that package, pdf.js also prints three warnings while its module is evaluated ("Cannot load
 * @napi-rs/canvas", "Cannot polyfill ImageData / Path2D, rendering may be broken"): true, harmless for text, and
 * repeated in the logs for every document, since each extraction worker loads pdf.js. This module drops exactly those
 * messages until `pdfjsLoaded()` is called (pdf-text.ts does, right after importing pdf.js); all other output passes.
 */

type Init = readonly number[];

class DOMMatrix2D {
  a = 1;
  b = 0;
  c = 0;
  d = 1;
  e = 0;
  f = 0;
  readonly is2D = true;

  constructor(init?: Init) {
    if (init === undefined) return;
    if (init.length !== 6) throw new TypeError("This DOMMatrix polyfill supports 2-D matrices [a, b, c, d, e, f] only");
    [this.a, this.b, this.c, this.d, this.e, this.f] = init as [number, number, number, number, number, number];
  }

  get isIdentity(): boolean {
    return this.a === 1 && this.b === 0 && this.c === 0 && this.d === 1 && this.e === 0 && this.f === 0;
  }

  /** this = this × other */
  multiplySelf(other: DOMMatrix2D): this {
    return this.set(product(this, other));
  }

  /** this = other × this */
  preMultiplySelf(other: DOMMatrix2D): this {
    return this.set(product(other, this));
  }

  multiply(other: DOMMatrix2D): DOMMatrix2D {
    return new DOMMatrix2D(product(this, other));
  }

  translate(tx = 0, ty = 0): DOMMatrix2D {
    return this.multiply(new DOMMatrix2D([1, 0, 0, 1, tx, ty]));
  }

  scale(sx = 1, sy = sx): DOMMatrix2D {
    return this.multiply(new DOMMatrix2D([sx, 0, 0, sy, 0, 0]));
  }

  invertSelf(): this {
    const det = this.a * this.d - this.b * this.c;
    if (det === 0 || !Number.isFinite(det)) return this.set([NaN, NaN, NaN, NaN, NaN, NaN]);
    return this.set([
      this.d / det,
      -this.b / det,
      -this.c / det,
      this.a / det,
      (this.c * this.f - this.d * this.e) / det,
      (this.b * this.e - this.a * this.f) / det,
    ]);
  }

  inverse(): DOMMatrix2D {
    return new DOMMatrix2D([this.a, this.b, this.c, this.d, this.e, this.f]).invertSelf();
  }

  private set(values: Init): this {
    [this.a, this.b, this.c, this.d, this.e, this.f] = values as [number, number, number, number, number, number];
    return this;
  }
}

function product(left: DOMMatrix2D, right: DOMMatrix2D): Init {
  return [
    left.a * right.a + left.c * right.b,
    left.b * right.a + left.d * right.b,
    left.a * right.c + left.c * right.d,
    left.b * right.c + left.d * right.d,
    left.a * right.e + left.c * right.f + left.e,
    left.b * right.e + left.d * right.f + left.f,
  ];
}

const scope = globalThis as { DOMMatrix?: unknown };
scope.DOMMatrix ??= DOMMatrix2D;

const RENDERING_ONLY_WARNINGS = [
  /^Warning: Cannot load "@napi-rs\/canvas" package/,
  /^Warning: Cannot polyfill `(?:ImageData|Path2D)`/,
];
const consoleWarn = console.warn;
let filtering = true;
console.warn = (...args: unknown[]): void => {
  const [first] = args;
  if (filtering && typeof first === "string" && RENDERING_ONLY_WARNINGS.some((warning) => warning.test(first))) return;
  consoleWarn.apply(console, args);
};

/** pdf.js has been evaluated: stop filtering its load-time warnings (see the module comment). */
export function pdfjsLoaded(): void {
  if (!filtering) return;
  filtering = false;
  console.warn = consoleWarn;
}

export { DOMMatrix2D };
