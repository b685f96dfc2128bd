/** What reading an HDF5 file can fail with, shared by the HDF5 thread and the import that asks it. */

/** A file that is not HDF5, or an HDF5 object that is not what the reader expected. */
export class Hdf5Error extends Error {
  override name = 'Hdf5Error';
}

/** The HDF5 library failed inside the file, or never finished with it: it is truncated or corrupt. */
export class Hdf5DamageError extends Hdf5Error {
  override name = 'Hdf5DamageError';

  constructor(
    /** The path shown in errors. */
    readonly file: string,
    /** The library's own reason (one line, without its source locations), or how long it hung. */
    readonly reason: string,
  ) {
    super(`${file} is truncated or corrupt: the HDF5 library cannot read it (${reason})`);
  }
}

export interface FloatDataset {
  shape: number[];
  values: Float32Array;
}

/** One call on an open HDF5 file. */
export type Hdf5Call =
  | { op: 'open'; path: string; shownAs: string }
  | { op: 'has' | 'isGroup' | 'keys' | 'readFloats'; objPath: string }
  | { op: 'attr'; objPath: string; name: string }
  | { op: 'close' };

/** A call as the HDF5 thread gets it: about the file it opened under the number `file`; `seq` numbers the calls. */
export type Hdf5Request = { file: number; seq: number } & Hdf5Call;

/**
 * A failure crosses the thread as data; the asking side makes the same error class of it again.
 * `trap`: the WebAssembly runtime itself failed (an abort, an out-of-bounds access), which only a
 * damaged file causes, so it is reported as damage to that file.
 */
export type Hdf5Failure = { kind: 'damage'; file: string; reason: string } | { kind: 'hdf5' | 'trap' | 'other'; message: string };

export type Hdf5Reply = { seq: number } & ({ ok: true; value: unknown } | { ok: false; failure: Hdf5Failure });

export function failureOf(err: unknown): Hdf5Failure {
  if (err instanceof Hdf5DamageError) return { kind: 'damage', file: err.file, reason: err.reason };
  if (err instanceof Hdf5Error) return { kind: 'hdf5', message: err.message };
  // WebAssembly.RuntimeError, which the compiled library's types do not declare.
  if (err instanceof Error && err.name === 'RuntimeError') return { kind: 'trap', message: err.message };
  return { kind: 'other', message: err instanceof Error ? err.message : String(err) };
}

/** The error a failure stands for; a trap reads as damage to `file`, what a damaged file causes. */
export function errorOf(failure: Hdf5Failure, file: string, during: string): Error {
  if (failure.kind === 'damage') return new Hdf5DamageError(failure.file, failure.reason);
  if (failure.kind === 'hdf5') return new Hdf5Error(failure.message);
  if (failure.kind === 'trap') return new Hdf5DamageError(file, `the library crashed ${during}: ${failure.message}`);
  return new Error(failure.message);
}
