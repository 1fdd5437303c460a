/**
 * Reads a policy document from its JSON text, so that a refusal names the line: a syntax error
 * gives the line of the offending character, a validation error the line of the key it concerns.
 * Duplicate keys are refused (JSON.parse would silently keep the last one, so a reviewer reading
 * the first could approve something else). Text is limited to 1 MiB.
 *
 * @example
 *   try { parsePolicyText(readFileSync(file, 'utf8')); }
 *   catch (e) { console.error(e.message); } // "line 12, $.limits.default.perAsset.ETH.dailyCap: unknown key"
 */
import { CustosError } from '../core/errors.js';
import { parsePolicy, type Policy } from './document.js';
import { PolicyInvalidError } from './schema.js';

export const MAX_POLICY_TEXT = 1 << 20;

/** Line of every path in valid JSON text (the line of its key, or of the value for array items and the root). */
export function pathLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let i = 0;
  let line = 1;
  const ws = () => {
    while (i < text.length) {
      const c = text[i];
      if (c === '\n') line += 1;
      else if (c !== ' ' && c !== '\t' && c !== '\r') break;
      i += 1;
    }
  };
  const str = (): string => {
    const start = i;
    i += 1;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i += 1;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string, depth: number): void => {
    if (depth > 64) throw new PolicyInvalidError(path, 'is nested too deeply', line);
    ws();
    if (!lines.has(path)) lines.set(path, line);
    const c = text[i];
    if (c === '{') {
      i += 1;
      const keys = new Set<string>();
      ws();
      if (text[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        const keyLine = line;
        const k = str();
        const p = `${path}.${k}`;
        if (keys.has(k)) throw new PolicyInvalidError(p, 'duplicate key', keyLine);
        keys.add(k);
        lines.set(p, keyLine);
        ws();
        i += 1; // ':'
        value(p, depth + 1);
        ws();
        if (text[i++] === ',') continue;
        return; // '}'
      }
    } else if (c === '[') {
      i += 1;
      ws();
      if (text[i] === ']') {
        i += 1;
        return;
      }
      for (let n = 0; ; n += 1) {
        value(`${path}[${n}]`, depth + 1);
        ws();
        if (text[i++] === ',') continue;
        return; // ']'
      }
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && !',]}'.includes(text[i]!) && !/\s/.test(text[i]!)) i += 1;
    }
  };
  value('$', 0);
  return lines;
}

function lineAt(text: string, position: number): number {
  let line = 1;
  for (let i = 0; i < position && i < text.length; i++) if (text[i] === '\n') line += 1;
  return line;
}

/** The line of the path, or of its nearest ancestor present in the text (for missing keys). */
function lineOf(lines: Map<string, number>, path: string): number | null {
  for (let p = path; p.length > 0; p = p.replace(/(\.[^.[]*|\[\d+\])$/, '')) {
    const l = lines.get(p);
    if (l !== undefined) return l;
    if (p === '$') break;
  }
  return null;
}

export function parsePolicyText(text: string): { policy: Policy; document: unknown } {
  if (typeof text !== 'string' || text.length > MAX_POLICY_TEXT) {
    throw new CustosError('policy_too_large', `a policy document may be at most ${MAX_POLICY_TEXT} characters`, 413);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : 'invalid JSON';
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? lineAt(text, Number(pos[1])) : null;
    throw new CustosError('policy_syntax', `${line === null ? '' : `line ${line}: `}the policy is not valid JSON (${msg})`, 422, line === null ? {} : { line });
  }
  const lines = pathLines(text);
  try {
    return { policy: parsePolicy(document), document };
  } catch (e) {
    if (e instanceof PolicyInvalidError) throw new PolicyInvalidError(e.path, e.reason, lineOf(lines, e.path));
    throw e;
  }
}
