/**
 * Irons out how Keras 3 writes layer config values, so the layer converters read one form:
 * dtype policies become their name (and quantized ones are refused: their weights are not plain
 * floats), `{module, class_name: "function", config: "relu"}` wrappers of built-in functions
 * become the plain name Keras 2 wrote, and a Keras 3 `hard_sigmoid` (redefined as relu6(x + 3) / 6)
 * becomes `keras3_hard_sigmoid`, so it is not computed as Keras 2's 0.2x + 0.5.
 */
import { layerError } from './conversion-error.ts';

/** Policies whose variables are stored as floats the converter can read. */
const FLOAT_POLICIES = new Set(['float32', 'float16', 'bfloat16', 'float64', 'mixed_float16', 'mixed_bfloat16']);

/** Config keys that hold a function by name. */
const FUNCTION_KEYS = ['activation', 'recurrent_activation'];

/**
 * @param keras3 the layer entry is in the Keras 3 form (it carries `module`/`registered_name`)
 */
export function normalizeLayerConfig(name: string, className: string, config: Record<string, unknown>, keras3: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if ('dtype' in out) out['dtype'] = dtypePolicyName(name, className, out['dtype']);
  for (const key of FUNCTION_KEYS) {
    if (!(key in out)) continue;
    const fn = functionName(out[key]);
    out[key] = keras3 && fn === 'hard_sigmoid' ? 'keras3_hard_sigmoid' : fn;
  }
  return out;
}

/** `"float32"`, `{class_name: "DTypePolicy", config: {name: "float32"}}` or Keras 2's `{class_name: "Policy", …}` → its name. */
function dtypePolicyName(name: string, className: string, raw: unknown): unknown {
  if (raw === null || raw === undefined) return raw;
  const policy = typeof raw === 'string' ? raw : ((raw as { config?: { name?: unknown } }).config?.name ?? null);
  const policyClass = typeof raw === 'object' ? String((raw as { class_name?: unknown }).class_name ?? '') : '';
  if (typeof policy !== 'string' || policyClass.includes('Quantized') || !FLOAT_POLICIES.has(policy)) {
    throw layerError(
      name,
      className,
      `dtype policy ${JSON.stringify(policy ?? raw)} is not supported (quantized or non-float weights); ` +
        `supported: ${[...FLOAT_POLICIES].join(', ')}`,
    );
  }
  return policy;
}

function functionName(raw: unknown): unknown {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const wrapped = raw as { class_name?: unknown; config?: unknown };
    if (typeof wrapped.config === 'string') return wrapped.config;
    if (typeof wrapped.class_name === 'string') return wrapped.class_name;
  }
  return raw;
}
