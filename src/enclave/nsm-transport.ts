/**
 * How the Nitro runtime reaches the Nitro Secure Module. The NSM is a device, `/dev/nsm`, driven by
 * one ioctl (`NSM_IOCTL_REQUEST`) whose argument is `{ struct iovec request; struct iovec
 * response; }`: CBOR in, CBOR out. Node.js cannot issue an ioctl, so `nsmHelperTransport` runs
 * the small native helper shipped in the enclave image (`nsm-helper.c` in this folder) once and
 * exchanges length-prefixed frames with it over its stdin/stdout:
 *
 *   request  u32 BE length (1..4096) ‖ CBOR request
 *   response u8 status ‖ u32 BE length ‖ bytes   (status 0: CBOR response ≤ 12288 bytes;
 *                                                   status 1: UTF-8 error message ≤ 1024 bytes)
 *
 * One request is in flight at a time (the NSM answers in order); a helper that exits, answers out
 * of frame or takes longer than `timeoutMs` fails every pending request with `enclave_nsm` and is
 * started again for the next one.
 *
 * @example
 *   const nsm = nsmHelperTransport({ command: '/opt/custos/nsm-helper' });
 *   const enclave = await NitroEnclave.open({ nsm });
 */
import { spawn as nodeSpawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { AttestationError } from './errors.js';
import type { NsmTransport } from './nitro-enclave.js';

export const NSM_DEVICE = '/dev/nsm';
export const NSM_REQUEST_MAX = 0x1000;
export const NSM_RESPONSE_MAX = 0x3000;
const ERROR_MAX = 1024;

/**
 * Linux `_IOWR(type, nr, size)` (asm-generic/ioctl.h: dir in bits 30-31 = read|write, size in
 * 16-29, type in 8-15, nr in 0-7).
 */
export function ioctlReadWrite(type: number, nr: number, size: number): number {
  if (!(type >= 0 && type <= 0xff && nr >= 0 && nr <= 0xff && size >= 0 && size < 1 << 14)) throw new RangeError('ioctl field out of range');
  return (((3 << 30) | (size << 16) | (type << 8) | nr) >>> 0);
}

/** `_IOWR(0x0A, 0, struct nsm_message)`, the message being two 16-byte iovecs on 64-bit Linux: 0xC0200A00. */
export const NSM_IOCTL_REQUEST = ioctlReadWrite(0x0a, 0, 32);

/** The request frame for the helper: u32 BE length ‖ request. */
export function encodeHelperRequest(request: Uint8Array): Uint8Array {
  if (request.length === 0 || request.length > NSM_REQUEST_MAX) throw new AttestationError('enclave_nsm', `NSM request must be 1 to ${NSM_REQUEST_MAX} bytes`);
  const out = new Uint8Array(4 + request.length);
  new DataView(out.buffer).setUint32(0, request.length);
  out.set(request, 4);
  return out;
}

export type HelperFrame = { ok: true; body: Uint8Array } | { ok: false; message: string };

/** Splits the helper's stdout into frames; a frame out of bounds is an `enclave_nsm` error. */
export class HelperFrameReader {
  private buffer = new Uint8Array(0);

  push(chunk: Uint8Array): HelperFrame[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    const frames: HelperFrame[] = [];
    for (;;) {
      if (this.buffer.length < 5) break;
      const status = this.buffer[0]!;
      const len = new DataView(this.buffer.buffer, this.buffer.byteOffset).getUint32(1);
      if (status > 1) throw new AttestationError('enclave_nsm', `the NSM helper answered with unknown status ${status}`);
      if (len > (status === 0 ? NSM_RESPONSE_MAX : ERROR_MAX)) throw new AttestationError('enclave_nsm', 'the NSM helper answered with an oversized frame');
      if (this.buffer.length < 5 + len) break;
      const body = this.buffer.slice(5, 5 + len);
      this.buffer = this.buffer.slice(5 + len);
      frames.push(status === 0 ? { ok: true, body } : { ok: false, message: new TextDecoder().decode(body) });
    }
    return frames;
  }

  /** Bytes received that do not make a whole frame yet. */
  get pending(): number {
    return this.buffer.length;
  }
}

export interface NsmHelperOptions {
  /** The helper binary (in the enclave image), e.g. /opt/custos/nsm-helper. */
  command: string;
  /** Its arguments (default none: it opens /dev/nsm). */
  args?: readonly string[];
  /** Per request (default 5 s). */
  timeoutMs?: number;
  /** Injected for tests; default node:child_process spawn. */
  spawn?: typeof nodeSpawn;
}

interface Pending {
  frame: Uint8Array;
  resolve: (body: Uint8Array) => void;
  reject: (err: Error) => void;
}

/** An `NsmTransport` over the helper process; `close()` stops the helper. */
export function nsmHelperTransport(options: NsmHelperOptions): NsmTransport & { close(): void } {
  const spawn = options.spawn ?? nodeSpawn;
  let child: ChildProcessWithoutNullStreams | undefined;
  let reader = new HelperFrameReader();
  let current: (Pending & { timer: NodeJS.Timeout }) | undefined;
  const queue: Pending[] = [];
  let stderr = '';

  const fail = (why: string): void => {
    const err = new AttestationError('enclave_nsm', why);
    const all = [...(current ? [current] : []), ...queue.splice(0)];
    if (current) clearTimeout(current.timer);
    current = undefined;
    const c = child;
    child = undefined;
    reader = new HelperFrameReader();
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const p of all) p.reject(err);
  };

  const start = (): ChildProcessWithoutNullStreams => {
    const c = spawn(options.command, [...(options.args ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
    stderr = '';
    c.stdout.on('data', (chunk: Buffer) => {
      if (c !== child) return;
      let frames: HelperFrame[];
      try {
        frames = reader.push(new Uint8Array(chunk));
      } catch (err) {
        fail((err as Error).message);
        return;
      }
      for (const f of frames) {
        const p = current;
        if (!p) {
          fail('the NSM helper answered without a request');
          return;
        }
        clearTimeout(p.timer);
        current = undefined;
        if (f.ok) p.resolve(f.body);
        else p.reject(new AttestationError('enclave_nsm', `the NSM helper could not complete the request: ${f.message.slice(0, 200)}`));
        next();
      }
    });
    c.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-500);
    });
    c.on('error', (err) => {
      if (c === child) fail(`the NSM helper ${options.command} could not run (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    });
    c.on('exit', (code, signal) => {
      if (c === child) fail(`the NSM helper exited (${code ?? signal})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`);
    });
    c.stdin.on('error', () => undefined); // an exited helper reports through 'exit'
    return c;
  };

  const next = (): void => {
    if (current || queue.length === 0) return;
    const p = queue.shift()!;
    if (!child) child = start();
    const timer = setTimeout(() => fail(`the NSM helper did not answer within ${options.timeoutMs ?? 5_000} ms`), options.timeoutMs ?? 5_000);
    current = { ...p, timer };
    child.stdin.write(p.frame);
  };

  const transport = (request: Uint8Array): Promise<Uint8Array> =>
    new Promise((resolve, reject) => {
      let frame: Uint8Array;
      try {
        frame = encodeHelperRequest(request);
      } catch (err) {
        reject(err as Error);
        return;
      }
      queue.push({ frame, resolve, reject });
      next();
    });
  return Object.assign(transport, {
    close() {
      const c = child;
      child = undefined;
      for (const p of [...(current ? [current] : []), ...queue.splice(0)]) p.reject(new AttestationError('enclave_nsm', 'the NSM transport is closed'));
      if (current) clearTimeout(current.timer);
      current = undefined;
      c?.stdin.end();
    },
  });
}
