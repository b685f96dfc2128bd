/**
 * A reader for JavaScript *literal* values as a minifier prints them (`{a:!0,b:.5,"c":[1e-3,null]}`),
 * so bundled data files (nsfwjs ships model.json as a browserify module) can be read without
 * evaluating their code. Only literals are accepted: any identifier other than a key, any call or
 * operator other than `-`/`!0`/`!1`/`void 0` is an error naming its offset.
 */

export type JsLiteral = null | undefined | boolean | number | string | JsLiteral[] | { [key: string]: JsLiteral };

/** Thrown when the text is not a literal this reader understands. */
export class JsLiteralError extends Error {
  override name = 'JsLiteralError';
}

/**
 * Parses one literal starting at `start` (after optional whitespace).
 * Returns the value and the offset just past it, so callers can check what follows.
 */
export function parseJsLiteral(text: string, start = 0): { value: JsLiteral; end: number } {
  const reader = new LiteralReader(text, start);
  const value = reader.value();
  return { value, end: reader.pos };
}

const IDENT_START = /[A-Za-z_$]/;
const IDENT_PART = /[A-Za-z0-9_$]/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;

class LiteralReader {
  pos: number;

  constructor(
    private readonly text: string,
    start: number,
  ) {
    this.pos = start;
  }

  value(): JsLiteral {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"' || c === "'") return this.string();
    if (c === '!') {
      // Minifiers write true/false as !0/!1.
      const next = this.text[this.pos + 1];
      if (next === '0' || next === '1') {
        this.pos += 2;
        return next === '0';
      }
      throw this.fail('only !0 and !1 are accepted after "!"');
    }
    if (c === '-' || c === '+') {
      this.pos++;
      const v = this.value();
      if (typeof v !== 'number') throw this.fail(`"${c}" must be followed by a number`);
      return c === '-' ? -v : v;
    }
    if (c !== undefined && /[0-9.]/.test(c)) return this.number();
    if (c !== undefined && IDENT_START.test(c)) {
      const word = this.identifier();
      switch (word) {
        case 'null':
          return null;
        case 'true':
          return true;
        case 'false':
          return false;
        case 'Infinity':
          return Infinity;
        case 'NaN':
          return NaN;
        case 'void':
          this.skipSpace();
          if (this.text[this.pos] === '0') {
            this.pos++;
            return undefined;
          }
          throw this.fail('only "void 0" is accepted');
      }
      throw this.fail(`"${word}" is code, not a literal`);
    }
    throw this.fail(c === undefined ? 'unexpected end of text' : `unexpected "${c}"`);
  }

  private object(): { [key: string]: JsLiteral } {
    this.pos++; // {
    const out: { [key: string]: JsLiteral } = {};
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return out;
      }
      const key = this.key();
      this.skipSpace();
      this.expect(':');
      // defineProperty so a "__proto__" key in the data stays data.
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') throw this.fail('expected "," or "}" in object');
    }
  }

  private key(): string {
    const c = this.text[this.pos];
    if (c === '"' || c === "'") return this.string();
    if (c !== undefined && IDENT_START.test(c)) return this.identifier();
    if (c !== undefined && /[0-9.]/.test(c)) return String(this.number());
    throw this.fail('expected an object key');
  }

  private array(): JsLiteral[] {
    this.pos++; // [
    const out: JsLiteral[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === ']') {
        this.pos++;
        return out;
      }
      out.push(this.value());
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== ']') throw this.fail('expected "," or "]" in array');
    }
  }

  private string(): string {
    const quote = this.text[this.pos]!;
    const begin = ++this.pos;
    // Fast path: long base64 strings have no escapes, so slice them in one go.
    const close = this.text.indexOf(quote, begin);
    if (close < 0) throw this.fail('unterminated string');
    const plain = this.text.slice(begin, close);
    if (!plain.includes('\\') && !plain.includes('\n')) {
      this.pos = close + 1;
      return plain;
    }
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') throw this.fail('unterminated string');
      this.pos++;
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      out += this.escape();
    }
  }

  private escape(): string {
    const c = this.text[this.pos++];
    switch (c) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        return '\0';
      case 'x':
        return this.hexChar(2);
      case 'u':
        if (this.text[this.pos] === '{') {
          const close = this.text.indexOf('}', this.pos);
          const code = parseInt(this.text.slice(this.pos + 1, close), 16);
          if (close < 0 || Number.isNaN(code)) throw this.fail('bad \\u{...} escape');
          this.pos = close + 1;
          return String.fromCodePoint(code);
        }
        return this.hexChar(4);
      case '\n':
        return '';
      case undefined:
        throw this.fail('unterminated string');
      default:
        return c;
    }
  }

  private hexChar(digits: number): string {
    const hex = this.text.slice(this.pos, this.pos + digits);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== digits) throw this.fail('bad hex escape');
    this.pos += digits;
    return String.fromCharCode(parseInt(hex, 16));
  }

  private number(): number {
    const m = NUMBER.exec(this.text.slice(this.pos, this.pos + 64));
    if (!m) throw this.fail('bad number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private identifier(): string {
    const begin = this.pos;
    while (this.pos < this.text.length && IDENT_PART.test(this.text[this.pos]!)) this.pos++;
    return this.text.slice(begin, this.pos);
  }

  private expect(c: string): void {
    if (this.text[this.pos] !== c) throw this.fail(`expected "${c}"`);
    this.pos++;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private fail(why: string): JsLiteralError {
    const around = this.text.slice(Math.max(0, this.pos - 30), this.pos + 30).replace(/\s+/g, ' ');
    return new JsLiteralError(`not a plain JS literal at offset ${this.pos} (${why}): …${around}…`);
  }
}
