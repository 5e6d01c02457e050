// One evaluation of a loaded policy on input that is already JSON text, through the module's own
// one-call ABI export (`opa_eval`, ABI 1.2 and later, which every OPA 1.x build has).
//
// Why not LoadedPolicy.evaluate: on text input it wants an ArrayBuffer, so the caller encodes the text
// into a fresh buffer that evaluate then copies into linear memory, and it reads the result with a new
// TextDecoder and a byte-by-byte scan for the terminating NUL. Here the text is encoded straight into
// linear memory and the result decoded by one decoder kept for the instance's life: 0.4-0.6 µs of a
// ~8 µs decision on the bench's input (bench/README.md, "The evaluated policy decision and its p99").
// A module older than ABI 1.2 keeps going through LoadedPolicy.evaluate.
import type * as opaWasm from '@open-policy-agent/opa-wasm';

const WASM_PAGE = 64 * 1024;
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** The parts of opa-wasm's LoadedPolicy the one-call path uses (set by its constructor and setData). */
interface LoadedPolicyInternals {
  readonly minorVersion: number;
  readonly mem: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly dataAddr: number;
  readonly dataHeapPtr: number;
  readonly wasmInstance: { readonly exports: Record<string, unknown> };
}

type OpaEval = (
  reserved: number,
  entrypoint: number,
  dataAddr: number,
  inputAddr: number,
  inputLen: number,
  heapPtr: number,
  format: number,
) => number;

export class TextEvaluation {
  readonly #policy: opaWasm.LoadedPolicy;
  readonly #internals: LoadedPolicyInternals;
  readonly #opaEval: OpaEval | null;
  /** A byte view of linear memory, remade only when the memory grows (growing detaches the old buffer). */
  #bytes: Uint8Array;

  constructor(policy: opaWasm.LoadedPolicy) {
    this.#policy = policy;
    this.#internals = policy as unknown as LoadedPolicyInternals;
    const opaEval = this.#internals.wasmInstance.exports.opa_eval;
    this.#opaEval =
      this.#internals.minorVersion >= 2 && typeof opaEval === 'function' ? (opaEval as OpaEval) : null;
    this.#bytes = new Uint8Array(this.#internals.mem.buffer);
  }

  /** The result set of `entrypoint` on the JSON text `text` (the caller checks its shape). Throws on a trap. */
  evaluate(text: string, entrypoint: number): unknown {
    const opaEval = this.#opaEval;
    if (opaEval === null) return this.#policy.evaluate(ENCODER.encode(text).buffer, entrypoint);
    const p = this.#internals;
    // The input goes where opa-wasm puts it: right after the data, below the evaluation's own heap.
    const inputAddr = p.dataHeapPtr;
    let bytes = this.#view();
    const first = ENCODER.encodeInto(text, bytes.subarray(inputAddr));
    let written = first.written;
    if (first.read < text.length) {
      // It did not fit. UTF-8 needs at most 3 bytes per UTF-16 code unit: grow for the worst case of
      // the whole text and encode again (rare: only for inputs near the size of the memory).
      const missing = inputAddr + text.length * 3 - bytes.byteLength;
      p.mem.grow(Math.ceil(missing / WASM_PAGE));
      bytes = this.#view();
      written = ENCODER.encodeInto(text, bytes.subarray(inputAddr)).written;
    }
    const resultAddr = opaEval(0, entrypoint, p.dataAddr, inputAddr, written, inputAddr + written, 0);
    // The evaluation may have grown the memory.
    return readJsonAt(this.#view(), resultAddr);
  }

  #view(): Uint8Array {
    const buffer = this.#internals.mem.buffer;
    if (this.#bytes.buffer !== buffer) this.#bytes = new Uint8Array(buffer);
    return this.#bytes;
  }
}

/** The NUL-terminated JSON text the module wrote at `addr` (its opa_json_dump and opa_eval results), parsed. */
export function readJsonAt(bytes: Uint8Array, addr: number): unknown {
  const end = bytes.indexOf(0, addr);
  if (end < 0) throw new Error('policy module output is not NUL-terminated');
  return JSON.parse(DECODER.decode(bytes.subarray(addr, end)));
}
