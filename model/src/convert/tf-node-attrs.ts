/**
 * Typed access to GraphDef node attributes in TF.js's protobuf-JSON form (strings are base64,
 * int64 values are decimal strings), failing with the node named.
 */
import { layerError } from './conversion-error.ts';
import type { TfAttrValue, TfNodeDef } from './tfjs-model-json.ts';

export class NodeAttrs {
  constructor(private readonly node: TfNodeDef) {}

  fail(why: string): Error {
    return layerError(this.node.name, this.node.op, why);
  }

  has(key: string): boolean {
    return this.node.attr?.[key] !== undefined;
  }

  private get(key: string): TfAttrValue | undefined {
    return this.node.attr?.[key];
  }

  str(key: string, fallback?: string): string {
    const v = this.get(key);
    if (v?.s !== undefined) return Buffer.from(v.s, 'base64').toString('utf8');
    if (fallback !== undefined) return fallback;
    throw this.fail(`attribute "${key}" (string) is missing`);
  }

  strList(key: string): string[] {
    return (this.get(key)?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
  }

  int(key: string, fallback?: number): number {
    const v = this.get(key)?.i;
    if (v !== undefined) return Number(v);
    if (fallback !== undefined) return fallback;
    throw this.fail(`attribute "${key}" (int) is missing`);
  }

  intList(key: string, fallback?: number[]): number[] {
    const v = this.get(key)?.list?.i;
    if (v !== undefined) return v.map(Number);
    if (fallback !== undefined) return fallback;
    throw this.fail(`attribute "${key}" (list of ints) is missing`);
  }

  float(key: string, fallback?: number): number {
    const v = this.get(key)?.f;
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    throw this.fail(`attribute "${key}" (float) is missing`);
  }

  bool(key: string, fallback: boolean): boolean {
    return this.get(key)?.b ?? fallback;
  }

  /** Placeholder shape; -1 (unknown) becomes null. */
  shape(key: string): (number | null)[] {
    const dims = this.get(key)?.shape?.dim;
    if (!dims) throw this.fail(`attribute "${key}" (shape) is missing`);
    return dims.map((d) => {
      const n = Number(d.size ?? -1);
      return n < 0 ? null : n;
    });
  }

  /** Image ops must be NHWC: TF.js runs graph models channels-last. */
  requireNhwc(): void {
    const f = this.str('data_format', 'NHWC');
    if (f !== 'NHWC') throw this.fail(`data_format ${f} is not supported (only NHWC)`);
  }
}
