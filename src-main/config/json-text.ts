/**
 * JSON text from a file a person wrote (configs, profiles): a syntax error names the line and
 * column, not a character offset, since that is what an editor shows. V8 parses; only when it
 * fails does a small scanner walk the text again to find where, because V8's messages give an
 * offset for some errors, none for others ("Unexpected token '}', ... is not valid JSON").
 */

/** Where JSON text stops being JSON, and why (null when it parses). */
export interface JsonSyntaxProblem {
  /** 1-based line and column (in UTF-16 code units, as editors count them). */
  line: number;
  column: number;
  what: string;
}

/** Parses `text`; throws an Error whose message is `line L, column C: what` on a syntax error. */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const p = findJsonSyntaxProblem(text) ?? fromV8Message(text, (err as Error).message);
    throw new Error(`line ${p.line}, column ${p.column}: ${p.what}`, { cause: err });
  }
}

/** The line and column of offset `pos` in `text`. */
export function lineColumn(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(Math.max(0, pos), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: end - start + 1 };
}

function fromV8Message(text: string, message: string): JsonSyntaxProblem {
  const m = /at position (\d+)/.exec(message);
  const pos = m ? Number(m[1]) : text.length;
  return { ...lineColumn(text, pos), what: message.replace(/ in JSON at position \d+.*$/, '') };
}

class Stop extends Error {
  constructor(
    readonly pos: number,
    readonly what: string,
  ) {
    super(what);
  }
}

/** The first syntax error in `text` after RFC 8259, or null when there is none. */
export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | null {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const shown = (c: string | undefined): string =>
    c === undefined ? 'the end of the file' : c === '\uFEFF' ? 'a byte order mark' : JSON.stringify(c);
  function fail(what: string): never {
    throw new Stop(i, what);
  }
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${shown(text[i])}: expected a value`);
  };
  const string = (): void => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated string');
      if (c === '"') {
        i++;
        return;
      }
      if (c.charCodeAt(0) < 0x20) fail(c === '\n' ? 'line break inside a string (write \\n)' : 'control character inside a string');
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape: expected 4 hex digits');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail(`bad escape \\${e ?? ''}`);
        i += 2;
        continue;
      }
      i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') fail(`unexpected ${shown(text[i])}: expected a value`);
    i += m[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 512) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(text[i] === '}' ? "a ',' before '}' (trailing commas are not JSON)" : 'expected a "quoted" member name');
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':' after the member name, found ${shown(text[i])}`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected ',' or '}' after a member, found ${shown(text[i])}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] === ']') fail("a ',' before ']' (trailing commas are not JSON)");
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected ',' or ']' after an element, found ${shown(text[i])}`);
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail(c === undefined ? 'unexpected end of the file: expected a value' : `unexpected ${shown(c)}: expected a value`);
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail(`unexpected ${shown(text[i])} after the end of the JSON value`);
    return null;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    return { ...lineColumn(text, e.pos), what: e.what };
  }
}
