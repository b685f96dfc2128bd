/**
 * Read-only access to an HDF5 file, on h5wasm (the HDF5 C library compiled to WebAssembly, which
 * reads the host file system under Node). The only module that imports h5wasm; it runs on the HDF5
 * thread (hdf5-thread.ts), never on the import's own thread: a damaged file can keep the library busy
 * for seconds, and only a call made on another thread can be given up.
 */
import h5wasm, { type File as H5File, type Metadata } from 'h5wasm/node';
import { halfArrayToFloat32 } from '../preprocess/float16.ts';
import { Hdf5DamageError, Hdf5Error, type FloatDataset } from './hdf5-errors.ts';

type Library = Awaited<typeof h5wasm.ready>;
let library: Promise<Library> | undefined;

/**
 * h5wasm's default HDF5 error handler writes the C library's whole error stack (20 to 150
 * "HDF5-DIAG" lines) straight to the process's stderr, and the call then returns as if nothing were
 * wrong. Its throwing handler puts that text in a thrown Error instead, which `libraryCall` turns
 * into one line. It is process-wide, and this is the only module that uses h5wasm.
 */
function hdf5Library(): Promise<Library> {
  library ??= h5wasm.ready.then((lib) => {
    if (lib.activate_throwing_error_handler() < 0) throw new Error('h5wasm could not install its throwing HDF5 error handler');
    return lib;
  });
  return library;
}

/** The innermost frame of HDF5's error stack says what is actually wrong; the outer ones repeat "open failed". */
function hdf5Reason(stack: string): string {
  const frames = [...stack.matchAll(/^\s*#\d+: .* in \w+\(\): (.+)$/gm)];
  const innermost = frames.at(-1)?.[1]?.trim();
  return innermost || stack.trim().split('\n').at(-1)!.trim();
}

/** Runs an h5wasm call; an HDF5 error stack it throws becomes an Hdf5DamageError naming `file`. */
function libraryCall<T>(file: string, call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('HDF5-DIAG')) throw new Hdf5DamageError(file, hdf5Reason(err.message));
    throw err;
  }
}

type Entity = ReturnType<H5File['get']>;

export class Hdf5Reader {
  private constructor(
    private readonly lib: Library,
    private readonly file: H5File,
    /** The path shown in errors. */
    readonly path: string,
  ) {}

  /**
   * Opens `path` read-only (its signature already checked); an Hdf5DamageError when the library
   * cannot read it.
   * @param shownAs the name errors use (e.g. the archive a temporary copy came from)
   */
  static async open(path: string, shownAs = path): Promise<Hdf5Reader> {
    const lib = await hdf5Library();
    const file = libraryCall(shownAs, () => new h5wasm.File(path, 'r'));
    if (Number(file.file_id) < 0) throw new Hdf5DamageError(shownAs, 'the file cannot be opened');
    return new Hdf5Reader(lib, file, shownAs);
  }

  private entity(objPath: string): Entity {
    return objPath === '' || objPath === '/' ? this.file : libraryCall(this.path, () => this.file.get(objPath));
  }

  has(objPath: string): boolean {
    return this.entity(objPath) !== null;
  }

  isGroup(objPath: string): boolean {
    return this.entity(objPath) instanceof h5wasm.Group;
  }

  /** Member names of a group, in HDF5's (alphabetical) order. */
  keys(groupPath: string): string[] {
    const g = this.entity(groupPath);
    // Asked only for what the file's own index names as a group: anything else there is damage.
    if (!(g instanceof h5wasm.Group)) throw new Hdf5DamageError(this.path, `"${groupPath}" is not a group`);
    return libraryCall(this.path, () => g.keys());
  }

  /** An attribute's value as h5wasm decodes it (strings, arrays, numbers), or undefined. */
  attr(objPath: string, name: string): unknown {
    const e = this.entity(objPath);
    if (e === null || !('attrs' in e)) return undefined;
    return libraryCall(this.path, () => {
      const a = e.attrs[name];
      if (a === undefined) return undefined;
      if (a.metadata.vlen) this.checkVlenAttribute(e.path, name, a.metadata);
      return a.value;
    });
  }

  /**
   * h5wasm reads a variable-length attribute (a string, typically) into an uninitialised buffer and
   * then frees what that buffer points to even when the read failed: in a damaged file that frees
   * garbage, which aborts the WebAssembly runtime (an "Aborted()" line on stderr, and a heap no later
   * import can trust). Reading it first into a zeroed buffer, whose strings are freed only after a
   * read that succeeded, turns the damage into a thrown HDF5 error before h5wasm reads it.
   */
  private checkVlenAttribute(objPath: string, name: string, metadata: Metadata): void {
    const { lib } = this;
    const bytes = metadata.size * metadata.total_size;
    const buffer = lib._malloc(bytes);
    if (buffer === 0) throw new Hdf5Error(`${this.path}: no memory for attribute "${name}" of "${objPath}" (${bytes} bytes)`);
    try {
      lib.HEAPU8.fill(0, buffer, buffer + bytes);
      lib.get_attribute_data(this.file.file_id, objPath, name, BigInt(buffer));
      lib.reclaim_vlen_memory(this.file.file_id, objPath, name, BigInt(buffer));
    } finally {
      lib._free(buffer);
    }
  }

  /** A float dataset (float16/32/64 stored) as float32 values with its shape. */
  readFloats(objPath: string): FloatDataset {
    const d = this.entity(objPath);
    // Asked only for what the file's own index names as a weight: anything else there is damage.
    if (!(d instanceof h5wasm.Dataset)) throw new Hdf5DamageError(this.path, `"${objPath}" is not a dataset`);
    const shape = libraryCall(this.path, () => d.shape) ?? [];
    const { type, size, littleEndian } = libraryCall(this.path, () => d.metadata);
    // h5wasm type 1 is H5T_FLOAT; it hands back float16 as raw bytes.
    if (type !== 1 || !littleEndian) throw new Hdf5Error(`${this.path}: dataset "${objPath}" is ${d.dtype}, not little-endian floats`);
    const raw = libraryCall(this.path, () => d.value);
    let values: Float32Array;
    if (size === 4 && raw instanceof Float32Array) values = raw;
    else if (size === 8 && raw instanceof Float64Array) values = Float32Array.from(raw);
    else if (size === 2 && raw instanceof Uint8Array) values = halfArrayToFloat32(new Uint16Array(raw.slice().buffer));
    else throw new Hdf5Error(`${this.path}: dataset "${objPath}" has an unreadable float type ${d.dtype}`);
    return { shape, values };
  }

  close(): void {
    libraryCall(this.path, () => this.file.close());
  }
}
