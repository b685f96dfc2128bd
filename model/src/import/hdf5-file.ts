/**
 * Read-only access to an HDF5 file, on h5wasm (the HDF5 C library compiled to WebAssembly, which
 * reads the host file system under Node). The only module that imports h5wasm; it offers just what
 * the Keras readers need: attributes, group members and float datasets.
 */
import { open } from 'node:fs/promises';
import h5wasm, { type File as H5File } from 'h5wasm/node';
import { halfArrayToFloat32 } from '../preprocess/float16.ts';

/** A file that is not HDF5, or an HDF5 object that is not what the reader expected. */
export class Hdf5Error extends Error {
  override name = 'Hdf5Error';
}

/** HDF5's format signature; the superblock sits at 0 or after a user block of 512 × 2^n bytes. */
const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const SIGNATURE_OFFSETS = [0, 512, 1024, 2048, 4096];

/** True when the file carries the HDF5 signature (h5wasm itself "opens" any file and fails later). */
export async function isHdf5(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(SIGNATURE_OFFSETS.at(-1)! + SIGNATURE.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return SIGNATURE_OFFSETS.some((o) => o + SIGNATURE.length <= bytesRead && head.subarray(o, o + SIGNATURE.length).equals(SIGNATURE));
  } finally {
    await handle.close();
  }
}

export interface FloatDataset {
  shape: number[];
  values: Float32Array;
}

type Entity = ReturnType<H5File['get']>;

export class Hdf5File {
  private constructor(
    private readonly file: H5File,
    /** The path shown in errors. */
    readonly path: string,
  ) {}

  /**
   * Opens `path` read-only; an Hdf5Error says so when it is not an HDF5 file.
   * @param shownAs the name errors use (e.g. the archive a temporary copy came from)
   */
  static async open(path: string, shownAs = path): Promise<Hdf5File> {
    if (!(await isHdf5(path))) throw new Hdf5Error(`${shownAs} is not an HDF5 file (no HDF5 signature)`);
    await h5wasm.ready;
    const file = new h5wasm.File(path, 'r');
    if (Number(file.file_id) < 0) throw new Hdf5Error(`${shownAs}: the HDF5 library cannot open it`);
    return new Hdf5File(file, shownAs);
  }

  private entity(objPath: string): Entity {
    return objPath === '' || objPath === '/' ? this.file : this.file.get(objPath);
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
    if (!(g instanceof h5wasm.Group)) throw new Hdf5Error(`${this.path}: "${groupPath}" is not a group`);
    return g.keys();
  }

  /** An attribute's value as h5wasm decodes it (strings, arrays, numbers), or undefined. */
  attr(objPath: string, name: string): unknown {
    const e = this.entity(objPath);
    if (e === null || !('attrs' in e)) return undefined;
    const a = e.attrs[name];
    return a === undefined ? undefined : a.value;
  }

  /** A float dataset (float16/32/64 stored) as float32 values with its shape. */
  readFloats(objPath: string): FloatDataset {
    const d = this.entity(objPath);
    if (!(d instanceof h5wasm.Dataset)) throw new Hdf5Error(`${this.path}: "${objPath}" is not a dataset`);
    const shape = d.shape ?? [];
    const { type, size, littleEndian } = d.metadata;
    // h5wasm type 1 is H5T_FLOAT; it hands back float16 as raw bytes.
    if (type !== 1 || !littleEndian) throw new Hdf5Error(`${this.path}: dataset "${objPath}" is ${d.dtype}, not little-endian floats`);
    const raw = d.value;
    let values: Float32Array;
    if (size === 4 && raw instanceof Float32Array) values = raw;
    else if (size === 8 && raw instanceof Float64Array) values = Float32Array.from(raw);
    else if (size === 2 && raw instanceof Uint8Array) values = halfArrayToFloat32(new Uint16Array(raw.slice().buffer));
    else throw new Hdf5Error(`${this.path}: dataset "${objPath}" has an unreadable float type ${d.dtype}`);
    return { shape, values };
  }

  close(): void {
    this.file.close();
  }
}
